"""Bad input to `train fit` and `train export`: one line naming the file or option, exit 2,
nothing written (no empty run folder)."""

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

pytest.importorskip("lightning")
pytest.importorskip("albumentations")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from her2net.errors import InputError  # noqa: E402
from her2net.io import write_tiff  # noqa: E402
from train.__main__ import main  # noqa: E402
from train.datamodule import TileDataModule  # noqa: E402
from train.datasets import iter_annotated  # noqa: E402
from train.export import describe_data  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two small dark-label images with points, and variants of the points CSV."""
    root = tmp_path_factory.mktemp("annotated")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2):
        write_tiff(root / f"grid{i}.tif", rng.normal(100, 5, (48, 48)).astype(np.float32),
                   pixel_size_nm=1.5)
        rows += [{"image": f"grid{i}.tif", "x_px": 10.0 + j, "y_px": 20.0} for j in range(3)]
    table = pd.DataFrame(rows)
    table.to_csv(root / "points.csv", index=False)
    table.drop(columns="y_px").to_csv(root / "no_y.csv", index=False)
    bad = table.astype({"x_px": object})
    bad.loc[4, "x_px"] = "abc"
    bad.to_csv(root / "abc.csv", index=False)
    return root


def _datamodule(folder, **annotated):
    spec = {"images_dir": str(folder), "points_csv": str(folder / "points.csv"), **annotated}
    return TileDataModule(pixel_size_nm=1.0, tile_px=32, train_tiles_per_epoch=4, val_tiles=2,
                          batch_size=2, num_workers=0, synthetic_weight=0.5, annotated=spec)


@pytest.mark.parametrize("annotated, message", [
    ({"val_image": ["grid1.tif"]}, r"data.annotated: unknown key\(s\) val_image \(valid: images_dir"),
    ({"manfest": "cells.csv"}, r"unknown key\(s\) manfest"),
    ({"polarity": "Dark"}, r"data.annotated.polarity 'Dark': expected 'bright' or 'dark'"),
    ({"points_csv": None}, r"data.annotated: points_csv not given"),
])
def test_datamodule_refuses_a_bad_annotated_spec_when_built(folder, annotated, message):
    with pytest.raises(InputError, match=message):
        _datamodule(folder, **annotated)


@pytest.mark.parametrize("annotated, message", [
    ({"points_csv": "{folder}/no_y.csv"}, r"no_y.csv: lacks column\(s\) y_px"),
    ({"points_csv": "{folder}/none.csv"}, r"none.csv: no such points file"),
    ({"points_csv": "{folder}/abc.csv"}, r"abc.csv: line 6: x_px 'abc' is not a number"),
    ({"manifest": "{folder}/cells.csv"}, r"cells.csv: no such manifest file"),
    ({"images_dir": "{folder}/moved"}, r"moved: no such images folder"),
    # A typo'd held-out image next to a real one would otherwise be trained on.
    ({"val_images": ["grid1.tif", "zzz.tif", "yyy.tif"]}, r"unknown image\(s\) zzz.tif, yyy.tif"),
    ({"val_images": ["zzz.tif"]}, r"unknown image\(s\) zzz.tif"),
    ({"val_images": ["grid0.tif", "grid1.tif"]}, r"val_images: holds every image"),
])
def test_datamodule_setup_refuses_bad_annotated_data(folder, annotated, message):
    annotated = {k: v.format(folder=folder) if isinstance(v, str) else v
                 for k, v in annotated.items()}
    with pytest.raises(InputError, match=message):
        _datamodule(folder, **annotated).setup("fit")


def test_annotated_images_never_drawn_are_warned_about(folder, caplog):
    with caplog.at_level(logging.WARNING, logger="train.datamodule"):
        TileDataModule(synthetic_weight=1.0, annotated={"images_dir": str(folder),
                                                        "points_csv": str(folder / "points.csv")})
    assert "never drawn" in caplog.text


def test_moved_images_are_found_in_images_dir(folder, tmp_path):
    # `her2net detect` on a folder writes absolute paths; the images have moved since.
    table = pd.read_csv(folder / "points.csv")
    table["image"] = [str(tmp_path / "gone" / name) for name in table["image"]]
    table.to_csv(tmp_path / "det.csv", index=False)
    found = list(iter_annotated(folder, tmp_path / "det.csv"))
    assert [Path(name).name for name, *_ in found] == ["grid0.tif", "grid1.tif"]
    assert all(len(xy) == 3 for *_, xy in found)
    with pytest.raises(InputError, match=r"det.csv: image '.*grid0.tif' not found"):
        list(iter_annotated(tmp_path, tmp_path / "det.csv"))


def _fit(tmp_path, *extra):
    return main(["fit", "--config", str(ROOT / "configs" / "tiny.yaml"),
                 "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.logger.init_args.save_dir", str(tmp_path), *extra])


@pytest.mark.parametrize("extra, message", [
    # Raised in the datamodule's setup, which Lightning calls after the logger made version_0.
    (["--data.annotated.val_images", "[grid1.tif, zzz.tif]"], "unknown image(s) zzz.tif"),
    (["--model.init_checkpoint", "nowhere.pt"], "model.init_checkpoint: nowhere.pt: no such"),
])
def test_fit_with_bad_input_exits_2_with_one_line_and_no_run_folder(folder, tmp_path, capsys,
                                                                    extra, message):
    run = tmp_path / "run"
    assert _fit(run, "--data.annotated.images_dir", str(folder), "--data.annotated.points_csv",
                str(folder / "points.csv"), "--data.synthetic_weight", "0.5", *extra) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train:")]
    assert len(err) == 1 and err[0].startswith("train: error: ") and message in err[0]
    assert not run.exists()


def test_program_run_lets_lightning_read_sys_argv(monkeypatch):
    # Given args and sys.argv both, LightningCLI warns on every fit.
    import train.cli

    seen = []
    monkeypatch.setattr(train.cli, "run_cli", lambda args=None: seen.append(args))
    monkeypatch.setattr(sys, "argv", ["train", "fit", "--config", "x.yaml"])
    assert main() == 0 and main(["fit"]) == 0
    assert seen == [None, ["fit"]]


def test_configs_start_from_checkpoints_that_run_shipped_writes():
    written = (ROOT / "train" / "run_shipped.sh").read_text()
    for config in sorted((ROOT / "configs").glob("*.yaml")):
        start = (yaml.safe_load(config.read_text()).get("model") or {}).get("init_checkpoint")
        if start and start != "shipped":
            assert start in written, config.name


def test_export_describes_the_runs_data():
    annotated = {"images_dir": "my_images", "points_csv": "my_points.csv", "polarity": "dark",
                 "val_images": ["a.tif"]}
    text = describe_data({"synthetic_weight": 0.3, "annotated": annotated,
                          "simulator_overrides": {"label": "gold"}})
    assert text.startswith("annotated images my_points.csv in my_images, polarity dark")
    assert "held out for validation: a.tif (70% of the tiles)" in text
    assert 'fixed {"label": "gold"}) (30%)' in text
    assert describe_data({}) == "on-the-fly simulated tiles (her2net.simulate, domain randomised)"


@pytest.mark.parametrize("case, message", [
    ("missing", "no such run checkpoint file"),
    ("junk", "not a readable checkpoint"),
    ("exported", "an exported inference checkpoint, not a training run's Lightning .ckpt"),
    ("no_net", "not a Lightning checkpoint of `python -m train fit`"),
    ("out_folder", "does not exist"),
    ("bad_json", "--extra-json: not valid JSON"),
    ("list_json", "--extra-json: expected a JSON object"),
    ("threshold", "threshold 7.0: expected a value between 0 and 1"),
])
def test_export_bad_input_exits_2_with_one_line_and_writes_nothing(shipped_model, tmp_path,
                                                                   capsys, case, message):
    from train.export import main as export_main

    good = tmp_path / "fake.ckpt"  # passes the checks before the weights are loaded
    torch.save({"state_dict": {"net.x": torch.zeros(1)}}, good)
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "no_net.ckpt")
    run = {"missing": tmp_path / "nowhere.ckpt", "junk": tmp_path / "junk.ckpt",
           "exported": shipped_model.path, "no_net": tmp_path / "no_net.ckpt"}.get(case, good)
    out = tmp_path / ("missing/out.pt" if case == "out_folder" else "out.pt")
    extra = {"bad_json": ["--extra-json", "{bad"], "list_json": ["--extra-json", "[1]"],
             "threshold": ["--threshold", "7"]}.get(case, [])
    assert export_main([str(run), str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists() and not (tmp_path / "missing").exists()
