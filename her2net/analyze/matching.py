"""Sums over pairings (monomer-dimer partition functions) of small and large graphs.

For a graph with edge weights ``w_e`` the partition function is ``Z = sum over matchings M of
prod_{e in M} w_e`` (the empty matching counts 1). Vertex weights are folded into the edge weights
by the caller. Small connected components are enumerated exactly; large ones use the Bethe
approximation from belief propagation, which is exact on trees and known to converge for matchings
(Bayati, Shah & Sharma 2008; Chertkov & Yedidia 2013).

All functions work on a grid of parameter values at once: edge weights come as ``(n_edges, G)``
arrays of ``log w`` and results as length-G arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ComponentSet", "build_components", "log_partition"]


@dataclass(frozen=True)
class ComponentSet:
    """Precomputed structure of the close-pair graph, independent of the model parameters.

    Attributes
    ----------
    single_edges : ndarray of int64
        Edges forming a component on their own (two nodes, one edge).
    match_matrix : scipy.sparse.csr_matrix, shape (n_matchings, n_edges)
        One row per non-empty matching of the enumerated components (1 for its edges).
    match_component : ndarray of int64, shape (n_matchings,)
        Index (0..n_enumerated-1) of the component each matching belongs to, sorted.
    n_enumerated : int
        Number of enumerated components with 3 or more nodes.
    bp_edges : ndarray of int64
        Edges of the components too large to enumerate (handled by belief propagation).
    bp_pairs : ndarray of int64, shape (len(bp_edges), 2)
        Their end nodes renumbered 0..n_bp_nodes-1.
    n_bp_nodes : int
    n_bp_components : int
    """

    single_edges: np.ndarray
    match_matrix: object
    match_component: np.ndarray
    n_enumerated: int
    bp_edges: np.ndarray
    bp_pairs: np.ndarray
    n_bp_nodes: int
    n_bp_components: int


def build_components(n_nodes: int, pairs: np.ndarray, *, max_matchings: int = 256,
                     max_nodes: int = 24) -> ComponentSet:
    """Split the graph into connected components and enumerate the matchings of the small ones.

    Parameters
    ----------
    n_nodes : int
    pairs : ndarray of int, shape (n_edges, 2)
        Edge end nodes.
    max_matchings : int
        Components with more non-empty matchings than this go to belief propagation.
    max_nodes : int
        Components with more nodes than this go to belief propagation without trying.
    """
    from scipy.sparse import coo_matrix, csr_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n_edges = len(pairs)
    graph = coo_matrix((np.ones(n_edges), (pairs[:, 0], pairs[:, 1])), shape=(n_nodes, n_nodes))
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[pairs[:, 0]] if n_edges else np.empty(0, dtype=np.int64)
    edges_per_comp = np.bincount(edge_comp, minlength=comp.max() + 1 if n_nodes else 0)
    single = np.flatnonzero(edges_per_comp[edge_comp] == 1) if n_edges else np.empty(0, np.int64)

    order = np.argsort(edge_comp, kind="stable")
    multi_comps = np.flatnonzero(edges_per_comp >= 2)
    starts = np.searchsorted(edge_comp[order], multi_comps)
    rows: list[np.ndarray] = []
    row_comp: list[int] = []
    bp_edge_list: list[np.ndarray] = []
    n_enum = 0
    for c, start in zip(multi_comps, starts):
        edges = order[start:start + edges_per_comp[c]]
        n_comp_nodes = len(np.unique(pairs[edges]))
        found = _enumerate(pairs[edges], max_matchings) if n_comp_nodes <= max_nodes else None
        if found is None:
            bp_edge_list.append(edges)
            continue
        for matching in found:
            rows.append(edges[matching])
            row_comp.append(n_enum)
        n_enum += 1
    if rows:
        lengths = np.array([len(r) for r in rows])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        match_matrix = csr_matrix((np.ones(indptr[-1]), np.concatenate(rows), indptr),
                                  shape=(len(rows), n_edges))
    else:
        match_matrix = csr_matrix((0, n_edges))
    bp_edges = np.concatenate(bp_edge_list) if bp_edge_list else np.empty(0, dtype=np.int64)
    bp_nodes, bp_pairs = np.unique(pairs[bp_edges], return_inverse=True)
    return ComponentSet(
        single_edges=single,
        match_matrix=match_matrix,
        match_component=np.asarray(row_comp, dtype=np.int64),
        n_enumerated=n_enum,
        bp_edges=bp_edges,
        bp_pairs=bp_pairs.reshape(-1, 2).astype(np.int64),
        n_bp_nodes=len(bp_nodes),
        n_bp_components=len(bp_edge_list),
    )


def _enumerate(edge_pairs: np.ndarray, limit: int) -> list[list[int]] | None:
    """All non-empty matchings of a small graph as lists of local edge indices; None past limit."""
    nodes = np.unique(edge_pairs)
    local = np.searchsorted(nodes, edge_pairs)
    incident: list[list[tuple[int, int]]] = [[] for _ in nodes]
    for e, (a, b) in enumerate(local):
        lo, hi = (a, b) if a < b else (b, a)
        incident[lo].append((e, hi))
    out: list[list[int]] = []
    n = len(nodes)
    used = [False] * n
    chosen: list[int] = []

    def walk(v: int) -> bool:
        while v < n and used[v]:
            v += 1
        if v >= n:
            if chosen:
                out.append(list(chosen))
                if len(out) > limit:
                    return False
            return True
        if not walk(v + 1):  # v stays unmatched
            return False
        used[v] = True
        for e, u in incident[v]:
            if not used[u]:
                used[u] = True
                chosen.append(e)
                ok = walk(v + 1)
                chosen.pop()
                used[u] = False
                if not ok:
                    return False
        used[v] = False
        return True

    return out if walk(0) else None


def log_partition(components: ComponentSet, log_w: np.ndarray, *, bp_iterations: int = 400,
                  bp_tolerance: float = 1e-6) -> np.ndarray:
    """Sum over components of log Z, for every column of ``log_w``.

    Parameters
    ----------
    components : ComponentSet
    log_w : ndarray, shape (n_edges, G)
        Log edge weights (vertex weights already folded in).

    Returns
    -------
    ndarray, shape (G,)
    """
    log_w = np.asarray(log_w, dtype=float)
    total = np.zeros(log_w.shape[1])
    if len(components.single_edges):
        total += np.logaddexp(0.0, log_w[components.single_edges]).sum(axis=0)
    if components.n_enumerated:
        terms = components.match_matrix @ log_w  # (n_matchings, G)
        comp = components.match_component
        starts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
        peak = np.maximum(np.maximum.reduceat(terms, starts, axis=0), 0.0)
        shifted = np.exp(terms - np.repeat(peak, np.diff(np.r_[starts, len(comp)]), axis=0))
        sums = np.add.reduceat(shifted, starts, axis=0) + np.exp(-peak)
        total += (peak + np.log(sums)).sum(axis=0)
    if len(components.bp_edges):
        total += _bethe_log_partition(components.bp_pairs, components.n_bp_nodes,
                                      log_w[components.bp_edges], bp_iterations, bp_tolerance)
    return total


def _bethe_log_partition(pairs: np.ndarray, n_nodes: int, log_w: np.ndarray, iterations: int,
                         tolerance: float) -> np.ndarray:
    """Bethe approximation of log Z for matchings with vertex weight 1, by belief propagation.

    Messages ``m[i->j] = 1 / (1 + sum_{k in N(i), k != j} w_ik m[k->i])``;
    ``log Z = sum_i log(1 + sum_k w_ik m[k->i]) - sum_e log(1 + w_e m[a->b] m[b->a])``.
    """
    from scipy.sparse import csr_matrix

    n_edges = len(pairs)
    w = np.exp(np.minimum(log_w, 700.0))
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])  # directed edge d: src -> dst
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    rev = np.concatenate([np.arange(n_edges, 2 * n_edges), np.arange(n_edges)])
    wd = np.concatenate([w, w])
    into = csr_matrix((np.ones(2 * n_edges), (dst, np.arange(2 * n_edges))), shape=(n_nodes, 2 * n_edges))
    msg = np.ones_like(wd)
    active = np.arange(wd.shape[1])  # columns (parameter values) still converging
    w_a, m_a = wd, msg.copy()
    w_rev = w_a[rev]
    for _ in range(iterations):
        incoming = into @ (w_a * m_a)  # (n_nodes, A): sum over k of w_ki m[k->i]
        new = 1.0 / (1.0 + incoming[src] - w_rev * m_a[rev])
        new *= 0.7
        new += 0.3 * m_a
        delta = np.max(np.abs(new - m_a), axis=0)
        m_a = new
        done = delta < tolerance
        if done.any():
            msg[:, active[done]] = m_a[:, done]
            keep = ~done
            active, w_a, m_a, w_rev = active[keep], w_a[:, keep], m_a[:, keep], w_rev[:, keep]
            if active.size == 0:
                break
    if active.size:
        msg[:, active] = m_a
    incoming = into @ (wd * msg)
    node_term = np.log1p(incoming).sum(axis=0)
    edge_term = np.log1p(w * msg[:n_edges] * msg[n_edges:]).sum(axis=0)
    return node_term - edge_term
