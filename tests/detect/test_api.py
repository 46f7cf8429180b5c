import numpy as np
import pandas as pd
import pytest
from toynet import render_labels

import her2net
from her2net.detect import DETECTION_COLUMNS, detect
from her2net.detect.measure import measure_labels
from her2net.errors import InputError
from her2net.evaluate.matching import match_points


def _scene_nm(rng, n=25, size_nm=150.0):
    points = [rng.uniform(8, size_nm - 8, 2)]
    while len(points) < n:
        p = rng.uniform(8, size_nm - 8, 2)
        if min(np.hypot(*(p - q)) for q in points) > 8:
            points.append(p)
    return np.array(points)


def test_columns_units_and_convention(toy_model, rng):
    truth = np.array([[10.0, 30.0], [40.25, 12.5], [55.0, 50.0]])
    image = render_labels(truth, (64, 72), noise=0.01, rng=rng)
    table = detect(image, pixel_size_nm=1.0, model=toy_model, polarity="bright")
    assert list(table.columns) == list(DETECTION_COLUMNS)
    assert len(table) == 3
    pairs, d = match_points(table[["x_px", "y_px"]].to_numpy(), truth, tolerance=1.0)
    assert len(pairs) == 3 and d.max() < 0.3  # x_px = column, y_px = row
    np.testing.assert_allclose(table["x_nm"], table["x_px"] * 1.0)
    assert (table["score"] >= 0.5).all() and (table["intensity"] > 0).all()
    assert table.attrs["her2net"]["polarity"] == "bright"


def test_same_scene_at_two_pixel_sizes_gives_the_same_labels_in_nm(toy_model, rng):
    truth_nm = _scene_nm(rng)
    found = []
    for pixel_size_nm in (0.8, 1.6):
        # Spots of 1.5 nm sigma, like the toy net's native 1.5 px at 1 nm/px.
        image = render_labels(truth_nm / pixel_size_nm, (int(150 / pixel_size_nm),) * 2,
                              sigma_px=1.5 / pixel_size_nm, noise=0.01, rng=rng)
        table = detect(image, pixel_size_nm=pixel_size_nm, model=toy_model, polarity="bright")
        np.testing.assert_allclose(table["x_nm"], table["x_px"] * pixel_size_nm)
        found.append(table[["x_nm", "y_nm"]].to_numpy())
        pairs, d = match_points(found[-1], truth_nm, tolerance=2.0)
        assert len(pairs) == len(truth_nm) == len(found[-1])
        assert np.sqrt(np.mean(d ** 2)) < 0.6
    pairs, d = match_points(found[0], found[1], tolerance=2.0)
    assert len(pairs) == len(truth_nm)


def test_inverted_image_with_polarity_dark_gives_the_same_detections(toy_model, rng):
    truth = rng.uniform(5, 90, (15, 2))
    image = render_labels(truth, (96, 96), noise=0.02, rng=rng) * 300 + 50
    bright = detect(image, pixel_size_nm=1.0, model=toy_model, polarity="bright")
    dark = detect(4000 - image, pixel_size_nm=1.0, model=toy_model, polarity="dark")
    auto = detect(4000 - image, pixel_size_nm=1.0, model=toy_model, polarity="auto")
    assert len(bright) > 10
    cols = ["x_px", "y_px", "score"]
    pd.testing.assert_frame_equal(dark[cols], bright[cols], atol=1e-4)
    # Size and intensity: the adaptive disk may take or leave one pixel after float rounding.
    np.testing.assert_allclose(dark["diameter_nm"], bright["diameter_nm"], rtol=0.03)
    np.testing.assert_allclose(dark["intensity"], bright["intensity"], rtol=0.03)
    assert auto.attrs["her2net"]["polarity"] == "dark"
    assert len(auto) == len(dark)


def test_polarity_auto_without_a_confident_network_uses_skewness(rng):
    from her2net.detect.polarity import decide_polarity

    truth = rng.uniform(5, 250, (40, 2))
    image = render_labels(truth, (256, 256), noise=0.02, rng=rng)
    assert decide_polarity(image).polarity == "bright"
    decision = decide_polarity(-image)
    assert decision.polarity == "dark" and decision.method == "skewness"
    assert "dark" in decision.describe()


