"""Windows, groups, the hard-core null model and the pairing sums."""

import itertools

import numpy as np
import pytest

from her2net.analyze import Window, close_pairs, hardcore_points, link_groups, monte_carlo_p_value
from her2net.analyze.matching import build_components, log_partition


def test_link_groups_chains_and_singletons():
    points = np.array([[0, 0], [25, 0], [50, 0], [200, 0], [200, 29.9], [400, 400]])
    groups = link_groups(points, dimer_distance_nm=30)
    assert groups.tolist() == [0, 0, 0, 1, 1, 2]
    assert link_groups(np.empty((0, 2)), dimer_distance_nm=30).shape == (0,)


def test_close_pairs_is_strict():
    pairs, dist = close_pairs(np.array([[0.0, 0.0], [30.0, 0.0], [10.0, 0.0]]), 30.0)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 2), (1, 2)]
    assert np.allclose(sorted(dist), [10, 20])


def test_set_covariance_of_a_rectangle_matches_the_formula():
    window = Window(np.ones((40, 60), bool), pixel_size_nm=2.0)
    gamma = window.set_covariance(10.0)
    lag = (gamma.shape[0] - 1) // 2
    for dy, dx in [(0, 0), (3, -2), (-5, 5)]:
        expected = (40 - abs(dy)) * (60 - abs(dx)) * 4.0
        assert gamma[lag + dy, lag + dx] == pytest.approx(expected)


def test_circle_fraction_at_a_corner_is_a_quarter():
    window = Window(np.ones((200, 200), bool), pixel_size_nm=1.0)
    frac = window.circle_fraction_inside(np.array([[0.0, 0.0], [100.0, 100.0]]), np.array([20.0]), n_angles=64)
    assert frac[0, 0] == pytest.approx(0.25, abs=0.03)
    assert frac[1, 0] == 1.0


def test_hardcore_points_respect_mask_count_and_hard_core():
    mask = np.zeros((150, 150), bool)
    mask[10:140, 10:60] = True
    mask[90:140, 10:140] = True  # an L shape
    window = Window(mask, pixel_size_nm=4.0)
    points = hardcore_points(window, 300, min_distance_nm=10.0, rng=np.random.default_rng(0))
    assert points.shape == (300, 2)
    assert window.contains(points).all()
    assert len(close_pairs(points, 10.0)[0]) == 0


def test_hardcore_points_too_crowded_raises():
    window = Window(np.ones((10, 10), bool), pixel_size_nm=1.0)
    with pytest.raises(ValueError, match="min_distance_nm"):
        hardcore_points(window, 50, min_distance_nm=5.0, rng=np.random.default_rng(0), max_rounds=20)


def test_monte_carlo_p_value():
    assert monte_carlo_p_value(10, np.arange(9)) == pytest.approx(0.1)
    assert monte_carlo_p_value(-1, np.arange(9)) == 1.0


def _brute_force(pairs, log_w):
    total = 0.0
    for k in range(len(pairs) + 1):
        for subset in itertools.combinations(range(len(pairs)), k):
            nodes = pairs[list(subset)].ravel()
            if len(set(nodes.tolist())) == len(nodes):
                total += np.exp(log_w[list(subset)].sum())
    return np.log(total)


def test_exact_pairing_sum_matches_brute_force_and_bethe_is_close():
    rng = np.random.default_rng(4)
    points = rng.uniform(0, 120, (10, 2))
    pairs, _ = close_pairs(points, 40.0)
    log_w = rng.normal(-1, 1, len(pairs))
    exact = log_partition(build_components(10, pairs), log_w[:, None])[0]
    assert exact == pytest.approx(_brute_force(pairs, log_w), rel=1e-10)
    bethe = log_partition(build_components(10, pairs, max_matchings=1), log_w[:, None])[0]
    assert bethe == pytest.approx(exact, abs=0.1)
    assert bethe != exact


def test_null_simulations_do_not_depend_on_the_number_of_workers():
    from her2net.analyze.cells import _null_counts

    window = Window(np.ones((100, 100), bool), pixel_size_nm=2.0)
    edges = np.arange(0, 42, 2.0)
    kwargs = dict(simulations=8, min_distance=10.0, r_edges=edges, dimer_distance=30.0, seed=(0, 1, 0))
    one = _null_counts([(40, window)], workers=1, **kwargs)
    two = _null_counts([(40, window)], workers=2, **kwargs)
    assert [c.paired_labels for c in one] == [c.paired_labels for c in two]
    assert np.allclose(np.array([c.numerator for c in one]), np.array([c.numerator for c in two]))
    assert len({c.paired_labels for c in one}) > 1  # the simulations differ from each other
