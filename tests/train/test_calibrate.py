import json

import numpy as np
import pytest

pytest.importorskip("lightning")  # the train extra (installed by make test)

from her2net.model import load_model  # noqa: E402
from train.calibrate import (NOISE_THRESHOLDS, RELATIVE_THRESHOLDS, THRESHOLDS,  # noqa: E402
                             calibrate_threshold, main, measure_noise_peak_rate)


def test_dose_ladder_sweep_picks_the_best_mean_f1(shipped_model):
    result = calibrate_threshold(shipped_model, n_scenes=3, seed=3)
    table = result["table"]
    assert [(row["threshold"], row["relative_threshold"]) for row in table] == [
        (float(t), float(r)) for t in THRESHOLDS for r in RELATIVE_THRESHOLDS]
    best = max(table, key=lambda row: row["mean_f1"])
    assert (result["threshold"], result["relative_threshold"]) == (best["threshold"],
                                                                   best["relative_threshold"])
    # The shipped detector finds most labels on these scenes, more at the standard dose.
    assert best["mean_f1"] > 0.7
    assert best["f1_1x"] >= best["f1_0.12x"]
    # Too high a threshold loses labels: the sweep is not flat.
    assert table[-1]["mean_f1"] < best["mean_f1"] - 0.05
    # The fixed thresholds (relative 0) are part of the sweep: the pick is never worse.
    fixed = [row for row in table if row["relative_threshold"] == 0.0]
    assert max(row["mean_f1"] for row in fixed) <= best["mean_f1"]


def test_calibrate_command_writes_a_loadable_checkpoint(shipped_model, tmp_path, capsys):
    out = tmp_path / "calibrated.pt"
    assert main([str(shipped_model.path), "--out", str(out), "--scenes", "3",
                 "--noise-images", "2"]) == 0
    model = load_model(out)
    meta = model.metadata
    assert model.threshold == meta["threshold_calibration"]["threshold"]
    assert model.relative_threshold == meta["threshold_calibration"]["relative_threshold"]
    assert meta["threshold_source"].startswith("best mean F1")
    assert "training_threshold" in meta
    assert model.noise_peak_rate == meta["noise_peak_rate"]
    assert meta["noise_peak_rate"]["n_images"] == 2
    assert meta["threshold_calibration"]["with_noise_limited_lowering"] is True
    json.dumps(meta)  # plain types only
    assert "threshold" in capsys.readouterr().out
    # The weights are unchanged.
    for a, b in zip(model.net.state_dict().values(), shipped_model.net.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_noise_peak_rate_falls_with_the_threshold(shipped_model):
    null = measure_noise_peak_rate(shipped_model, n_images=2, seed=4)
    rates = np.array(null["rate_per_um2"])
    assert null["thresholds"] == [float(t) for t in NOISE_THRESHOLDS]
    assert null["area_um2"] > 0.4  # two 512-nm fields
    assert np.all(np.diff(rates) <= 0)
    # Noise alone gives many weak peaks and almost no confident ones.
    assert rates[0] > 50 and rates[-1] < 5