def test_top_level_api_and_model_path(toy_model, random_checkpoint, rng):
    truth = np.array([[10.0, 10.0], [30.0, 12.0], [50.0, 40.0], [12.0, 50.0], [33.0, 33.0]])
    image = render_labels(truth, (64, 64), noise=0.01, rng=rng)
    assert len(her2net.detect(image, pixel_size_nm=1.0, model=toy_model, polarity="bright")) == 5
    table = her2net.detect(image, pixel_size_nm=1.0, model=str(random_checkpoint),
                           polarity="bright", threshold=0.9)
    assert list(table.columns) == list(DETECTION_COLUMNS)
    from her2net.detect import load_model

    assert load_model(random_checkpoint).pixel_size_nm == 1.0


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 32, 32)), "2-D"),
    (np.ones((32, 32)), "constant"),
    (np.zeros((4, 4)) + np.arange(4), "too small"),
    (np.full((16, 16), np.nan), "NaN"),
])
def test_bad_arrays(toy_model, bad, match):
    with pytest.raises(InputError, match=match):
        detect(bad, pixel_size_nm=1.0, model=toy_model)


def test_bad_options(toy_model, rng):
    image = rng.normal(size=(32, 32))
    with pytest.raises(InputError, match="pixel size unknown.*--pixel-size"):
        detect(image, model=toy_model)
    with pytest.raises(InputError, match="threshold"):
        detect(image, pixel_size_nm=1.0, model=toy_model, threshold=1.5)
    with pytest.raises(InputError, match="polarity"):
        detect(image, pixel_size_nm=1.0, model=toy_model, polarity="grey")
    with pytest.raises(InputError):
        detect(image, pixel_size_nm=-2.0, model=toy_model)
    with pytest.raises(InputError, match="no such"):
        detect("does/not/exist.tif", pixel_size_nm=1.0, model=toy_model)


def _sphere_image(diameters_nm, pixel_size_nm, rng, noise=0.0):
    size = 256
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size))
    points = []
    for k, d in enumerate(diameters_nm):
        x, y = 30 + (k % 4) * 60 + rng.uniform(-0.5, 0.5), 30 + (k // 4) * 60 + rng.uniform(-0.5, 0.5)
        a = d / 2 / pixel_size_nm
        image += np.sqrt(np.clip(a * a - (xx - x) ** 2 - (yy - y) ** 2, 0, None)) / a
        points.append((x, y))
    return 100 + 50 * image + rng.normal(0, noise, image.shape), np.array(points)


@pytest.mark.parametrize("pixel_size_nm", [0.5, 1.0, 2.0])
def test_measured_diameter_tells_gold_sizes_apart(pixel_size_nm, rng):
    diameters = np.repeat([6.0, 12.0, 18.0], 5)[:16]
    image, points = _sphere_image(diameters, pixel_size_nm, rng, noise=2.0)
    d, intensity = measure_labels(image, points, pixel_size_nm=pixel_size_nm)
    for size in (6.0, 12.0, 18.0):
        assert abs(np.median(d[diameters == size]) - size) < 0.2 * size
    assert d[diameters == 6].max() < d[diameters == 12].min() < d[diameters == 12].max() < d[diameters == 18].min()
    assert np.all(np.diff([intensity[diameters == s].mean() for s in (6, 12, 18)]) > 0)
    dark, dark_intensity = measure_labels(300 - image, points, pixel_size_nm=pixel_size_nm,
                                          polarity="dark")
    np.testing.assert_allclose(dark, d, rtol=1e-4)
    np.testing.assert_allclose(dark_intensity, intensity, rtol=1e-4)


def test_measured_diameter_among_clutter(rng):
    # A bright-field section (soft dark particles, texture, blur, 8-bit) with 6-, 12- and 18-nm
    # gold, sized at the true centres: at least 90 % of each size within 0.67-1.5x of it, and
    # the three sizes apart. (The second moment used before left most 6-nm labels outside.)
    from her2net.simulate import simulate_tile

    image, points, meta = simulate_tile(np.random.default_rng([1, 9]), 512, 1.2, polarity="dark",
                                        specimen="section", label="gold",
                                        gold_diameters_nm=(6.0, 12.0, 18.0), matched_snr=25.0,
                                        density_per_um2=400.0)
    d, _ = measure_labels(image, points, pixel_size_nm=1.2, polarity="dark")
    true = np.asarray(meta["diameter_nm"])
    medians = []
    for size in (6.0, 12.0, 18.0):
        ratio = d[np.abs(true - size) < 3] / true[np.abs(true - size) < 3]
        assert len(ratio) >= 10
        assert np.mean((ratio > 0.67) & (ratio < 1.5)) >= 0.9, (size, ratio)
        medians.append(np.median(d[np.abs(true - size) < 3]))
    assert medians[0] < 8 < medians[1] < 15 < medians[2]
