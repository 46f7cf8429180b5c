"""The random-placement null model: hard-core random points in a mask, conditional on the count.

Points are placed by simple sequential inhibition (random sequential adsorption, spatstat's
``rSSI``): uniform candidates in the mask, each rejected when it falls closer than the hard-core
distance to a point already placed. Candidates are drawn in batches for speed; a batch is accepted
against the points placed before it and then thinned within itself, which gives the same process
up to the order in which points of one batch are considered.
"""

from __future__ import annotations

import numpy as np

from her2net.analyze.window import Window

__all__ = ["hardcore_points", "monte_carlo_p_value"]


def hardcore_points(window: Window, n: int, *, min_distance_nm: float, rng: np.random.Generator,
                    existing_nm: np.ndarray | None = None, max_rounds: int = 200) -> np.ndarray:
    """``n`` random points in ``window`` with no two closer than ``min_distance_nm``.

    Parameters
    ----------
    window : Window
        Where points may fall.
    n : int
        Number of points to place.
    min_distance_nm : float
        Hard-core distance (one label diameter); 0 gives complete spatial randomness.
    rng : numpy.random.Generator
    existing_nm : ndarray, shape (M, 2), optional
        Points already there that the new ones must also keep away from (not returned).
    max_rounds : int
        Give up after this many batches (the mask is too crowded for ``n`` points).

    Returns
    -------
    ndarray, shape (n, 2)
        (x_nm, y_nm).

    Raises
    ------
    ValueError
        If ``n`` points cannot be packed into the window.
    """
    from scipy.spatial import cKDTree

    n = int(n)
    if n <= 0:
        return np.empty((0, 2))
    if min_distance_nm <= 0:
        return window.uniform_points(n, rng=rng)
    fixed = np.empty((0, 2)) if existing_nm is None else np.asarray(existing_nm, float).reshape(-1, 2)
    fixed_tree = cKDTree(fixed) if len(fixed) else None
    merged: list[np.ndarray] = []  # accepted points already in fixed_tree
    pending = np.empty((0, 2))  # accepted points not yet in fixed_tree
    remaining = n
    batch = n
    for _ in range(max_rounds):
        if remaining <= 0:
            break
        candidates = window.uniform_points(max(batch, 16), rng=rng)
        ok = np.ones(len(candidates), dtype=bool)
        for tree in (fixed_tree, cKDTree(pending) if len(pending) else None):
            if tree is not None:
                dist, _ = tree.query(candidates, k=1, distance_upper_bound=min_distance_nm)
                ok &= ~np.isfinite(dist)
        candidates = candidates[ok]
        if len(candidates) > 1:
            pairs = cKDTree(candidates).query_pairs(min_distance_nm, output_type="ndarray")
            if len(pairs):
                keep = np.ones(len(candidates), dtype=bool)
                keep[pairs[:, 1]] = False
                candidates = candidates[keep]
        candidates = candidates[:remaining]
        pending = np.concatenate([pending, candidates])
        remaining -= len(candidates)
        if remaining > 0 and len(pending) > max(256, len(fixed) // 8):
            # Move the accepted points into the fixed tree so that later rounds stay cheap.
            merged.append(pending)
            fixed = np.concatenate([fixed, pending])
            fixed_tree = cKDTree(fixed)
            pending = np.empty((0, 2))
        batch = int(1.3 * remaining) + 8
    if remaining > 0:
        raise ValueError(
            f"min_distance_nm: cannot place {n} labels at least {min_distance_nm:g} nm apart in a "
            f"window of {window.area_um2:.3g} µm²"
        )
    return np.concatenate(merged + [pending])


def monte_carlo_p_value(observed: float, simulated: np.ndarray) -> float:
    """One-sided Monte Carlo p-value of "more than chance": (1 + #{sim >= obs}) / (1 + n_sim)."""
    simulated = np.asarray(simulated, dtype=float)
    return float((1 + np.count_nonzero(simulated >= observed - 1e-12)) / (1 + simulated.size))
