"""Pair correlation g(r), Besag's L(r) - r with translation edge correction, global rank envelopes.

The translation correction weights each pair by |W| / γ_W(x_i - x_j), γ_W the set covariance of
the mask (Ohser 1983; spatstat ``Kest(correction="translate")``). Curves are accumulated as
numerator / denominator so that images of a cell, and cells of a call, pool by summing:

    K(r) = Σ_images 2|W|² Σ_{pairs, d <= r} 1/γ_W(Δ) / Σ_images n(n - 1)

Global envelopes use the extreme rank length ordering (Myllymäki, Mrkvička, Grabarnik, Seijo &
Hahn, JRSS B 2017): unlike pointwise envelopes, they give a valid test over the whole r range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2net.analyze.window import Window

__all__ = ["PairCounts", "pair_counts", "curves_from_counts", "rank_envelope", "Envelope"]


@dataclass(frozen=True)
class PairCounts:
    """Edge-corrected pair counts of one or more patterns, poolable by addition.

    Attributes
    ----------
    numerator : ndarray, shape (n_bins,)
        Σ 2|W|² / γ_W(Δ) over unordered pairs, per distance bin.
    denominator : float
        Σ n (n - 1).
    paired_labels : int
        Labels with a neighbour closer than the dimer distance.
    n_labels : int
    """

    numerator: np.ndarray
    denominator: float
    paired_labels: int
    n_labels: int

    def __add__(self, other: "PairCounts") -> "PairCounts":
        return PairCounts(self.numerator + other.numerator, self.denominator + other.denominator,
                          self.paired_labels + other.paired_labels, self.n_labels + other.n_labels)

    @property
    def paired_fraction(self) -> float:
        return self.paired_labels / self.n_labels if self.n_labels else float("nan")


def pair_counts(points_nm: np.ndarray, window: Window, *, r_edges_nm: np.ndarray,
                dimer_distance_nm: float) -> PairCounts:
    """Edge-corrected pair counts of one image's labels in its window.

    Parameters
    ----------
    points_nm : ndarray, shape (N, 2)
    window : Window
    r_edges_nm : ndarray
        Distance bin edges, starting at 0.
    dimer_distance_nm : float
        Linking distance for the paired-label count.
    """
    from scipy.spatial import cKDTree

    points_nm = np.asarray(points_nm, dtype=float).reshape(-1, 2)
    r_edges_nm = np.asarray(r_edges_nm, dtype=float)
    n = len(points_nm)
    r_max = max(float(r_edges_nm[-1]), dimer_distance_nm)
    numerator = np.zeros(len(r_edges_nm) - 1)
    paired = 0
    if n < 2:
        return PairCounts(numerator, 0.0, 0, n)
    pairs = cKDTree(points_nm).query_pairs(r_max, output_type="ndarray")
    if len(pairs):
        delta = points_nm[pairs[:, 0]] - points_nm[pairs[:, 1]]
        dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
        close = pairs[dist < dimer_distance_nm]
        if len(close):
            flag = np.zeros(n, dtype=bool)
            flag[close.ravel()] = True
            paired = int(flag.sum())
        in_range = dist < r_edges_nm[-1]
        delta, dist = delta[in_range], dist[in_range]
        gamma = window.covariance_at(delta, float(r_edges_nm[-1]))
        weight = np.where(gamma > 0, 2 * window.area_nm2**2 / np.maximum(gamma, 1e-300), 0.0)
        steps = np.diff(r_edges_nm)
        if np.allclose(steps, steps[0]) and r_edges_nm[0] == 0:
            bins = np.minimum((dist / steps[0]).astype(np.int64), len(numerator) - 1)
        else:
            bins = np.searchsorted(r_edges_nm, dist, side="right") - 1
        numerator = np.bincount(bins, weights=weight, minlength=len(numerator))[: len(numerator)]
    return PairCounts(numerator, float(n * (n - 1)), paired, n)


def curves_from_counts(counts: PairCounts, r_edges_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g(r) at bin centres and L(r) - r at the upper bin edges from pooled pair counts."""
    r_edges_nm = np.asarray(r_edges_nm, dtype=float)
    if counts.denominator <= 0:
        nan = np.full(len(r_edges_nm) - 1, np.nan)
        return nan, nan.copy()
    ring = np.pi * np.diff(r_edges_nm**2)
    g = counts.numerator / counts.denominator / ring
    k = np.cumsum(counts.numerator) / counts.denominator
    l_minus_r = np.sqrt(k / np.pi) - r_edges_nm[1:]
    return g, l_minus_r


@dataclass(frozen=True)
class Envelope:
    """A global rank envelope.

    Attributes
    ----------
    low, high : ndarray
        Envelope bounds per r.
    p_value : float
        Global extreme-rank-length test of the observed curve (two-sided).
    """

    low: np.ndarray
    high: np.ndarray
    p_value: float


def rank_envelope(observed: np.ndarray, simulated: np.ndarray, *, alpha: float = 0.05) -> Envelope:
    """Global extreme-rank-length envelope and test (Myllymäki et al. 2017).

    Parameters
    ----------
    observed : ndarray, shape (R,)
    simulated : ndarray, shape (S, R)
        Curves of the simulations of the null model.
    alpha : float
        The envelope is the 100(1 - alpha)% global envelope.

    Returns
    -------
    Envelope
    """
    from scipy.stats import rankdata

    curves = np.vstack([np.asarray(observed, float)[None, :], np.asarray(simulated, float)])
    curves = np.where(np.isfinite(curves), curves, 0.0)
    n = len(curves)
    low_rank = rankdata(curves, axis=0, method="max")
    high_rank = rankdata(-curves, axis=0, method="max")
    pointwise = np.minimum(low_rank, high_rank)
    ordered = np.sort(pointwise, axis=1)  # ascending: small ranks = extreme
    # Lexicographic order of the sorted rank vectors: np.unique sorts rows lexicographically.
    _, inverse = np.unique(ordered, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    # Number of curves as extreme as or more extreme than each curve.
    as_extreme = np.array([np.count_nonzero(inverse <= v) for v in inverse])
    p_value = as_extreme[0] / n
    # Keep every curve except the alpha*n most extreme ones.
    drop = int(np.floor(alpha * n))
    order = np.argsort(inverse, kind="stable")
    keep = np.sort(order[drop:]) if drop < n else order
    # Ties at the cut-off stay in (conservative envelope).
    if drop and drop < n:
        cutoff = inverse[order[drop]]
        keep = np.flatnonzero(inverse >= cutoff)
    return Envelope(curves[keep].min(axis=0), curves[keep].max(axis=0), float(p_value))
