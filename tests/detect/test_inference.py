import numpy as np
import pytest
from toynet import render_labels

from her2net.detect.inference import detect_peaks_tiled, get_runner, predict_maps
from her2net.errors import InputError
from her2net.model import load_model, normalize_image


def _sorted(points):
    points = np.asarray(points)
    return points[np.lexsort((points[:, 0], points[:, 1]))]


def test_tiled_maps_equal_untiled_maps_random_unet(random_checkpoint, rng):
    model = load_model(random_checkpoint)
    runner = get_runner(model.net, device="cpu", precision="float32")
    image = normalize_image(rng.normal(size=(150, 190)).astype(np.float32))
    p_whole, o_whole = predict_maps(image, runner, tile_px=10_000)
    p_tiled, o_tiled = predict_maps(image, runner, tile_px=288, batch_size=3)
    assert p_whole.shape == image.shape and o_whole.shape == (2,) + image.shape
    np.testing.assert_allclose(p_tiled, p_whole, atol=1e-5)
    np.testing.assert_allclose(o_tiled, o_whole, atol=1e-4)


def _border_labels(borders, size, rng):
    """Labels exactly on, just before and just after tile borders, at least 7 px apart."""
    candidates = []
    for b in borders:
        for offset in (-0.5, 0.0, 0.49):
            for _ in range(3):
                along = rng.uniform(4, size - 4)
                candidates += [(b + offset, along), (along, b + offset)]
    candidates.append((63.6, 63.5))  # on a tile corner
    kept = []
    for point in candidates[::-1]:
        if all(np.hypot(point[0] - q[0], point[1] - q[1]) >= 7 for q in kept):
            kept.append(point)
    return np.array(kept)


def test_labels_on_tile_borders_found_once(toy_model, rng):
    runner = get_runner(toy_model.net, device="cpu")
    # tile_px 96 with the toy net's margin of 32 px: cores of 32 px, borders at multiples of 32.
    truth = _border_labels([32.0, 64.0, 96.0, 128.0], 160, rng)
    assert len(truth) >= 20
    image = normalize_image(render_labels(truth, (160, 160), noise=0.01, rng=rng))
    whole = detect_peaks_tiled(image, runner, threshold=0.5, tile_px=10_000)
    tiled = detect_peaks_tiled(image, runner, threshold=0.5, tile_px=96, batch_size=4)
    assert len(whole) == len(truth)
    assert len(tiled) == len(whole)
    np.testing.assert_allclose(_sorted(tiled), _sorted(whole), atol=1e-5)
    # Each truth label found exactly once, close to its position.
    d = np.linalg.norm(tiled[:, None, :2] - truth[None], axis=2)
    assert (d.min(axis=0) < 0.5).all()
    assert ((d < 2).sum(axis=0) == 1).all()


def test_tiled_detections_equal_untiled_with_random_unet(random_checkpoint, rng):
    model = load_model(random_checkpoint)
    runner = get_runner(model.net, device="cpu", precision="float32")
    image = normalize_image(rng.normal(size=(130, 170)).astype(np.float32))
    p, _ = predict_maps(image, runner, tile_px=10_000)
    threshold = float(np.quantile(p, 0.9))
    whole = detect_peaks_tiled(image, runner, threshold=threshold, tile_px=10_000)
    tiled = detect_peaks_tiled(image, runner, threshold=threshold, tile_px=256, batch_size=2)
    assert len(whole) > 20
    assert len(tiled) == len(whole)
    np.testing.assert_allclose(_sorted(tiled), _sorted(whole), atol=1e-4)


def test_tile_too_small_is_an_input_error(toy_model):
    runner = get_runner(toy_model.net, device="cpu")
    with pytest.raises(InputError, match="--tile"):
        detect_peaks_tiled(np.zeros((64, 64), np.float32), runner, threshold=0.5, tile_px=40)


def test_unknown_device_and_precision(toy_model):
    with pytest.raises(InputError, match="--device"):
        get_runner(toy_model.net, device="tpu")
    with pytest.raises(InputError, match="precision"):
        get_runner(toy_model.net, device="cpu", precision="int4")
    with pytest.raises(InputError, match="float16"):
        get_runner(toy_model.net, device="cpu", precision="float16")


def test_bfloat16_close_to_float32(random_checkpoint, rng):
    model = load_model(random_checkpoint)
    image = normalize_image(rng.normal(size=(96, 112)).astype(np.float32))
    p32, o32 = predict_maps(image, get_runner(model.net, device="cpu", precision="float32"))
    p16, o16 = predict_maps(image, get_runner(model.net, device="cpu", precision="bfloat16"))
    np.testing.assert_allclose(p16, p32, atol=2e-3)
    np.testing.assert_allclose(o16, o32, atol=0.05)


def test_image_threshold_raises_only_in_images_of_confident_peaks():
    from her2net.detect.postprocess import image_threshold

    confident = [0.95, 0.97, 0.99, 0.9, 0.96, 0.98, 0.2, 0.3]
    assert image_threshold(confident, threshold=0.3, relative_threshold=0.45) == pytest.approx(
        0.45 * np.percentile([0.95, 0.97, 0.99, 0.9, 0.96, 0.98, 0.3], 75))
    assert image_threshold(confident, threshold=0.3, relative_threshold=0.0) == 0.3
    faint = [0.35, 0.4, 0.5, 0.45, 0.38, 0.33]
    assert image_threshold(faint, threshold=0.3, relative_threshold=0.45) == 0.3
    few = [0.99, 0.98, 0.97]  # too few peaks to judge the image
    assert image_threshold(few, threshold=0.3, relative_threshold=0.45, min_count=5) == 0.3
    assert image_threshold([], threshold=0.3, relative_threshold=0.45) == 0.3
