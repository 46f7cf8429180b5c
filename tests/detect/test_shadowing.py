"""The shadowing index: metal-shadowed replicas against every other kind of image."""

import numpy as np
import pytest
from scipy import ndimage

from her2net.detect.shadowing import SHADOWED_INDEX, shadowing_index
from her2net.simulate import simulate_tile


def _particles(rng, shape=(512, 512), n=900):
    field = np.zeros(shape)
    field[rng.integers(8, shape[0] - 8, n), rng.integers(8, shape[1] - 8, n)] = 1.0
    return field


@pytest.mark.parametrize("azimuth_deg", [0, 35, 90, 200])
def test_particles_shadowed_from_one_side_are_flagged_from_any_direction(azimuth_deg):
    rng = np.random.default_rng(azimuth_deg)
    field = _particles(rng)
    shift = 4.0 * np.array([np.sin(np.deg2rad(azimuth_deg)), np.cos(np.deg2rad(azimuth_deg))])
    # A dark Pt cap on each particle and a bright shadow behind it, 4 px (nm) away.
    image = (-ndimage.gaussian_filter(field, 1.5)
             + 0.8 * ndimage.shift(ndimage.gaussian_filter(field, 2.0), shift)
             + 0.003 * rng.normal(size=field.shape))
    index = shadowing_index(image, 1.0)
    assert index >= SHADOWED_INDEX
    # The same whichever way round the image is printed, and at any gain and offset.
    assert shadowing_index(1000 - 7 * image, 1.0) == pytest.approx(index, rel=1e-3)


def test_the_same_particles_unshadowed_or_shadowed_all_round_are_not_flagged():
    rng = np.random.default_rng(1)
    field = _particles(rng)
    blobs = ndimage.gaussian_filter(field, 1.5)
    # A ring around each particle (a symmetric 'shadow') is not a shadow from one side.
    ring = ndimage.gaussian_filter(field, 3.0)
    for image in (-blobs, -blobs + 0.8 * ring):
        assert shadowing_index(image + 0.003 * rng.normal(size=field.shape), 1.0) < SHADOWED_INDEX


@pytest.mark.parametrize("options", [
    dict(polarity="bright", specimen="liquid", label="gold", matched_snr=12.0),
    dict(polarity="bright", specimen="liquid", label="qd", matched_snr=6.0),
    dict(polarity="dark", specimen="section", label="gold", matched_snr=12.0),
])
def test_simulated_liquid_stem_and_sections_are_not_flagged(options):
    for seed in range(4):
        image, _, _ = simulate_tile(np.random.default_rng([seed, 11]), 384, 1.0, **options)
        assert shadowing_index(image, 1.0) < SHADOWED_INDEX


def test_simulated_replicas_with_strong_shadows_are_flagged_where_caps_pair_with_shadows():
    # her2net's own replicas draw a cap and a shadow of set contrasts; in three of these six the
    # pairs are strong and consistent enough (index 14.7-21.8), the others stay with the network
    # (2.7-3.4).
    flagged = 0
    for seed in range(6):
        image, _, _ = simulate_tile(np.random.default_rng([seed, 3]), 512, 1.0, polarity="dark",
                                    specimen="replica", label="gold",
                                    gold_diameters_nm=(6.0, 12.0), matched_snr=30.0,
                                    density_per_um2=20.0, particles_per_um2=3000.0,
                                    particle_contrast=0.5, shadow_contrast=2.5)
        flagged += shadowing_index(image, 1.0) >= SHADOWED_INDEX
    assert flagged >= 3


def test_an_image_too_small_for_four_blocks_scores_zero():
    assert shadowing_index(np.random.default_rng(0).normal(size=(150, 150)), 1.0) == 0.0


def test_a_streak_trailing_each_label_is_not_a_shadow():
    # Detector lag in a scanned (STEM) image: each bright label trails a fading streak along the
    # fast-scan direction. Asymmetric, but of the label's own sign: no cap-and-shadow pair.
    rng = np.random.default_rng(2)
    field = _particles(rng, n=500)
    labels = ndimage.gaussian_filter(field, 2.0)
    kernel = np.exp(-np.arange(8) / 2.0)
    streaked = ndimage.convolve1d(labels, kernel / kernel.sum(), axis=1, origin=-4, mode="nearest")
    image = streaked + 0.002 * rng.normal(size=field.shape)
    assert shadowing_index(image, 1.0) < SHADOWED_INDEX
    # The same labels with a dark partner behind each (a cap and its shadow) are flagged.
    paired = labels - ndimage.shift(labels, (0, 4)) + 0.002 * rng.normal(size=field.shape)
    assert shadowing_index(paired, 1.0) >= SHADOWED_INDEX
