"""Tests of simulate_tile: the tile contract, overrides, determinism and physics sanity checks."""

import numpy as np
import pytest

from her2net.errors import InputError
from her2net.simulate import PARAM_NAMES, simulate_tile


def _local_contrast(image, points, radius_px):
    """Mean image value within ``radius_px`` of each point minus the image median."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w]
    near = np.zeros(image.shape, dtype=bool)
    for x, y in points:
        near |= (xx - x) ** 2 + (yy - y) ** 2 <= radius_px**2
    return image[near].mean() - np.median(image[~near])


@pytest.mark.parametrize("seed", range(12))
def test_tile_contract(seed):
    rng = np.random.default_rng(seed)
    image, points, meta = simulate_tile(rng, 96)
    assert image.shape == (96, 96) and image.dtype == np.float32
    assert np.isfinite(image).all()
    assert points.dtype == np.float64 and points.ndim == 2 and points.shape[1] == 2
    assert ((points >= -0.5) & (points < 95.5)).all()
    n = len(points)
    for key in ("diameter_nm", "label_type", "kind", "group", "region"):
        assert len(meta[key]) == n, key
    assert 0.5 <= meta["pixel_size_nm"] <= 3.0
    assert meta["polarity"] in ("bright", "dark")
    assert meta["label"] in ("gold", "qd", "mixed")
    assert meta["dose_e_per_A2"] > 0
    assert set(meta["label_type"]) <= {"gold", "qd"}
    assert set(meta["kind"]) <= {"monomer", "dimer", "cluster"}


def test_same_rng_state_same_tile_other_differs():
    a = simulate_tile(np.random.default_rng(3), 64)
    b = simulate_tile(np.random.default_rng(3), 64)
    c = simulate_tile(np.random.default_rng(4), 64)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("polarity,sign", [("bright", 1), ("dark", -1)])
def test_polarity_gives_label_contrast_sign(polarity, sign):
    rng = np.random.default_rng(11)
    image, points, meta = simulate_tile(
        rng, 128, pixel_size_nm=1.0, polarity=polarity, label="gold", gold_diameters_nm=(12,),
        density_per_um2=600, dose_e_per_A2=200.0, debris_per_um2=0, salt_per_um2=0,
        particles_per_um2=0, cell_edge=False, halo=0.0,
    )
    assert len(points) > 3
    assert sign * _local_contrast(image, points, 3.0) > 0
    assert meta["polarity"] == polarity


def test_overrides_are_respected_and_unknown_rejected():
    rng = np.random.default_rng(0)
    _, points, meta = simulate_tile(rng, 64, pixel_size_nm=2.0, label="qd", density_per_um2=0.0)
    assert meta["pixel_size_nm"] == 2.0 and meta["label"] == "qd" and len(points) == 0
    with pytest.raises(TypeError, match="no_such_parameter"):
        simulate_tile(rng, 64, no_such_parameter=1)
    with pytest.raises(InputError, match="smaller than a pixel"):
        simulate_tile(rng, 64, pixel_size_nm=8.0, label="gold", gold_diameters_nm=(6,))
    assert "dose_e_per_A2" in PARAM_NAMES


def test_label_snr_scales_with_sqrt_dose():
    quiet = dict(pixel_size_nm=1.0, polarity="bright", label="gold", gold_diameters_nm=(12,),
                 density_per_um2=300, ruffle_fraction=0.0, cell_edge=False, texture=0.0,
                 thickness_variation=0.0, gradient=0.0, scan_lines=0.0, debris_per_um2=0.0,
                 salt_per_um2=0.0, particles_per_um2=0.0, read_noise=0.0, tail_weight=0.0,
                 deep_fraction=0.0, bit_depth=0)
    snr = []
    for dose in (2.0, 8.0, 32.0):
        image, points, meta = simulate_tile(np.random.default_rng(21), 256, dose_e_per_A2=dose, **quiet)
        h, w = image.shape
        yy, xx = np.mgrid[0:h, 0:w]
        near = np.zeros(image.shape, dtype=bool)
        for x, y in points:
            near |= (xx - x) ** 2 + (yy - y) ** 2 <= 12**2
        background = image[~near]
        centre = image[np.rint(points[:, 1]).astype(int).clip(0, h - 1), np.rint(points[:, 0]).astype(int).clip(0, w - 1)]
        snr.append((centre.mean() - background.mean()) / background.std())
        assert meta["dose_e_per_A2"] == dose
    ratios = np.array(snr[1:]) / np.array(snr[:-1])
    assert np.allclose(ratios, 2.0, rtol=0.12), (snr, ratios)


@pytest.mark.parametrize("polarity", ["bright", "dark"])
def test_rendered_label_centres_match_points(polarity):
    """Intensity centroids of isolated labels sit on the reported (x_px, y_px): x = column."""
    image, points, meta = simulate_tile(
        np.random.default_rng(5), (200, 240), pixel_size_nm=1.0, polarity=polarity, label="gold",
        gold_diameters_nm=(10,), density_per_um2=400, dimer_fraction=0.0, cluster_fraction=0.0,
        ruffle_fraction=0.0, cell_edge=False, dose_e_per_A2=1e5, texture=0.0, gradient=0.0,
        thickness_variation=0.0, debris_per_um2=0.0, salt_per_um2=0.0, particles_per_um2=0.0,
        membrane_lines=0.0, scan_lines=0.0, read_noise=0.0, halo=0.0, tail_weight=0.0,
        deep_fraction=0.0, bit_depth=0, camera_blur_px=0.0, blur_sigma_nm=1.0,
    )
    signal = image - np.median(image)
    if polarity == "dark":
        signal = -signal
    h, w = image.shape
    errors = []
    for x, y in points:
        others = np.hypot(points[:, 0] - x, points[:, 1] - y)
        if np.sort(others)[1] < 20 or not (10 <= x < w - 10 and 10 <= y < h - 10):
            continue
        r0, c0 = int(round(y)), int(round(x))
        win = np.clip(signal[r0 - 8:r0 + 9, c0 - 8:c0 + 9], 0, None)
        yy, xx = np.mgrid[r0 - 8:r0 + 9, c0 - 8:c0 + 9]
        errors.append([(win * xx).sum() / win.sum() - x, (win * yy).sum() / win.sum() - y])
    errors = np.array(errors)
    assert len(errors) >= 3
    assert np.abs(errors).max() < 0.15, errors


def test_each_label_matched_snr():
    # Identical labels at full contrast all sit at the image's matched SNR (that of the faintest).
    even = dict(label="gold", gold_diameters_nm=(10.0,), size_jitter=0.0, amp_jitter=0.0,
                gold_aspect=1.0, matched_snr=7.0, polarity="bright")
    _, points, meta = simulate_tile(np.random.default_rng(3), 128, 1.0, **even)
    assert len(points) > 5
    np.testing.assert_allclose(meta["matched_snr_each"], 7.0, rtol=1e-6)
    # With 6- and 12-nm gold the image's SNR is the 6-nm label's; 12-nm gold is brighter.
    mixed = dict(even, gold_diameters_nm=(6.0, 12.0), polarity="dark")
    _, points, meta = simulate_tile(np.random.default_rng(4), 192, 1.0, **mixed)
    snr, size = meta["matched_snr_each"], meta["diameter_nm"]
    assert (size < 9).any() and (size > 9).any()
    np.testing.assert_allclose(snr[size < 9], 7.0, rtol=1e-6)
    assert snr[size > 9].min() > 1.5 * 7.0


def test_replica_particles_have_a_bright_shadow_scaled_by_shadow_contrast():
    """Shadowed membrane particles: the shadow brightens a BF replica, linearly in shadow_contrast."""
    fixed = dict(polarity="dark", specimen="replica", label="gold", gold_diameters_nm=(6.0,),
                 density_per_um2=0.0, particles_per_um2=3000.0, particle_contrast=0.4,
                 shadow_sign=1.0, shadow_angle=0.0, dose_e_per_A2=1e4, read_noise=0.0,
                 bit_depth=0, texture=0.0, debris_per_um2=0.0, cell_edge=False, halo=0.0,
                 camera_blur_px=0.0)

    def image(shadow_contrast):
        out, points, _ = simulate_tile(np.random.default_rng(21), 160, 1.0,
                                       shadow_contrast=shadow_contrast, **fixed)
        assert len(points) == 0
        return out.astype(np.float64)

    none, full, half = image(0.0), image(1.0), image(0.5)
    shadow = full - none
    level = np.median(none)  # shot noise at this dose: about 1e-3 of the level
    assert shadow.max() > 0.1 * level  # shadows are brighter than the film around them
    assert shadow.min() > -0.01 * level  # and nowhere darker (noise only)
    np.testing.assert_allclose(half - none, 0.5 * shadow, atol=0.01 * level)


def test_reversed_replica_print_inverts_the_whole_image():
    """shadow_sign -1: the print from the negative, gold white and shadows dark, polarity bright."""
    fixed = dict(polarity="dark", specimen="replica", label="gold", gold_diameters_nm=(12.0,),
                 density_per_um2=600.0, matched_snr=30.0)
    recorded, points, meta = simulate_tile(np.random.default_rng(8), 128, 1.0, shadow_sign=1.0, **fixed)
    reversed_, points_r, meta_r = simulate_tile(np.random.default_rng(8), 128, 1.0, shadow_sign=-1.0,
                                                **fixed)
    assert (meta["polarity"], meta_r["polarity"]) == ("dark", "bright")
    np.testing.assert_array_equal(points, points_r)
    np.testing.assert_allclose(reversed_, recorded.max() + recorded.min() - recorded, rtol=1e-6)
    assert len(points) > 3


def test_clip_fraction_sets_how_much_an_8bit_export_clips():
    """Each export clips a fraction drawn in 0..clip_fraction at each end; the default (0.01) uses
    the same random numbers as any other, so a wider window changes only the export."""
    def dark_share(clip_fraction, seed):
        image, points, _ = simulate_tile(np.random.default_rng(seed), 192, pixel_size_nm=1.2,
                                         polarity="dark", specimen="replica", bit_depth=8,
                                         clip_fraction=clip_fraction)
        return float(np.mean(image == 0)), float(np.mean(image == 255)), points

    default = [dark_share(0.01, s) for s in range(6)]
    wide = [dark_share(0.05, s) for s in range(6)]
    none = [dark_share(0.0, s) for s in range(6)]
    assert max(d[0] for d in default) <= 0.012 and max(d[1] for d in default) <= 0.012
    assert np.mean([w[0] for w in wide]) > 3 * np.mean([d[0] for d in default])
    assert max(n[0] for n in none) < 1e-3 and max(n[1] for n in none) < 1e-3
    for d, w in zip(default, wide):
        assert np.array_equal(d[2], w[2])  # the same scene, exported otherwise
    with pytest.raises(InputError, match="clip_fraction"):
        simulate_tile(np.random.default_rng(0), 64, bit_depth=8, clip_fraction=0.6)
