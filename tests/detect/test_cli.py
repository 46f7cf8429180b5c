import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tifffile
from toynet import render_labels

from her2net.cli.main import main
from her2net.io import write_tiff

COLUMNS = ["image", "x_px", "y_px", "x_nm", "y_nm", "score", "diameter_nm", "intensity"]


def _image(rng, shape=(96, 112)):
    truth = rng.uniform(8, min(shape) - 8, (6, 2))
    return (render_labels(truth, shape, noise=0.02, rng=rng) * 1000 + 100).astype(np.uint16)


@pytest.fixture()
def images(tmp_path, rng):
    folder = tmp_path / "images"
    folder.mkdir()
    for name, size in (("a.tif", 1.2), ("b.tif", 0.9)):
        write_tiff(folder / name, _image(rng), pixel_size_nm=size)
    return folder


def _run(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("her2net: error")]


def _base(checkpoint):
    return ["--checkpoint", str(checkpoint), "--threshold", "0.01", "--polarity", "bright",
            "--precision", "float32"]


def test_writes_csv_and_sidecar(images, tmp_path, random_checkpoint, capsys):
    out = tmp_path / "det.csv"
    code, errors = _run(["detect", str(images), "--out", str(out), "--workers", "2",
                         *_base(random_checkpoint)], capsys)
    assert code == 0 and not errors
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    assert set(table["image"]) == {str(images / "a.tif"), str(images / "b.tif")}
    for name, size in (("a.tif", 1.2), ("b.tif", 0.9)):
        part = table[table["image"] == str(images / name)]
        np.testing.assert_allclose(part["x_nm"], part["x_px"] * size, rtol=1e-5)
    sidecar = json.loads((tmp_path / "det.json").read_text())
    assert sidecar["checkpoint"] == str(random_checkpoint)
    assert sidecar["threshold"] == 0.01
    assert sidecar["checkpoint_metadata"]["pixel_size_nm"] == 1.0
    assert sidecar["options"]["polarity"] == "bright" and sidecar["her2net_version"]
    assert [i["polarity"] for i in sidecar["images"]] == ["bright", "bright"]
    assert sidecar["run_polarity"] is None  # given, not decided over the run
    assert sidecar["detections"] == len(table)


def test_manifest_adds_cell_and_region(tmp_path, rng, random_checkpoint, capsys):
    image = _image(rng)
    write_tiff(tmp_path / "c1.tif", image, pixel_size_nm=1.0)
    tifffile.imwrite(tmp_path / "c2.tif", image)  # no pixel size: the manifest's is used
    mask = np.zeros(image.shape, np.uint8)
    mask[:, 56:] = 1
    mask[:20, 56:] = 2
    tifffile.imwrite(tmp_path / "c1_mask.tif", mask)
    (tmp_path / "cells.csv").write_text(
        "image,cell,pixel_size_nm,mask\nc1.tif,A,1.0,c1_mask.tif\nc2.tif,B,1.5,\n")
    out = tmp_path / "det.csv"
    code, errors = _run(["detect", str(tmp_path / "cells.csv"), "--out", str(out),
                         *_base(random_checkpoint)], capsys)
    assert code == 0 and not errors
    table = pd.read_csv(out, dtype={"cell": str})
    assert list(table.columns) == COLUMNS + ["cell", "region"]
    c1 = table[table["image"] == "c1.tif"]
    assert set(c1["cell"]) == {"A"} and len(c1) > 0
    expected = mask[np.rint(c1["y_px"]).astype(int).clip(0, 95), np.rint(c1["x_px"]).astype(int).clip(0, 111)]
    np.testing.assert_array_equal(c1["region"].to_numpy(), expected)
    assert {0, 1} <= set(c1["region"])
    c2 = table[table["image"] == "c2.tif"]
    assert set(c2["cell"]) == {"B"} and c2["region"].isna().all()
    np.testing.assert_allclose(c2["x_nm"], c2["x_px"] * 1.5, rtol=1e-5)


def test_overlays(images, tmp_path, random_checkpoint, capsys):
    overlays = tmp_path / "overlays"
    code, _ = _run(["detect", str(images), "--out", str(tmp_path / "d.csv"), "--overlays",
                    str(overlays), *_base(random_checkpoint)], capsys)
    assert code == 0
    assert sorted(p.name for p in overlays.iterdir()) == ["a.png", "b.png"]
    code, errors = _run(["detect", str(images), "--out", str(tmp_path / "e.csv"), "--overlays",
                         str(overlays), *_base(random_checkpoint)], capsys)
    assert code == 2 and len(errors) == 1 and "not empty" in errors[0]
    assert not (tmp_path / "e.csv").exists()


