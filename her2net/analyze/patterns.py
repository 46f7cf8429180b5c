"""Point-pattern generators with known truth: random monomers plus labelled dimers in a mask.

Used by the tests and the benchmark, and as the reference model of the dimer-fraction estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2net.analyze.null_model import hardcore_points
from her2net.analyze.window import Window

__all__ = ["DimerPattern", "dimer_pattern"]


@dataclass(frozen=True)
class DimerPattern:
    """A simulated label pattern.

    Attributes
    ----------
    points_nm : ndarray, shape (N, 2)
        Label positions (x_nm, y_nm) inside the window.
    in_dimer : ndarray of bool, shape (N,)
        True for labels on a receptor that belongs to a dimer (whether or not its partner is
        labelled or inside the window).
    partner : ndarray of int64, shape (N,)
        Index of the labelled partner inside the window, -1 when there is none.
    receptor_dimer_fraction : float
        True fraction of receptors (labelled or not) in the window that are in dimers.
    """

    points_nm: np.ndarray
    in_dimer: np.ndarray
    partner: np.ndarray
    receptor_dimer_fraction: float

    @property
    def label_dimer_fraction(self) -> float:
        """Fraction of the observed labels whose receptor is in a dimer."""
        return float(self.in_dimer.mean()) if len(self.in_dimer) else 0.0


def dimer_pattern(window: Window, *, n_receptors: int, dimer_fraction: float,
                  spacing_nm: tuple[float, float] = (20.0, 4.0), min_distance_nm: float = 10.0,
                  labeling_efficiency: float = 1.0, spacing_sampler=None,
                  rng: np.random.Generator) -> DimerPattern:
    """Random monomers and dimers in a window, with a hard core between all labels.

    Dimer centres are uniform over the window dilated by the largest spacing, so that dimers are
    cut by the mask edge as on a real membrane; labels outside the window are dropped.

    Parameters
    ----------
    window : Window
    n_receptors : int
        Expected number of receptors whose label would fall inside the window.
    dimer_fraction : float
        Fraction of receptors in dimers (0-1).
    spacing_nm : (float, float)
        Mean and standard deviation of the label-label distance within a dimer, truncated below at
        ``min_distance_nm``.
    min_distance_nm : float
        Hard core between any two labels.
    labeling_efficiency : float
        Probability that a receptor carries a label.
    spacing_sampler : callable, optional
        ``spacing_sampler(rng, n) -> distances_nm`` replacing the truncated normal (to test
        robustness to the spacing distribution).
    rng : numpy.random.Generator

    Returns
    -------
    DimerPattern
    """
    n_pairs = int(round(dimer_fraction * n_receptors / 2))
    n_mono = int(n_receptors - 2 * n_pairs)
    mu, sd = spacing_nm
    if spacing_sampler is None:
        def spacing_sampler(rng, n):
            out = rng.normal(mu, sd, size=n)
            while np.any(bad := out < min_distance_nm):
                out[bad] = rng.normal(mu, sd, size=int(bad.sum()))
            return out

    # Dimers first, sequentially inhibited against each other; then monomers around them.
    from scipy import ndimage

    pad_px = int(np.ceil((mu + 4 * sd) / window.pixel_size_nm)) + 1
    grown = ndimage.distance_transform_edt(~np.pad(window.mask, pad_px)) <= pad_px
    outer = Window(grown, window.pixel_size_nm)
    n_pairs = int(round(n_pairs * outer.area_nm2 / window.area_nm2))
    shift = pad_px * window.pixel_size_nm
    pair_points = np.empty((0, 2, 2))
    for _ in range(1000):
        k = n_pairs - len(pair_points)
        if k <= 0:
            break
        centre = outer.uniform_points(k, rng=rng) - shift
        r = np.asarray(spacing_sampler(rng, k), dtype=float)
        angle = rng.uniform(0, 2 * np.pi, size=k)
        half = 0.5 * r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
        new = np.stack([centre + half, centre - half], axis=1)
        pair_points = _thin_clashing_pairs(np.concatenate([pair_points, new]), min_distance_nm)
    dimer_labels = pair_points.reshape(-1, 2)
    monomers = hardcore_points(window, n_mono, min_distance_nm=min_distance_nm, rng=rng,
                               existing_nm=dimer_labels)
    points = np.concatenate([dimer_labels, monomers])
    in_dimer = np.concatenate([np.ones(len(dimer_labels), bool), np.zeros(len(monomers), bool)])
    pair_id = np.concatenate([np.repeat(np.arange(len(pair_points)), 2), np.full(len(monomers), -1)])
    keep = window.contains(points) & (rng.random(len(points)) < labeling_efficiency)
    # Receptors in the window (labelled or not) define the true fraction.
    inside = window.contains(points)
    receptor_fraction = float(in_dimer[inside].mean()) if inside.any() else 0.0
    points, in_dimer, pair_id = points[keep], in_dimer[keep], pair_id[keep]
    partner = np.full(len(points), -1, dtype=np.int64)
    order = np.flatnonzero(pair_id >= 0)
    for a, b in zip(order[:-1], order[1:]):
        if pair_id[a] == pair_id[b]:
            partner[a], partner[b] = b, a
    perm = rng.permutation(len(points))
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    partner = partner[perm]
    partner[partner >= 0] = inverse[partner[partner >= 0]]
    return DimerPattern(points[perm], in_dimer[perm], partner, receptor_fraction)


def _thin_clashing_pairs(pair_points: np.ndarray, min_distance_nm: float) -> np.ndarray:
    """Remove later dimers whose labels clash with an earlier dimer's (keeps the earliest)."""
    from scipy.spatial import cKDTree

    while True:
        flat = pair_points.reshape(-1, 2)
        owner = np.repeat(np.arange(len(pair_points)), 2)
        pairs = cKDTree(flat).query_pairs(min_distance_nm, output_type="ndarray")
        pairs = pairs[owner[pairs[:, 0]] != owner[pairs[:, 1]]] if len(pairs) else pairs
        if len(pairs) == 0:
            return pair_points
        drop = np.unique(np.maximum(owner[pairs[:, 0]], owner[pairs[:, 1]]))
        pair_points = np.delete(pair_points, drop, axis=0)
