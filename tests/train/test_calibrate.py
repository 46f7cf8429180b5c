import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightning")  # the train extra (installed by make test)

from her2net.model import load_model  # noqa: E402
from train.calibrate import (NOISE_THRESHOLDS, RELATIVE_THRESHOLDS, THRESHOLDS,  # noqa: E402
                             calibrate_on_replicas, calibrate_threshold, main,
                             measure_noise_peak_rate, replica_scenes)


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


def test_replica_sweep_weighs_dense_and_sparse_gold():
    scenes = list(replica_scenes(3, seed=3))
    assert [group for group, *_ in scenes] == ["drawn", "visible", "sparse"]
    assert all(polarity == "dark" for *_, polarity in scenes)
    areas = {group: image.size * px * px / 1e6 for group, image, _, px, _ in scenes}
    counts = {group: len(points) for group, _, points, _, _ in scenes}
    # 10-30 receptors per um^2 (a dimer or a cluster carries more than one gold)
    assert 5 < counts["sparse"] / areas["sparse"] < 100
    model = load_model("replicas")
    result = calibrate_on_replicas(model, n_scenes=3, seed=3, thresholds=(0.15, 0.3, 0.45),
                                   relative_thresholds=(0.0, 0.5), sparse_thresholds=(0.5, 0.6),
                                   sparse_below=(100.0,))
    # Stage 1: the pair with the best mean F1 over the replicas with gold in numbers.
    table = result["table"]
    best = max(table, key=lambda row: row["mean_f1"])
    assert (result["threshold"], result["relative_threshold"]) == (best["threshold"],
                                                                   best["relative_threshold"])
    assert best["mean_f1"] == pytest.approx(np.mean([best["f1_drawn"], best["f1_visible"]]))
    assert best["mean_f1"] > 0.6
    # Stage 2: no rule, or a higher threshold for sparse gold, by the mean F1 over all three.
    sparse = result["sparse_table"]
    assert len(sparse) == 1 + 2 and "sparse_threshold" not in sparse[0]
    assert all(row["threshold"] == result["threshold"] for row in sparse)
    pick = max(sparse, key=lambda row: row["mean_f1"])
    assert result["mean_f1"] == pick["mean_f1"]
    assert pick["mean_f1"] == pytest.approx(np.mean([pick["f1_drawn"], pick["f1_visible"],
                                                     pick["f1_sparse"]]))
    rule = result["sparse_threshold"]
    assert rule is None or (rule["threshold"], rule["below_per_um2"]) == (
        pick["sparse_threshold"], pick["sparse_below_per_um2"])
    # A band condition adds rules to choose from, each needing clutter between the thresholds.
    banded = calibrate_on_replicas(model, n_scenes=3, seed=3, thresholds=(0.3,),
                                   relative_thresholds=(0.5,), sparse_thresholds=(0.5,),
                                   sparse_below=(100.0,), sparse_band_min=(0.0, 1e6))
    assert [row.get("sparse_band_min_per_um2") for row in banded["sparse_table"]] == [None, 0.0, 1e6]
    # Needing a million peaks per um^2 in the band, the rule never holds: F1 as without one.
    assert banded["sparse_table"][2]["mean_f1"] == banded["sparse_table"][0]["mean_f1"]
    # Among thousands of membrane particles per um^2, sparse gold wants the higher threshold:
    # with the rule its F1 is higher than without, and the images with gold in numbers keep
    # theirs (their confident labels are many).
    assert max(row["f1_sparse"] for row in sparse[1:]) > sparse[0]["f1_sparse"]
    assert result["method"].startswith("best mean F1 over simulated freeze-fracture replicas")


def test_calibrate_replicas_and_annotated_are_exclusive(shipped_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(shipped_model.path), "--replicas", "--annotated", str(tmp_path / "p.csv")])
    assert exc.value.code == 2
    assert "give one" in capsys.readouterr().err


