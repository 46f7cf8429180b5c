"""One-to-one matching of detections to truth within a distance tolerance."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree

__all__ = ["match_points"]


def match_points(detected: np.ndarray, truth: np.ndarray, *, tolerance: float):
    """Match detections to truth points one to one, minimising the total distance.

    Only pairs closer than ``tolerance`` can match (Hungarian assignment on the sparse graph of
    such pairs), so the number of matches is maximal and, among maximal matchings, the summed
    distance is minimal.

    Parameters
    ----------
    detected : ndarray, shape (N, 2)
        Detected (x, y).
    truth : ndarray, shape (M, 2)
        True (x, y), in the same units.
    tolerance : float
        Largest distance of a match (same units).

    Returns
    -------
    pairs : ndarray of int, shape (K, 2)
        Index into ``detected`` and into ``truth`` of each match.
    distances : ndarray, shape (K,)
        Distance of each match.

    Examples
    --------
    >>> import numpy as np
    >>> pairs, d = match_points(np.array([[0.0, 0], [5, 5]]), np.array([[0.5, 0]]), tolerance=1)
    >>> pairs.tolist(), d.tolist()
    ([[0, 0]], [0.5])
    """
    detected = np.asarray(detected, dtype=np.float64).reshape(-1, 2)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 2)
    empty = (np.zeros((0, 2), dtype=int), np.zeros(0))
    if len(detected) == 0 or len(truth) == 0:
        return empty
    tree_d, tree_t = cKDTree(detected), cKDTree(truth)
    sparse = tree_d.sparse_distance_matrix(tree_t, tolerance, output_type="coo_matrix")
    if sparse.nnz == 0:
        return empty
    rows, cols, dist = sparse.row, sparse.col, sparse.data
    # Solve each connected component of the candidate graph separately (small problems).
    from scipy.sparse.csgraph import connected_components

    n_d = len(detected)
    graph = coo_matrix((np.ones_like(dist), (rows, cols + n_d)), shape=(n_d + len(truth),) * 2)
    _, comp = connected_components(graph, directed=False)
    order = np.argsort(comp[rows], kind="stable")
    rows, cols, dist = rows[order], cols[order], dist[order]
    bounds = np.flatnonzero(np.diff(comp[rows])) + 1
    out_pairs, out_dist = [], []
    for r, c, d in zip(np.split(rows, bounds), np.split(cols, bounds), np.split(dist, bounds)):
        if len(r) == 1:
            out_pairs.append([[r[0], c[0]]])
            out_dist.append(d)
            continue
        ur, ri = np.unique(r, return_inverse=True)
        uc, ci = np.unique(c, return_inverse=True)
        # Maximise matches first, then minimise distance: cost = dist - big for allowed pairs.
        big = 1e3 * tolerance + 1.0
        cost = np.full((len(ur), len(uc)), big * 2, dtype=np.float64)
        cost[ri, ci] = d - big
        a, b = linear_sum_assignment(cost)
        ok = cost[a, b] < 0
        out_pairs.append(np.column_stack([ur[a[ok]], uc[b[ok]]]))
        out_dist.append(cost[a[ok], b[ok]] + big)
    pairs = np.concatenate([np.asarray(p).reshape(-1, 2) for p in out_pairs]).astype(int)
    distances = np.concatenate(out_dist)
    order = np.argsort(pairs[:, 1], kind="stable")
    return pairs[order], distances[order]
