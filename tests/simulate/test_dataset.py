"""Tests of simulate_dataset and `her2net simulate`: files, determinism, truth consistency, bad input."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from her2net.cli.main import main
from her2net.io import read_image, read_manifest
from her2net.simulate.dataset import simulate_dataset


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "out"
    result = simulate_dataset(out, cells=3, images_per_cell=2, size_px=192, pixel_size_nm=1.0,
                              dimer_absent_fraction=0.34, labeling_efficiency=0.8, seed=7,
                              density_range_per_um2=(600, 900))
    return out, result


def test_files_and_columns(small):
    out, result = small
    for name in ("cells.csv", "truth.csv", "cell_truth.csv", "image_truth.csv", "params.json"):
        assert (out / name).is_file(), name
    manifest = read_manifest(out / "cells.csv")
    assert list(manifest.columns[:4]) == ["image", "cell", "pixel_size_nm", "mask"]
    assert len(manifest) == 6 and manifest["cell"].nunique() == 3
    truth = pd.read_csv(out / "truth.csv")
    for col in ("image", "cell", "x_px", "y_px", "x_nm", "y_nm", "kind", "group", "region", "label",
                "diameter_nm", "receptor_kind"):
        assert col in truth.columns, col
    assert set(truth["image"]) <= set(manifest["image"])
    cell_truth = pd.read_csv(out / "cell_truth.csv")
    for col in ("cell", "n_labels", "paired_fraction", "dimer_absent", "density_per_um2",
                "receptor_paired_fraction", "labeling_efficiency", "dimer_fraction"):
        assert col in cell_truth.columns, col
    assert json.loads((out / "params.json").read_text())["seed"] == 7


def test_images_and_masks_read_back_with_pixel_size(small):
    out, _ = small
    manifest = read_manifest(out / "cells.csv")
    row = manifest.iloc[0]
    image = read_image(row["image_path"])
    mask = read_image(row["mask_path"])
    assert image.pixel_size_nm == pytest.approx(row["pixel_size_nm"], rel=1e-12)
    assert image.original_dtype == "uint16" and image.data.shape == (192, 192)
    assert set(np.unique(mask.data)) <= {0, 1, 2}


def test_truth_lies_in_its_mask_region(small):
    out, result = small
    manifest = read_manifest(out / "cells.csv").set_index("image")
    truth = result.truth
    for image, pts in truth.groupby("image"):
        mask = read_image(manifest.loc[image, "mask_path"]).data
        rows = np.floor(pts["y_px"].to_numpy() + 0.5).astype(int)
        cols = np.floor(pts["x_px"].to_numpy() + 0.5).astype(int)
        assert (mask[rows, cols] == pts["region"].to_numpy()).all()
    assert np.allclose(truth["x_nm"], truth["x_px"] * truth["image"].map(manifest["pixel_size_nm"]), atol=1e-3)


def test_dimer_absent_cells_have_no_dimers_or_clusters(small):
    _, result = small
    ct = result.cell_truth
    assert ct["dimer_absent"].any() and not ct["dimer_absent"].all()
    for cell in ct.loc[ct["dimer_absent"], "cell"]:
        kinds = set(result.truth.loc[result.truth["cell"] == cell, "receptor_kind"])
        assert kinds <= {"monomer"}
    for _, row in ct.iterrows():
        sel = result.truth[result.truth["cell"] == row["cell"]]
        assert row["n_labels"] == len(sel)
        assert row["paired_fraction"] == pytest.approx((sel["kind"] != "monomer").mean())


def test_same_seed_identical_bytes_other_seed_differs(tmp_path):
    kwargs = dict(cells=2, images_per_cell=1, size_px=96, pixel_size_nm=1.5)
    simulate_dataset(tmp_path / "a", seed=1, **kwargs)
    simulate_dataset(tmp_path / "b", seed=1, workers=2, **kwargs)
    simulate_dataset(tmp_path / "c", seed=2, **kwargs)
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert a == b
    assert a["images/cell001_img01.tif"] != c["images/cell001_img01.tif"]


def test_cli_writes_float_and_preview(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["simulate", str(out), "--cells", "1", "--images-per-cell", "1", "--size", "64",
               "--pixel-size", "1", "--float", "--preview", "--label", "qd", "--seed", "3"])
    assert rc == 0
    assert (out / "preview.png").stat().st_size > 1000
    assert read_image(out / "images" / "cell001_img01.tif").original_dtype == "float32"
    truth = pd.read_csv(out / "truth.csv")
    assert set(truth["label"]) <= {"qd"}


@pytest.mark.parametrize("args,match", [
    (["--cells", "0"], "--cells:"),
    (["--size", "-3"], "--size:"),
    (["--dimer-fraction", "1.5"], "--dimer-fraction:"),
    (["--dimer-absent-fraction", "-0.1"], "--dimer-absent-fraction:"),
    (["--labeling-efficiency", "2"], "--labeling-efficiency:"),
    (["--pixel-size", "12"], "smaller than a pixel"),
    (["--dimer-fraction-range", "0.5", "0.2"], "--dimer-fraction-range:"),
])
def test_cli_bad_input_exit_2_nothing_written(tmp_path, capsys, args, match):
    out = tmp_path / "sim"
    rc = main(["simulate", str(out), "--size", "64", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert match in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_non_empty_out_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["simulate", str(out), "--cells", "1", "--images-per-cell", "1", "--size", "32"]) == 2
    assert (out / "keep.txt").exists()
    assert main(["simulate", str(out), "--cells", "1", "--images-per-cell", "1", "--size", "32", "--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and (out / "cells.csv").exists()
