import numpy as np
import pytest

from her2net.detect import detect
from her2net.detect.refine import (FIT_WEIGHT, STRUCTURED_INDEX, background_fit_weight,
                                    refine_centres)
from her2net.evaluate.matching import match_points


def _spots(rng, centres, shape, *, sigma=2.5, amplitude=60.0, background=40.0, dark=False):
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(float)
    signal = np.zeros(shape)
    for x, y in centres:
        signal += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    expected = background + (-1 if dark else 1) * amplitude * signal * (0.6 if dark else 1.0)
    return rng.poisson(np.clip(expected, 0, None)).astype(np.float32)


@pytest.mark.parametrize("dark", [False, True])
def test_fit_brings_perturbed_centres_closer(rng, dark):
    grid = np.stack(np.meshgrid(np.arange(7), np.arange(7)), axis=-1).reshape(-1, 2)
    truth = 16.0 + 16.0 * grid + rng.uniform(-2, 2, grid.shape)  # 49 spots, sub-pixel centres
    image = _spots(rng, truth, (128, 128), dark=dark)
    start = truth + rng.normal(0, 0.2, truth.shape)
    refined, fitted = refine_centres(image, start, pixel_size_nm=1.0,
                                     polarity="dark" if dark else "bright",
                                     diameter_nm=np.full(len(start), 2.5 * np.sqrt(20)))
    assert fitted.mean() > 0.9
    before = np.sqrt(np.mean(np.sum((start - truth) ** 2, axis=1)))
    after = np.sqrt(np.mean(np.sum((refined - truth) ** 2, axis=1)))
    assert after < 0.8 * before, (before, after)


def test_dimer_partner_pulls_less_than_if_each_label_were_alone(rng):
    # A close pair, 10 px apart with blurred spots (sigma 2.8 px): pixels nearer the partner are
    # left out of each fit, so the two centres are pulled together less than by lone fits.
    truth = np.array([[30.0, 32.0], [40.0, 32.4]])
    diameter = [2.8 * np.sqrt(20)]
    image = _spots(rng, truth, (64, 64), sigma=2.8, amplitude=400.0, background=100.0)
    together, fitted = refine_centres(image, truth, pixel_size_nm=1.0, diameter_nm=diameter * 2)
    alone = np.vstack([refine_centres(image, truth[i:i + 1], pixel_size_nm=1.0,
                                      diameter_nm=diameter)[0] for i in range(2)])
    assert fitted.all()
    pull_together = (together[0, 0] - truth[0, 0]) - (together[1, 0] - truth[1, 0])
    pull_alone = (alone[0, 0] - truth[0, 0]) - (alone[1, 0] - truth[1, 0])
    assert np.abs(together - truth).max() < 0.2
    assert pull_alone > 0.15 and pull_together < 0.7 * pull_alone, (pull_together, pull_alone)


def test_disagreeing_fit_keeps_the_given_centre_and_empty_input(rng):
    image = _spots(rng, [(20.0, 20.0)], (40, 40), amplitude=300.0)
    start = np.array([[22.5, 20.0]])  # a full spot width away
    refined, fitted = refine_centres(image, start, pixel_size_nm=1.0, diameter_nm=[2.5 * np.sqrt(20)])
    assert not fitted[0] and np.array_equal(refined, start)
    refined, fitted = refine_centres(image, np.zeros((0, 2)), pixel_size_nm=1.0)
    assert refined.shape == (0, 2) and fitted.shape == (0,)


def test_detect_localises_better_with_refinement(rng, shipped_model):
    # Gaussian spots (not her2net's simulator) at a good dose, 1.5 nm/px.
    truth = rng.uniform(6, 250, (160, 2))
    keep = np.all(np.linalg.norm(truth[:, None] - truth[None], axis=2) + 1e3 * np.eye(len(truth))
                  > 10, axis=1)
    truth = truth[keep]
    image = _spots(rng, truth, (256, 256), sigma=0.8 * 10 / 1.5 / 2.355, amplitude=100.0,
                   background=200.0)
    errors = {}
    for refine in (False, True):
        table = detect(image, pixel_size_nm=1.5, model=shipped_model, polarity="bright",
                       refine=refine)
        pairs, dist = match_points(table[["x_nm", "y_nm"]].to_numpy(), truth * 1.5, tolerance=4.0)
        assert len(pairs) > 0.95 * len(truth)
        errors[refine] = np.sqrt(np.mean(dist**2))
        if refine:
            assert table.attrs["her2net"]["refined"] > 0.9 * len(table)
            assert table.attrs["her2net"]["refine_fit_weight"] == FIT_WEIGHT  # white noise
    assert errors[True] < 0.92 * errors[False], errors


def test_fit_weight_falls_with_a_structured_background():
    assert background_fit_weight(1.0) == FIT_WEIGHT == 0.75
    assert background_fit_weight(float("nan")) == FIT_WEIGHT  # too small to measure: unchanged
    assert background_fit_weight(STRUCTURED_INDEX[0]) == FIT_WEIGHT
    assert background_fit_weight(np.mean(STRUCTURED_INDEX)) == pytest.approx(0.375)
    assert background_fit_weight(STRUCTURED_INDEX[1]) == background_fit_weight(9.0) == 0.0


def test_fit_weight_sets_the_share_of_the_fitted_centre(rng):
    truth = np.array([[20.3, 19.6]])
    image = _spots(rng, truth, (40, 40), amplitude=400.0)
    start = np.array([[20.6, 19.3]])  # within the 0.3 spot widths the fit may move
    kwargs = dict(pixel_size_nm=1.0, diameter_nm=[2.5 * np.sqrt(20)])
    fitted_only, ok = refine_centres(image, start, fit_weight=1.0, **kwargs)
    assert ok[0] and np.abs(fitted_only - truth).max() < 0.15
    quarter, _ = refine_centres(image, start, fit_weight=0.25, **kwargs)
    np.testing.assert_allclose(quarter, 0.75 * start + 0.25 * fitted_only)
    with pytest.raises(ValueError, match="fit_weight"):
        refine_centres(image, start, fit_weight=1.5, **kwargs)


def test_detect_keeps_the_network_centres_on_a_replica(shipped_model):
    # Shadowed membrane particles pull a flat-background fit: on a replica (white-noise index far
    # above 5) the fit gets no weight and the centres are the network's.
    from her2net.simulate import simulate_tile

    image, points, _ = simulate_tile(np.random.default_rng([303, 1]), 320, 1.2, polarity="dark",
                                     specimen="replica", label="gold",
                                     gold_diameters_nm=(6.0, 12.0),
                                     matched_snr=30.0)
    refined = detect(image, pixel_size_nm=1.2, model=shipped_model, polarity="dark")
    plain = detect(image, pixel_size_nm=1.2, model=shipped_model, polarity="dark", refine=False)
    info = refined.attrs["her2net"]
    assert info["white_noise_index"] > STRUCTURED_INDEX[1]
    assert info["refine_fit_weight"] == 0.0 and info["refined"] == 0
    assert len(refined) > 0.5 * len(points)
    np.testing.assert_array_equal(refined[["x_px", "y_px"]].to_numpy(),
                                  plain[["x_px", "y_px"]].to_numpy())
