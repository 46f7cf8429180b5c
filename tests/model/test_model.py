"""The U-Net, preprocessing and inference checkpoints."""

import numpy as np
import pytest
import torch

from her2net.errors import InputError
from her2net.model import (
    FORMAT_VERSION,
    UNet,
    load_model,
    normalize_image,
    points_to_input_frame,
    points_to_resampled_frame,
    resample_image,
    save_checkpoint,
)


def test_unet_output_shape_and_size_multiple():
    net = UNet(channels=[8, 16, 32]).eval()
    assert net.size_multiple == 8
    with torch.inference_mode():
        out = net(torch.zeros(2, 1, 48, 64))
    assert out.shape == (2, 3, 48, 64)


def test_normalize_is_gain_offset_invariant_and_inverts_dark():
    rng = np.random.default_rng(1)
    image = rng.normal(100, 5, (64, 64))
    image[30:33, 30:33] += 80
    a = normalize_image(image)
    b = normalize_image(image * 37.0 + 1000.0)
    np.testing.assert_allclose(a, b, atol=1e-4)
    dark = normalize_image(-image, polarity="dark")
    np.testing.assert_allclose(a, dark, atol=1e-4)
    assert a[31, 31] > 1.0 > a.mean()
    with pytest.raises(InputError, match="polarity"):
        normalize_image(image, polarity="up")


def test_normalize_ignores_a_constant_fill_but_not_poisson_zeros_or_saturated_labels():
    rng = np.random.default_rng(2)
    image = rng.normal(1400, 20, (256, 256))
    image[100:103, 100:103] += 300  # a label
    plain = normalize_image(image)
    filled = image.copy()
    filled[:, :60] = 0  # a border of zeros (23 % of the image, far below its range)
    out = normalize_image(filled)
    # The rest of the image is normalised as without the fill, and the fill reads as background.
    np.testing.assert_allclose(out[:, 60:], plain[:, 60:], atol=0.02)
    assert abs(float(np.median(out[:, :60])) - float(np.median(plain))) < 0.02
    # A faint image's many Poisson zeros are data, not a fill: nothing changes.
    counts = rng.poisson(1.5, (256, 256)).astype(float)
    manual = (counts - np.percentile(counts, 1.0)) / np.ptp(np.percentile(counts, (1.0, 99.8)))
    np.testing.assert_allclose(normalize_image(counts), manual, atol=1e-5)
    # Saturated label cores that share the image's minimum stay (bright-field, 8-bit).
    bf = np.clip(rng.normal(200, 5, (128, 128)), 0, 255)
    for y, x in ((30, 30), (60, 90), (100, 40)):
        bf[y - 4:y + 5, x - 4:x + 5] = 0
    dark = normalize_image(bf, polarity="dark")
    assert dark[30, 30] == dark.max() and dark[30, 30] > 0.9 > float(np.median(dark)) + 0.5


def test_resample_keeps_a_spot_where_the_coordinate_mapping_says():
    image = np.zeros((40, 60), np.float32)
    yy, xx = np.mgrid[:40, :60]
    x0, y0 = 21.3, 17.6
    image += np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 2.0**2))
    for scale in (0.5, 1.6):
        out = resample_image(image, scale=scale)
        yy2, xx2 = np.mgrid[: out.shape[0], : out.shape[1]]
        cx, cy = (out * xx2).sum() / out.sum(), (out * yy2).sum() / out.sum()
        expected = points_to_resampled_frame(np.array([[x0, y0]]), image.shape, out.shape)[0]
        assert abs(cx - expected[0]) < 0.1 and abs(cy - expected[1]) < 0.1
        back = points_to_input_frame(np.array([[cx, cy]]), image.shape, out.shape)[0]
        assert abs(back[0] - x0) < 0.15 and abs(back[1] - y0) < 0.15


def test_checkpoint_round_trip(tmp_path):
    net = UNet(channels=[8, 16])
    meta = {"model_config": {"channels": [8, 16]}, "pixel_size_nm": 1.25, "threshold": 0.42}
    path = save_checkpoint(tmp_path / "m.pt", net, meta)
    model = load_model(path)
    assert model.pixel_size_nm == 1.25 and model.threshold == 0.42
    for key, value in net.state_dict().items():
        torch.testing.assert_close(model.net.state_dict()[key], value)
    # weights_only loading: the payload holds tensors and plain types only
    payload = torch.load(path, weights_only=True)
    assert payload["format_version"] == FORMAT_VERSION


def test_newer_checkpoint_format_is_refused(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": "her2net-checkpoint", "format_version": FORMAT_VERSION + 1,
                "state_dict": {}, "metadata": {}}, path)
    with pytest.raises(InputError, match="newer than this her2net understands"):
        load_model(path)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(InputError, match="no such checkpoint"):
        load_model(tmp_path / "none.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputError, match="not a her2net inference checkpoint"):
        load_model(foreign)
