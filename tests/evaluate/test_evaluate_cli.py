"""`her2net evaluate` writes what it promises; bad input gets one line and exit 2."""

import json

import numpy as np
import pandas as pd
import pytest

from her2net.cli.main import main


@pytest.fixture()
def case(tmp_path):
    """Two images at 2 nm/px and 0.5 nm/px; detections in pixels only, truth in pixels and nm."""
    rng = np.random.default_rng(1)
    rows_t, rows_d = [], []
    for image, px in (("cell1.tif", 2.0), ("cell2.tif", 0.5)):
        xy = rng.uniform(5, 200, size=(30, 2))
        kind = np.where(np.arange(30) < 10, "dimer", "monomer")
        rows_t.append(pd.DataFrame({"image": image, "cell": image[:-4], "x_px": xy[:, 0],
                                    "y_px": xy[:, 1], "x_nm": xy[:, 0] * px,
                                    "y_nm": xy[:, 1] * px, "kind": kind, "region": 1}))
        det = xy[:25] + [0.5 / px, 0.0]  # 0.5 nm off in x
        det = np.vstack([det, [[300.0, 300.0]]])  # one false positive
        rows_d.append(pd.DataFrame({"image": image, "x_px": det[:, 0], "y_px": det[:, 1],
                                    "score": np.linspace(1, 0.5, len(det))}))
    truth = tmp_path / "truth.csv"
    dets = tmp_path / "detections.csv"
    pd.concat(rows_t).to_csv(truth, index=False)
    pd.concat(rows_d).to_csv(dets, index=False)
    manifest = tmp_path / "cells.csv"
    pd.DataFrame({"image": ["cell1.tif", "cell2.tif"], "cell": ["cell1", "cell2"],
                  "pixel_size_nm": [2.0, 0.5]}).to_csv(manifest, index=False)
    return tmp_path, dets, truth, manifest


def test_cli_writes_metrics_tables_and_plots(case):
    tmp, dets, truth, manifest = case
    out = tmp / "eval"
    assert main(["evaluate", str(dets), str(truth), "--out", str(out), "--manifest",
                 str(manifest)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["localisation_error.png", "metrics.json", "pair_resolution.csv",
                     "pair_resolution.png", "per_image.csv", "precision_recall.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    s = metrics["summary"]
    assert s["n_truth"] == 60 and s["n_detected"] == 52 and s["n_matched"] == 50
    assert s["rmse_nm"] == pytest.approx(0.5)
    assert s["recall"] == pytest.approx(50 / 60)
    assert {r["kind"] for r in metrics["per_kind"]} == {"dimer", "monomer"}
    per_image = pd.read_csv(out / "per_image.csv")
    assert per_image["n_matched"].tolist() == [25, 25]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_pixel_sizes_from_truth_without_manifest(case):
    tmp, dets, truth, _ = case
    out = tmp / "eval2"
    assert main(["evaluate", str(dets), str(truth), "--out", str(out), "--no-plots",
                 "--tolerance-nm", "0.4"]) == 0
    s = json.loads((out / "metrics.json").read_text())["summary"]
    assert s["n_matched"] == 0  # every detection is 0.5 nm off: beyond 0.4 nm
    assert not list(out.glob("*.png"))


def test_cli_dimer_fraction(case):
    tmp, dets, truth, manifest = case
    pd.DataFrame({"cell": ["cell1", "cell2"], "dimer_fraction": [0.3, 0.0]}).to_csv(
        tmp / "analysis.csv", index=False)
    pd.DataFrame({"cell": ["cell1", "cell2"], "dimer_fraction": [0.2, 0.1]}).to_csv(
        tmp / "cell_truth.csv", index=False)
    out = tmp / "eval3"
    assert main(["evaluate", str(dets), str(truth), "--out", str(out), "--no-plots",
                 "--analysis", str(tmp / "analysis.csv"),
                 "--cell-truth", str(tmp / "cell_truth.csv")]) == 0
    d = json.loads((out / "metrics.json").read_text())["dimer_fraction"]
    assert d["n_cells"] == 2 and d["mae"] == pytest.approx(0.1) and d["bias"] == pytest.approx(0)
    assert len(pd.read_csv(out / "dimer_fraction_per_cell.csv")) == 2


@pytest.mark.parametrize("problem", ["missing_file", "no_position", "pixels_only", "bad_number",
                                     "tolerance"])
def test_cli_bad_input_one_line_exit_2(case, capsys, problem):
    tmp, dets, truth, manifest = case
    args = [str(dets), str(truth)]
    if problem == "missing_file":
        args[0] = str(tmp / "nope.csv")
    elif problem == "no_position":
        pd.DataFrame({"image": ["a"], "x": [1]}).to_csv(tmp / "bad.csv", index=False)
        args[0] = str(tmp / "bad.csv")
    elif problem == "pixels_only":
        t = pd.read_csv(truth).drop(columns=["x_nm", "y_nm"])
        t.to_csv(tmp / "truth_px.csv", index=False)
        args[1] = str(tmp / "truth_px.csv")
    elif problem == "bad_number":
        d = pd.read_csv(dets).astype({"x_px": object})
        d.loc[3, "x_px"] = "abc"
        d.to_csv(tmp / "bad.csv", index=False)
        args[0] = str(tmp / "bad.csv")
    else:
        args += ["--tolerance-nm", "-1"]
    out = tmp / "eval_bad"
    assert main(["evaluate", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("her2net: error:")
    assert not out.exists()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".eval_bad")]


def test_cli_refuses_non_empty_out(case, capsys):
    tmp, dets, truth, manifest = case
    out = tmp / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["evaluate", str(dets), str(truth), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