def test_one_unreadable_image_is_skipped(images, tmp_path, random_checkpoint, capsys):
    (images / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    out = tmp_path / "det.csv"
    code = main(["detect", str(images), "--out", str(out), *_base(random_checkpoint)])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.tif" in err
    table = pd.read_csv(out)
    assert set(table["image"]) == {str(images / "a.tif"), str(images / "b.tif")}
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert [f["image"] for f in sidecar["failed"]] == [str(images / "broken.tif")]


def _bad_inputs(tmp_path, rng):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    (tmp_path / "empty.tif").write_bytes(b"")
    tifffile.imwrite(tmp_path / "nosize.tif", _image(rng))
    tifffile.imwrite(tmp_path / "flat.tif", np.full((32, 32), 7, np.uint16))
    write_tiff(tmp_path / "ok.tif", _image(rng), pixel_size_nm=1.0)
    return {
        "missing": ([str(tmp_path / "nope.tif")], "no such file"),
        "folder without images": ([str(tmp_path / "empty_dir")], "no images"),
        "corrupt": ([str(tmp_path / "broken.tif")], "broken.tif"),
        "empty file": ([str(tmp_path / "empty.tif")], "empty"),
        "constant": ([str(tmp_path / "flat.tif")], "constant"),
        "no pixel size": ([str(tmp_path / "nosize.tif")], "--pixel-size"),
        "bad pixel size": ([str(tmp_path / "ok.tif"), "--pixel-size", "0"], "pixel"),
        "absurd pixel size": ([str(tmp_path / "ok.tif"), "--pixel-size", "5000"], "pixel"),
        "bad threshold": ([str(tmp_path / "ok.tif"), "--threshold", "abc"], "threshold"),
        "threshold out of range": ([str(tmp_path / "ok.tif"), "--threshold", "1.5"], "threshold"),
        "unsupported": ([str(tmp_path / "cells.txt")], "cells.txt"),
        "no input": ([], "no input"),
        "bad checkpoint": ([str(tmp_path / "ok.tif"), "--checkpoint", str(tmp_path / "ok.tif")],
                           "checkpoint"),
        "out is a folder": ([str(tmp_path / "ok.tif"), "--out", str(tmp_path / "empty_dir")], "folder"),
        "tile too small": ([str(tmp_path / "ok.tif"), "--tile", "100"], "--tile 100: too small"),
        "frame of a 2-D image": ([str(tmp_path / "ok.tif"), "--frame", "1"], "one frame"),
        "a run checkpoint": ([str(tmp_path / "ok.tif"), "--checkpoint", str(tmp_path / "run.ckpt")],
                             "not loadable weights-only"),
    }


@pytest.mark.parametrize("case", [
    "missing", "folder without images", "corrupt", "empty file", "constant", "no pixel size",
    "bad pixel size", "absurd pixel size", "bad threshold", "threshold out of range",
    "unsupported", "no input", "bad checkpoint", "out is a folder", "tile too small",
    "frame of a 2-D image", "a run checkpoint",
])
def test_bad_input_exit_2_one_line_nothing_written(case, tmp_path, rng, random_checkpoint, capsys):
    import torch

    (tmp_path / "cells.txt").write_text("x")
    torch.save({"state_dict": {}, "hparams": np.float64(0.5)}, tmp_path / "run.ckpt")
    args, expected = _bad_inputs(tmp_path, rng)[case]
    out = tmp_path / "out" / "det.csv"
    out.parent.mkdir()
    command = ["detect", *args]
    if "--out" not in args:
        command += ["--out", str(out)]
    if "--checkpoint" not in args:
        command += ["--checkpoint", str(random_checkpoint)]
    code, errors = _run(command + ["--polarity", "bright"], capsys)
    assert code == 2
    assert len(errors) == 1 and expected in errors[0], errors
    assert list(out.parent.iterdir()) == []


def test_help_does_not_import_torch():
    code = ("import sys\nfrom her2net.cli.main import main\n"
            "try:\n    main(['detect', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--polarity" in result.stdout and result.stdout.strip().endswith("NO-TORCH")


def test_stack_needs_frame_and_frame_option_picks_one(tmp_path):
    import numpy as np
    import tifffile

    from her2net.cli.main import main

    stack = np.random.default_rng(0).normal(100, 5, (4, 64, 64)).astype(np.float32)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, photometric="minisblack")
    out = tmp_path / "d.csv"
    assert main(["detect", str(path), "--pixel-size", "1", "--polarity", "bright",
                 "--out", str(out)]) in (1, 2)
    assert not out.exists()
    assert main(["detect", str(path), "--pixel-size", "1", "--polarity", "bright", "--frame", "2",
                 "--out", str(out)]) == 0
    assert out.exists()
