"""``python -m train average``: weight-space interpolation of a base and a fine-tuned checkpoint."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from her2net.detect import detect  # noqa: E402
from her2net.model import UNet, load_model, read_checkpoint, save_checkpoint  # noqa: E402
from her2net.simulate import simulate_tile  # noqa: E402
from train.__main__ import main as train_main  # noqa: E402


@pytest.fixture()
def tuned(shipped_model, tmp_path):
    """The shipped weights moved by noise, with their own threshold: a stand-in fine-tune."""
    generator = torch.Generator().manual_seed(0)
    net = UNet(**shipped_model.metadata["model_config"])
    state = {k: v.clone() for k, v in shipped_model.net.cpu().state_dict().items()}
    for key, value in state.items():
        if torch.is_floating_point(value):
            value += 0.05 * value.abs().mean() * torch.randn(value.shape, generator=generator)
    net.load_state_dict(state)
    metadata = dict(shipped_model.metadata, threshold=0.5, relative_threshold=0.3,
                    data="annotated images points.csv in lab/")
    return save_checkpoint(tmp_path / "tuned.pt", net, metadata)


def test_average_interpolates_every_weight_and_records_its_parents(shipped_model, tuned, tmp_path):
    out = tmp_path / "avg.pt"
    assert train_main(["average", str(shipped_model.path), str(tuned), str(out), "--weight", "0.3"]) == 0
    base, tune, avg = (read_checkpoint(p) for p in (shipped_model.path, tuned, out))
    for key, value in base["state_dict"].items():
        expected = 0.7 * value.double() + 0.3 * tune["state_dict"][key].double()
        if torch.is_floating_point(value):
            np.testing.assert_allclose(avg["state_dict"][key].double(), expected, atol=1e-6, rtol=1e-5)
    meta = avg["metadata"]
    assert meta["weight_average"]["weight_tuned"] == 0.3
    assert meta["weight_average"]["tuned"] == "tuned.pt"
    assert meta["threshold"] == pytest.approx(0.7 * base["metadata"]["threshold"] + 0.3 * 0.5)
    assert meta["relative_threshold"] == pytest.approx(
        0.7 * base["metadata"]["relative_threshold"] + 0.3 * 0.3)
    assert "noise_peak_rate" not in meta and "threshold_calibration" not in meta
    assert "annotated images points.csv" in meta["data"]
    assert meta["training_commands"][-1].startswith("python -m train average")


def test_average_with_weight_zero_detects_as_the_base_does(shipped_model, tuned, tmp_path):
    out = tmp_path / "avg0.pt"
    assert train_main(["average", str(shipped_model.path), str(tuned), str(out), "--weight", "0"]) == 0
    image, points, _ = simulate_tile(np.random.default_rng(3), 256, 1.0, polarity="bright",
                                     matched_snr=20.0)
    options = dict(pixel_size_nm=1.0, polarity="bright", threshold=shipped_model.threshold,
                   device="cpu", precision="float32")
    found_base = detect(image, model=shipped_model, **options)
    found_avg = detect(image, model=load_model(out), **options)
    assert len(found_base) > 5 and len(points) > 5
    np.testing.assert_allclose(found_avg[["x_px", "y_px", "score"]], found_base[["x_px", "y_px", "score"]],
                               atol=1e-4)


@pytest.mark.parametrize("case, message", [
    ("weight", "--weight 1.5: expected a share between 0 and 1"),
    ("missing", "no such checkpoint file"),
    ("other_model", "model_config"),
    ("out_folder", "does not exist"),
])
def test_average_bad_input_exits_2_with_one_line_and_writes_nothing(shipped_model, tuned, tmp_path,
                                                                    capsys, case, message):
    other = tmp_path / "other.pt"
    config = dict(shipped_model.metadata["model_config"], channels=[4, 8])
    save_checkpoint(other, UNet(**config), dict(shipped_model.metadata, model_config=config))
    second = {"missing": tmp_path / "nowhere.pt", "other_model": other}.get(case, tuned)
    out = tmp_path / ("missing/out.pt" if case == "out_folder" else "out.pt")
    weight = "1.5" if case == "weight" else "0.3"
    assert train_main(["average", str(shipped_model.path), str(second), str(out), "--weight", weight]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