def test_keep_threshold_goes_with_replicas(shipped_model, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(shipped_model.path), "--keep-threshold"])
    assert exc.value.code == 2
    assert "--keep-threshold goes with --replicas" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--sparse-thresholds", "0.5"], "--sparse-thresholds goes with --replicas"),
    (["--replicas", "--sparse-thresholds", "1.5"], "each must be a probability in (0, 1)"),
    (["--sparse-below", "60"], "--sparse-below goes with --replicas"),
    (["--replicas", "--sparse-below", "0"], "each must be a positive number of peaks"),
    (["--sparse-band-min", "10"], "--sparse-band-min goes with --replicas"),
    (["--replicas", "--sparse-band-min", "-1"], "0 or more"),
])
def test_sparse_thresholds_are_checked_before_any_work(shipped_model, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main([str(shipped_model.path), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_shipped_replica_checkpoint_has_its_sparse_rule():
    model = load_model("replicas")
    assert (model.threshold, model.relative_threshold) == (0.325, 0.45)
    assert model.sparse_threshold == {"threshold": 0.5, "below_per_um2": 60.0,
                                      "confident_score": 0.6, "band_min_per_um2": 10.0}
    assert load_model(None).sparse_threshold is None  # the default checkpoint has none


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


def _annotated_folder(tmp_path, n=3):
    from her2net.io import write_tiff
    from her2net.simulate import simulate_tile

    rows, manifest = [], []
    for i in range(n):
        image, points, _ = simulate_tile(np.random.default_rng([31, i]), 160, 1.5, polarity="dark",
                                         label="gold", matched_snr=8.0)
        name = f"held_out_{i}.tif"
        write_tiff(tmp_path / name, image.astype(np.float32), pixel_size_nm=1.5)
        manifest.append({"image": name, "cell": f"c{i}", "pixel_size_nm": 1.5})
        rows += [{"image": name, "x_px": x, "y_px": y} for x, y in points]
    pd.DataFrame(rows).to_csv(tmp_path / "points.csv", index=False)
    pd.DataFrame(manifest).to_csv(tmp_path / "cells.csv", index=False)
    return tmp_path / "points.csv", tmp_path / "cells.csv", [m["image"] for m in manifest]


def test_calibrate_on_annotated_images_replays_detect(shipped_model, tmp_path, capsys):
    from her2net.detect import detect
    from her2net.evaluate import match_points
    from her2net.io import read_image

    points_csv, manifest, names = _annotated_folder(tmp_path)
    out = tmp_path / "calibrated.pt"
    assert main([str(shipped_model.path), "--out", str(out), "--noise-images", "2",
                 "--annotated", str(points_csv), "--manifest", str(manifest),
                 "--polarity", "dark"]) == 0
    model = load_model(out)
    result = model.metadata["threshold_calibration"]
    assert result["images"] == names
    assert model.metadata["threshold_source"] == "best F1 on 3 annotated images (train/calibrate.py)"
    assert "--annotated" in model.metadata["training_commands"][-1]
    assert "over the annotated images" in capsys.readouterr().out
    # The sweep's pooled F1 is what detect(threshold='auto') gives with the chosen pair.
    truth = pd.read_csv(points_csv)
    tp = n_found = n_truth = 0
    for name in names:
        image = read_image(tmp_path / name)
        found = detect(image.data, pixel_size_nm=1.5, model=model, polarity="dark", device="cpu")
        xy = truth.loc[truth["image"] == name, ["x_px", "y_px"]].to_numpy() * 1.5
        pairs, _ = match_points(found[["x_nm", "y_nm"]].to_numpy(), xy, tolerance=4.0)
        tp, n_found, n_truth = tp + len(pairs), n_found + len(found), n_truth + len(xy)
    assert result["mean_f1"] == pytest.approx(2 * tp / (n_found + n_truth), abs=1e-9)
    assert 0.5 < result["mean_f1"] < 1.0  # faint labels: neither trivial nor broken
    assert result["mean_f1"] == max(row["f1_annotated"] for row in result["table"])


def test_calibrate_on_annotated_bad_input_fails_fast(shipped_model, tmp_path, capsys):
    out = tmp_path / "calibrated.pt"
    missing = tmp_path / "nowhere.csv"
    assert main([str(shipped_model.path), "--out", str(out), "--annotated", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere.csv" in err and len(err.splitlines()) == 1
    assert not out.exists()
    points_csv, manifest, _ = _annotated_folder(tmp_path, n=1)
    # A typo'd held-out image, alone or next to a real one, is named.
    for images in (["other.tif"], ["held_out_0.tif", "other.tif", "zzz.tif"]):
        assert main([str(shipped_model.path), "--out", str(out), "--annotated", str(points_csv),
                     "--images", *images]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert f"{points_csv}: unknown image(s) {', '.join(images[-2:] if len(images) > 1 else images)}" in err
    assert not out.exists()
    assert main([str(shipped_model.path), "--out", str(out), "--annotated", str(points_csv),
                 "--images-dir", str(tmp_path / "moved")]) == 2
    assert "moved: no such images folder" in capsys.readouterr().err
    table = pd.read_csv(points_csv).astype({"x_px": object})
    table.loc[2, "x_px"] = "abc"
    table.to_csv(tmp_path / "abc.csv", index=False)
    assert main([str(shipped_model.path), "--out", str(out), "--annotated",
                 str(tmp_path / "abc.csv")]) == 2
    assert "abc.csv: line 4: x_px 'abc' is not a number" in capsys.readouterr().err
    assert not out.exists()


def _checkpoint_copy(shipped_model, path, **changes):
    import torch

    payload = torch.load(shipped_model.path, map_location="cpu", weights_only=True)
    payload.update(changes.pop("payload", {}))
    payload["metadata"] = {**payload["metadata"], **changes}
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("case", ["missing", "junk", "lightning", "newer"])
def test_calibrate_with_a_bad_checkpoint_exits_2_with_one_line(shipped_model, tmp_path, capsys,
                                                              case):
    # The wording is her2net.load_model's; here: one line naming the file, exit 2, no output.
    import torch

    path = tmp_path / f"{case}.pt"
    if case == "junk":
        path.write_text("not a checkpoint")
    elif case == "lightning":
        torch.save({"state_dict": {"net.x": torch.zeros(1)}, "pytorch-lightning_version": "2"},
                   path)
    elif case == "newer":
        _checkpoint_copy(shipped_model, path, payload={"format_version": 99})
    out = tmp_path / "out.pt"
    assert main([str(path), "--out", str(out), "--scenes", "1", "--noise-images", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"train: error: {path}: ")
    assert not out.exists()


def test_calibrate_takes_the_fine_tuned_polarity_and_refuses_f1_zero(shipped_model, tmp_path,
                                                                     capsys):
    from train.calibrate import _training_polarity

    points_csv, _, _ = _annotated_folder(tmp_path, n=1)  # dark labels
    tuned = _checkpoint_copy(shipped_model, tmp_path / "tuned.pt",
                             training_config={"data": {"annotated": {"polarity": "dark"}}})
    assert _training_polarity(load_model(tuned).metadata) == "dark"
    assert _training_polarity(shipped_model.metadata) is None  # its 'polarity' is the input's
    assert main([str(tuned), "--out", str(tmp_path / "x.pt"), "--annotated", str(points_csv),
                 "--images", "nowhere.tif"]) == 2
    assert "polarity dark (the checkpoint's fine-tuning data" in capsys.readouterr().out
    # Bright on dark labels finds none: nothing is written over the checkpoint.
    before = tuned.read_bytes()
    assert main([str(tuned), "--annotated", str(points_csv), "--polarity", "bright",
                 "--noise-images", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "F1 is 0 at every threshold" in err
    assert tuned.read_bytes() == before
