"""Receptor and label placement inside a region map (0 = outside, 1 = flat membrane, 2 = ruffles).

Receptor complexes (monomers, dimers, clusters) are placed by random sequential addition with a
hard core (labels never overlap), in vectorised rounds: every pending complex gets a candidate
position, conflicts with accepted labels and between candidates are found with k-d trees, the
non-conflicting complexes are accepted, and the rest try again. Every label of a complex lies in
the region its complex was drawn for, so per-region label counts are exactly the Poisson draws.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from her2net.simulate.labels import LabelSpec, draw_label_shapes

__all__ = ["RegionMap", "ComplexSpec", "place_labels", "region_at"]

log = logging.getLogger(__name__)

KIND_MONOMER, KIND_DIMER, KIND_CLUSTER = 0, 1, 2
KIND_NAMES = np.array(["monomer", "dimer", "cluster"])


@dataclass(frozen=True)
class RegionMap:
    """A raster of region codes.

    ``codes[i, j]`` covers x in ``[x0_nm + j*cell_nm, x0_nm + (j+1)*cell_nm)`` and y likewise.
    """

    codes: np.ndarray
    cell_nm: float
    x0_nm: float = 0.0
    y0_nm: float = 0.0

    def area_um2(self, region: int) -> float:
        """Area of one region in µm²."""
        return float(np.count_nonzero(self.codes == region)) * self.cell_nm**2 * 1e-6


@dataclass(frozen=True)
class ComplexSpec:
    """How receptors associate in one region.

    Parameters
    ----------
    density_per_um2 : float
        Expected labelled receptors (labels) per µm².
    dimer_fraction : float
        Expected fraction of labels that sit in dimers.
    cluster_fraction : float
        Expected fraction of labels that sit in clusters of 3 or more.
    dimer_distance_nm : (float, float)
        Mean and standard deviation of the centre-to-centre distance of the two labels of a dimer
        (normal, truncated below at the hard core).
    close_pair_fraction : float
        Fraction of dimers whose distance is instead drawn uniformly between 1.15 and 1.5 times
        the pair's hard-core distance (touching pairs, which detectors tend to merge).
    cluster_size : (int, int)
        Inclusive range of the number of labels per cluster.
    cluster_spacing_nm : (float, float)
        Mean and standard deviation of the spacing between neighbouring labels of a cluster.
    """

    density_per_um2: float
    dimer_fraction: float = 0.0
    cluster_fraction: float = 0.0
    dimer_distance_nm: tuple = (20.0, 4.0)
    close_pair_fraction: float = 0.0
    cluster_size: tuple = (3, 6)
    cluster_spacing_nm: tuple = (25.0, 6.0)


def region_at(regions: RegionMap, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
    """Region code at each position (0 outside the raster)."""
    j = np.floor((np.asarray(x_nm) - regions.x0_nm) / regions.cell_nm).astype(np.int64)
    i = np.floor((np.asarray(y_nm) - regions.y0_nm) / regions.cell_nm).astype(np.int64)
    h, w = regions.codes.shape
    inside = (i >= 0) & (i < h) & (j >= 0) & (j < w)
    out = np.zeros(np.shape(x_nm), dtype=regions.codes.dtype)
    out[inside] = regions.codes[i[inside], j[inside]]
    return out


def _cluster_templates(rng, sizes, spacing, exclusion):
    """Offsets of cluster members: a branching random walk, no two members overlapping."""
    members = []
    for m in sizes:
        for _ in range(50):
            pts = np.zeros((m, 2))
            parents = rng.integers(0, np.arange(1, m).clip(1), m - 1) if m > 1 else []
            d = np.maximum(rng.normal(spacing[0], spacing[1], m - 1), exclusion * 1.05)
            th = rng.uniform(0, 2 * np.pi, m - 1)
            for i in range(1, m):
                pts[i] = pts[parents[i - 1]] + d[i - 1] * np.array([np.cos(th[i - 1]), np.sin(th[i - 1])])
            if m < 2 or cKDTree(pts).query_pairs(exclusion, output_type="ndarray").size == 0:
                break
        members.append(pts)
    return members


def _draw_complexes(rng, n_labels, cspec: ComplexSpec, exclusion_max):
    """Split ``n_labels`` into complexes; return (kinds, list of member offset arrays)."""
    n_cluster_labels = rng.binomial(n_labels, cspec.cluster_fraction) if cspec.cluster_fraction > 0 else 0
    lo, hi = cspec.cluster_size
    sizes = []
    while sum(sizes) < n_cluster_labels and n_cluster_labels - sum(sizes) >= lo:
        sizes.append(int(min(rng.integers(lo, hi + 1), n_cluster_labels - sum(sizes))))
    n_cluster_labels = sum(sizes)
    rest = n_labels - n_cluster_labels
    frac = cspec.dimer_fraction * n_labels / rest if rest else 0.0
    n_pairs = rng.binomial(rest // 2, min(frac, 1.0)) if rest >= 2 and frac > 0 else 0
    n_mono = rest - 2 * n_pairs
    kinds = np.concatenate([
        np.full(n_mono, KIND_MONOMER), np.full(n_pairs, KIND_DIMER), np.full(len(sizes), KIND_CLUSTER)
    ]).astype(np.int8)
    templates = _cluster_templates(rng, sizes, cspec.cluster_spacing_nm, exclusion_max)
    return kinds, n_pairs, templates


def _dimer_distances(rng, n, cspec: ComplexSpec, hard_core):
    """Dimer distances: truncated normal above ``hard_core`` (array), some close pairs."""
    mu, sd = cspec.dimer_distance_nm
    d = rng.normal(mu, sd, n)
    bad = d < hard_core
    for _ in range(20):
        if not bad.any():
            break
        d[bad] = rng.normal(mu, sd, int(bad.sum()))
        bad = d < hard_core
    d[bad] = hard_core[bad] * rng.uniform(1.02, 1.2, int(bad.sum()))
    close = rng.random(n) < cspec.close_pair_fraction
    d[close] = hard_core[close] * rng.uniform(1.15 / 1.02, 1.5 / 1.02, int(close.sum()))
    return d


def place_labels(
    rng: np.random.Generator,
    regions: RegionMap,
    complexes: dict,
    label_spec: LabelSpec,
    *,
    counts: dict | None = None,
    max_rounds: int = 60,
    hard_core_factor: float = 1.02,
) -> dict:
    """Place labelled receptor complexes in the regions of ``regions``.

    Parameters
    ----------
    rng : numpy.random.Generator
    regions : RegionMap
    complexes : dict of int -> ComplexSpec
        One entry per region code to populate (e.g. ``{1: flat, 2: ruffles}``).
    label_spec : LabelSpec
        The labels' types and sizes.
    counts : dict of int -> int, optional
        Exact number of labels per region; by default Poisson(density * area).
    max_rounds : int
        Placement rounds before complexes that still do not fit are dropped (logged).
    hard_core_factor : float
        Minimum centre distance as a multiple of the mean exclusion diameter of the two labels.

    Returns
    -------
    dict of numpy.ndarray
        Per label: ``x_nm``, ``y_nm``, ``group`` (complex id), ``kind`` (str), ``region``, and the
        shape columns of :func:`~her2net.simulate.labels.draw_label_shapes`.
    """
    xs, ys, groups, kinds_out, regs, shapes = [], [], [], [], [], []
    acc_xy = np.zeros((0, 2))
    acc_ex = np.zeros(0)
    group_base = 0
    for region, cspec in sorted(complexes.items()):
        cells = np.flatnonzero(regions.codes == region)
        if cells.size == 0:
            continue
        area = cells.size * regions.cell_nm**2 * 1e-6
        n = counts[region] if counts is not None and region in counts else rng.poisson(cspec.density_per_um2 * area)
        if n <= 0:
            continue
        shape = draw_label_shapes(rng, int(n), label_spec)
        ex = shape["exclusion_nm"]
        kinds, n_pairs, templates = _draw_complexes(rng, int(n), cspec, float(ex.max()))
        n_cx = kinds.size
        # Member offsets of every complex, flattened: (complex index, dx, dy).
        n_mono = int((kinds == KIND_MONOMER).sum())
        sizes = np.concatenate([np.ones(n_mono, int), np.full(n_pairs, 2), [len(t) for t in templates]]).astype(int)
        owner = np.repeat(np.arange(n_cx), sizes)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        offsets = np.zeros((owner.size, 2))
        if n_pairs:
            i1 = first[n_mono:n_mono + n_pairs]
            hc = hard_core_factor * (ex[i1] + ex[i1 + 1]) / 2
            d = _dimer_distances(rng, n_pairs, cspec, hc)
            th = rng.uniform(0, 2 * np.pi, n_pairs)
            offsets[i1 + 1, 0] = d * np.cos(th)
            offsets[i1 + 1, 1] = d * np.sin(th)
        if templates:
            offsets[first[n_mono + n_pairs]:] = np.concatenate(templates)
        pending = np.ones(n_cx, dtype=bool)
        anchor = np.zeros((n_cx, 2))
        h, w = regions.codes.shape
        for _ in range(max_rounds):
            todo = np.flatnonzero(pending)
            if todo.size == 0:
                break
            cell = cells[rng.integers(0, cells.size, todo.size)]
            anchor[todo, 0] = regions.x0_nm + (cell % w + rng.random(todo.size)) * regions.cell_nm
            anchor[todo, 1] = regions.y0_nm + (cell // w + rng.random(todo.size)) * regions.cell_nm
            mem = np.flatnonzero(pending[owner])
            pos = anchor[owner[mem]] + offsets[mem]
            bad = np.zeros(n_cx, dtype=bool)
            out = region_at(regions, pos[:, 0], pos[:, 1]) != region
            bad[owner[mem][out]] = True
            reach = hard_core_factor * float(max(ex.max(), acc_ex.max() if acc_ex.size else 0.0))
            if acc_xy.shape[0]:
                sdm = cKDTree(pos).sparse_distance_matrix(cKDTree(acc_xy), reach, output_type="ndarray")
                if sdm.size:
                    lim = hard_core_factor * (ex[mem[sdm["i"]]] + acc_ex[sdm["j"]]) / 2
                    hit = sdm["v"] < lim
                    bad[owner[mem[sdm["i"][hit]]]] = True
            pairs = cKDTree(pos).query_pairs(reach, output_type="ndarray")
            if pairs.size:
                oi, oj = owner[mem[pairs[:, 0]]], owner[mem[pairs[:, 1]]]
                dist = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
                lim = hard_core_factor * (ex[mem[pairs[:, 0]]] + ex[mem[pairs[:, 1]]]) / 2
                hit = (dist < lim) & (oi != oj)
                # The later complex of a conflicting pair tries again.
                bad[np.maximum(oi[hit], oj[hit])] = True
            ok_cx = np.zeros(n_cx, dtype=bool)
            ok_cx[todo] = ~bad[todo]
            newly = np.flatnonzero(ok_cx[owner])
            if newly.size:
                new_pos = anchor[owner[newly]] + offsets[newly]
                acc_xy = np.vstack([acc_xy, new_pos])
                acc_ex = np.concatenate([acc_ex, ex[newly]])
            pending &= ~ok_cx
        placed = ~pending[owner]
        if pending.any():
            log.debug("region %d: %d of %d complexes did not fit and were dropped", region,
                      int(pending.sum()), n_cx)
        idx = np.flatnonzero(placed)
        pos = anchor[owner[idx]] + offsets[idx]
        xs.append(pos[:, 0])
        ys.append(pos[:, 1])
        groups.append(group_base + owner[idx])
        kinds_out.append(kinds[owner[idx]])
        regs.append(np.full(idx.size, region, dtype=np.int8))
        shapes.append({k: v[idx] for k, v in shape.items()})
        group_base += n_cx
    if not xs:
        empty = draw_label_shapes(rng, 0, label_spec)
        return {"x_nm": np.zeros(0), "y_nm": np.zeros(0), "group": np.zeros(0, np.int64),
                "kind": np.zeros(0, dtype="<U7"), "region": np.zeros(0, np.int8), **empty}
    result = {
        "x_nm": np.concatenate(xs),
        "y_nm": np.concatenate(ys),
        "group": np.concatenate(groups).astype(np.int64),
        "kind": KIND_NAMES[np.concatenate(kinds_out)],
        "region": np.concatenate(regs),
    }
    for key in shapes[0]:
        result[key] = np.concatenate([s[key] for s in shapes])
    return result
