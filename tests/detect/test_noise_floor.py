"""The noise-limited threshold: lowered only where the background is white noise."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from her2net.detect.api import detect_image
from her2net.detect.noise_floor import (WHITE_NOISE_MAX_INDEX, noise_limited_threshold,
                                        white_noise_index)
from her2net.evaluate.matching import match_points
from her2net.simulate import simulate_tile


def _spots_in_poisson(rng, size_px, pixel_size_nm, *, diameter_nm, counts, contrast=0.5,
                      density_per_um2=400.0):
    """Bright Gaussian spots (FWHM 0.8 diameters) on a flat mean, Poisson counts; and the truth."""
    n = rng.poisson(density_per_um2 * (size_px * pixel_size_nm / 1000) ** 2)
    points = rng.uniform(6, size_px - 6, (n, 2))
    sigma = 0.8 * diameter_nm / pixel_size_nm / 2.3548
    yy, xx = np.mgrid[:size_px, :size_px].astype(float)
    spots = np.zeros((size_px, size_px))
    for x, y in points:
        spots += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return rng.poisson(counts * (1 + contrast * spots)).astype(np.float32), points


def _f1(table, truth_px, pixel_size_nm):
    pairs, _ = match_points(table[["x_nm", "y_nm"]].to_numpy(), truth_px * pixel_size_nm,
                            tolerance=4.0)
    return 2 * len(pairs) / (len(table) + len(truth_px))


@pytest.mark.parametrize("pixel_size_nm", [0.5, 1.0, 3.0])
def test_white_noise_index_is_one_for_white_noise(rng, pixel_size_nm):
    for field in (rng.poisson(3.0, (400, 400)), rng.poisson(200.0, (400, 400)),
                  rng.normal(0.0, 1.0, (400, 400))):
        assert 0.85 < white_noise_index(field, pixel_size_nm) < 1.15


def test_faint_labels_on_a_smooth_background_count_as_white_noise(rng):
    image, points = _spots_in_poisson(rng, 256, 1.5, diameter_nm=10.0, counts=12.0)
    assert len(points) > 20
    assert white_noise_index(image, 1.5) < WHITE_NOISE_MAX_INDEX


def test_white_noise_index_grows_with_clutter_and_correlated_noise(rng):
    blurred = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (400, 400)), 1.0)
    assert white_noise_index(blurred, 1.0) > WHITE_NOISE_MAX_INDEX
    replica, _, _ = simulate_tile(np.random.default_rng(3), 320, 1.2, polarity="dark",
                                  specimen="replica", label="gold", matched_snr=30.0)
    assert white_noise_index(replica, 1.2) > 2.0
    assert np.isnan(white_noise_index(rng.normal(size=(40, 40)), 0.5))  # too small to tell


def test_noise_limited_threshold_is_the_lowest_that_bounds_the_noise():
    table = dict(thresholds=[0.2, 0.3], noise_peak_rate_per_um2=[100.0, 10.0], area_um2=0.1)
    # 60 peaks >= 0.2; 10 expected from noise, counted as 10 + sqrt(10) = 13.2 <= 60 / 4.
    assert noise_limited_threshold([0.9] * 40 + [0.22] * 20, **table) == 0.2
    # 28 peaks >= 0.2 (13.2 from noise: too many); 8 >= 0.3, 1 + 1 from noise: 8 / 4 = 2.
    assert noise_limited_threshold([0.9] * 8 + [0.22] * 20, **table) == 0.3
    assert noise_limited_threshold([0.9] * 5, **table) is None
    assert noise_limited_threshold([], **table) is None


def test_few_detections_are_not_lowered_on_the_expected_noise_alone():
    table = dict(thresholds=[0.2, 0.3], noise_peak_rate_per_um2=[100.0, 10.0], area_um2=0.01)
    scores = [0.9] * 3 + [0.22] * 2  # 1 noise peak expected >= 0.2, 5 detections
    assert noise_limited_threshold(scores, noise_sigmas=0.0, **table) == 0.2
    assert noise_limited_threshold(scores, **table) == 0.3


def test_faint_clean_images_are_detected_with_a_lowered_threshold(shipped_model):
    assert shipped_model.noise_peak_rate is not None
    rng = np.random.default_rng(5)
    pixel_size_nm = 3.0  # 12-nm labels at 3 nm/px, 12 counts: barely above the noise
    f1_auto, f1_calibrated, n_truth = [], [], 0
    for _ in range(2):
        image, points = _spots_in_poisson(rng, 256, pixel_size_nm, diameter_nm=12.0, counts=12.0)
        n_truth += len(points)
        auto, info = detect_image(image, pixel_size_nm=pixel_size_nm, model=shipped_model,
                                  polarity="bright")
        assert info["threshold_rule"] == "noise-limited"
        assert info["threshold"] < shipped_model.threshold
        assert info["white_noise_index"] < WHITE_NOISE_MAX_INDEX
        fixed, fixed_info = detect_image(image, pixel_size_nm=pixel_size_nm, model=shipped_model,
                                         polarity="bright", threshold=shipped_model.threshold)
        assert fixed_info["threshold_rule"] == "given"
        assert len(auto) > len(fixed)
        f1_auto.append(_f1(auto, points, pixel_size_nm))
        f1_calibrated.append(_f1(fixed, points, pixel_size_nm))
    assert n_truth > 40
    assert np.mean(f1_auto) > np.mean(f1_calibrated) + 0.05, (f1_auto, f1_calibrated)


def test_cluttered_images_keep_the_calibrated_threshold(shipped_model):
    image, _, _ = simulate_tile(np.random.default_rng(3), 320, 1.2, polarity="dark",
                                specimen="replica", label="gold", matched_snr=30.0)
    _, info = detect_image(image, pixel_size_nm=1.2, model=shipped_model, polarity="dark",
                           refine=False)
    assert white_noise_index(image, 1.2) > WHITE_NOISE_MAX_INDEX
    assert info["threshold_rule"] in ("calibrated", "raised")
    # Without refinement (which uses it too) the index is measured only where the threshold was
    # not raised (it may be lowered there).
    assert ("white_noise_index" in info) == (info["threshold_rule"] == "calibrated")
    assert info["threshold"] >= shipped_model.threshold


def test_without_a_noise_peak_rate_the_threshold_is_never_lowered(shipped_model, rng):
    model = dataclasses.replace(shipped_model, noise_peak_rate=None)
    image, _ = _spots_in_poisson(rng, 128, 3.0, diameter_nm=12.0, counts=12.0)
    _, info = detect_image(image, pixel_size_nm=3.0, model=model, polarity="bright", refine=False)
    assert info["threshold_rule"] == "calibrated"
    assert info["threshold"] == shipped_model.threshold
    assert "white_noise_index" not in info  # nothing needs it: no null, no refinement


def test_auto_threshold_raises_lowers_or_keeps():
    from her2net.detect.postprocess import auto_threshold

    null = {"thresholds": [0.2, 0.3], "rate_per_um2": [100.0, 10.0]}
    bright = [0.95] * 40 + [0.22] * 20
    faint = [0.45] * 40 + [0.22] * 20
    options = dict(threshold=0.325, relative_threshold=0.5, area_um2=0.1, noise_peak_rate=null)
    # Labels scoring high: raised to 0.5 x 0.95, whatever the background.
    assert auto_threshold(bright, white_index=1.0, **options) == (pytest.approx(0.475), "raised")
    # Faint labels on white noise: lowered to the table's 0.2 (the relative level 0.225 is higher).
    assert auto_threshold(faint, white_index=1.0, **options) == (pytest.approx(0.225),
                                                                 "noise-limited")
    # The same scores among clutter, or with the index unknown, or without a null: calibrated.
    for white_index, rate in ((3.0, null), (float("nan"), null), (1.0, None)):
        options["noise_peak_rate"] = rate
        assert auto_threshold(faint, white_index=white_index, **options) == (0.325, "calibrated")


def test_sparse_labels_among_clutter_get_the_sparse_threshold():
    from her2net.detect.postprocess import auto_threshold

    rule = {"threshold": 0.5, "below_per_um2": 100.0, "confident_score": 0.6}
    # A replica with 20 gold scoring 0.65-0.9 and 400 particles scoring 0.15-0.55 in 1 um^2.
    rng = np.random.default_rng(0)
    sparse = np.concatenate([rng.uniform(0.65, 0.9, 20), rng.uniform(0.15, 0.55, 400)])
    options = dict(threshold=0.325, relative_threshold=0.45, white_index=5.0, area_um2=1.0)
    assert auto_threshold(sparse, **options) == (0.325, "calibrated")
    assert auto_threshold(sparse, sparse_threshold=rule, **options) == (0.5, "sparse")
    kept = sparse[sparse >= 0.5]
    # Every gold, and under half the particles that 0.325 lets through.
    assert (kept >= 0.65).sum() == 20
    assert len(kept) - 20 < 0.5 * ((sparse >= 0.325).sum() - 20)
    # The same clutter with 300 gold per um^2: labels in numbers, the calibrated threshold holds
    # (the relative raise still applies).
    dense = np.concatenate([rng.uniform(0.65, 0.9, 300), rng.uniform(0.15, 0.55, 400)])
    threshold, how = auto_threshold(dense, sparse_threshold=rule, **options)
    assert how in ("calibrated", "raised") and threshold < 0.5
    # A sparse image whose raise is higher still is raised.
    bright = np.concatenate([np.full(20, 0.99), rng.uniform(0.15, 0.3, 400)])
    assert auto_threshold(bright, sparse_threshold=rule, **dict(options, relative_threshold=0.6)) \
        == (pytest.approx(0.594), "raised")


def test_a_sparse_rule_with_a_band_needs_clutter_between_the_thresholds():
    from her2net.detect.postprocess import auto_threshold

    rule = {"threshold": 0.5, "below_per_um2": 100.0, "confident_score": 0.6,
            "band_min_per_um2": 10.0}
    options = dict(threshold=0.325, relative_threshold=0.0, white_index=5.0, area_um2=2.0)
    rng = np.random.default_rng(1)
    # Sparse gold, 12 nm scoring 0.7-0.9 and 6 nm 0.33-0.5, among particles that score under
    # 0.3 (a second renderer's replica): nothing for the higher threshold to drop but 6-nm gold.
    quiet = np.concatenate([rng.uniform(0.7, 0.9, 30), rng.uniform(0.33, 0.5, 12),
                            rng.uniform(0.1, 0.3, 500)])
    assert auto_threshold(quiet, **options) == (0.325, "calibrated")
    assert auto_threshold(quiet, sparse_threshold=rule, **options) == (0.325, "calibrated")
    # The same gold among 60 particles per um^2 scoring like 6-nm gold: the rule holds.
    cluttered = np.concatenate([quiet, rng.uniform(0.33, 0.5, 120)])
    assert auto_threshold(cluttered, sparse_threshold=rule, **options) == (0.5, "sparse")


def test_labels_cut_by_the_edge_are_not_held_to_a_raised_threshold(rng, shipped_model):
    from her2net.detect.postprocess import EDGE_MAX_WHITE_INDEX

    # Bright Gaussian spots at a good dose (the threshold is raised), six of them centred within
    # a fraction of a pixel of the image's edge: half outside, they score lower than the raise
    # but above the calibrated threshold, and are kept.
    size, px = 256, 1.5
    inner = rng.uniform(12, size - 13, (60, 2))
    keep = np.all(np.linalg.norm(inner[:, None] - inner[None], axis=2) + 1e3 * np.eye(len(inner))
                  > 12, axis=1)
    edge = np.array([[size - 0.7, 60.0], [size - 0.6, 180.0], [120.0, -0.3], [40.0, -0.2],
                     [-0.3, 200.0], [90.0, size - 0.7]])
    truth = np.vstack([inner[keep], edge])
    sigma = 0.8 * 10.0 / px / 2.3548
    yy, xx = np.mgrid[:size, :size].astype(float)
    spots = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in truth)
    image = rng.poisson(100.0 * (1 + 0.5 * spots)).astype(np.float32)
    table, info = detect_image(image, pixel_size_nm=px, model=shipped_model, polarity="bright")
    assert info["threshold_rule"] == "raised"
    assert info["white_noise_index"] <= EDGE_MAX_WHITE_INDEX
    pairs, _ = match_points(table[["x_px", "y_px"]].to_numpy(), truth, tolerance=4.0 / px)
    found = set(pairs[:, 1].tolist())
    edge_index = range(len(truth) - len(edge), len(truth))
    assert all(i in found for i in edge_index)
    edge_scores = [table["score"].iloc[d] for d, t in pairs if t in edge_index]
    assert min(edge_scores) < info["threshold"]  # kept by the edge rule, not by the raise
    assert len(table) <= len(truth) + 1


def test_edge_peaks_pass_against_the_lower_threshold():
    from her2net.detect.postprocess import (EDGE_MAX_WHITE_INDEX, EDGE_NM, edge_distance_nm,
                                            passes_threshold)

    points = np.array([[-0.4, 50.0], [50.0, 50.0], [99.2, 10.0], [50.0, 98.0]])
    edge = edge_distance_nm(points, (100, 100), pixel_size_nm=2.0)
    np.testing.assert_allclose(edge, [0.2, 99.0, 0.6, 3.0])
    scores = np.array([0.35, 0.35, 0.2, 0.35])
    # Raised from 0.3 to 0.5 on a smooth background: edge peaks (within EDGE_NM = 3 nm) are held
    # to 0.3 only.
    assert EDGE_NM == 3.0 and EDGE_MAX_WHITE_INDEX == 2.0
    assert passes_threshold(scores, edge, image_threshold=0.5, threshold=0.3,
                            white_index=1.2).tolist() == [True, False, False, True]
    # Among clutter, or with the background unknown, the raise holds everywhere.
    for white_index in (4.0, float("nan")):
        assert passes_threshold(scores, edge, image_threshold=0.5, threshold=0.3,
                                white_index=white_index).tolist() == [False, False, False, False]
    # Lowered to 0.25 (or given as a number): one threshold everywhere.
    assert passes_threshold(scores, edge, image_threshold=0.25, threshold=0.3,
                            white_index=1.2).tolist() == [True, True, False, True]
