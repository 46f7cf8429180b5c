"""g(r), L(r) - r with translation edge correction, and global rank envelopes."""

import numpy as np
import pytest

from her2net.analyze import Window, curves_from_counts, hardcore_points, pair_counts, rank_envelope


def _l_mask():
    mask = np.zeros((300, 300), bool)
    mask[:, :100] = True
    mask[200:, :] = True
    return mask


def test_pair_correlation_of_random_points_in_an_l_shaped_mask_is_unbiased():
    window = Window(_l_mask(), pixel_size_nm=2.0)
    edges = np.arange(0, 82, 4.0)
    rng = np.random.default_rng(1)
    total = None
    for _ in range(6):
        points = hardcore_points(window, 600, min_distance_nm=0.0, rng=rng)
        counts = pair_counts(points, window, r_edges_nm=edges, dimer_distance_nm=30)
        total = counts if total is None else total + counts
    g, l_minus_r = curves_from_counts(total, edges)
    # Without edge correction g would fall well below 1 at large r in this narrow mask.
    assert np.mean(g[5:]) == pytest.approx(1.0, abs=0.05)
    assert np.abs(l_minus_r[5:]).max() < 3.0


def test_rank_envelope_flags_an_extreme_curve_and_not_a_typical_one():
    rng = np.random.default_rng(2)
    sims = rng.normal(0, 1, (99, 30))
    typical = np.median(sims, axis=0) + 0.1 * rng.normal(0, 1, 30)
    extreme = typical.copy()
    extreme[3:8] = 10.0  # an excess over a range of r, like dimers in g(r)
    assert rank_envelope(extreme, sims).p_value <= 0.02
    env = rank_envelope(typical, sims)
    assert env.p_value > 0.05
    assert np.all(env.low <= env.high)
    assert np.all((typical >= env.low) & (typical <= env.high))
