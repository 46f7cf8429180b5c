"""Training recipes: a tiny run on CPU, an overfit end-to-end check, export, fine-tuning."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("lightning")
pytest.importorskip("albumentations")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from her2net.errors import InputError  # noqa: E402
from her2net.evaluate import match_points  # noqa: E402
from her2net.io import write_tiff  # noqa: E402
from her2net.model import UNet, load_model, save_checkpoint  # noqa: E402
from her2net.simulate import simulate_tile  # noqa: E402
from train.cli import run_cli  # noqa: E402
from train.datasets import to_sample  # noqa: E402
from train.export import export_checkpoint  # noqa: E402
from train.module import heatmap_focal_loss  # noqa: E402


def _fit(tmp_path, config, *extra):
    return run_cli(["fit", "--config", str(ROOT / "configs" / config),
                    "--trainer.default_root_dir", str(tmp_path),
                    "--trainer.logger.init_args.save_dir", str(tmp_path), *extra])


def test_tiny_config_trains_loss_goes_down_and_exports(tmp_path):
    torch.manual_seed(0)
    _fit(tmp_path, "tiny.yaml", "--trainer.max_steps", "20", "--data.train_tiles_per_epoch", "40")
    metrics = pd.read_csv(next(tmp_path.glob("logs/version_*/metrics.csv")))
    losses = metrics["train_loss_step"].dropna().to_numpy()
    assert len(losses) >= 16
    assert losses[-4:].mean() < 0.8 * losses[:4].mean()
    assert metrics["val_f1"].notna().any()

    last = next(tmp_path.glob("**/last.ckpt"))
    out = export_checkpoint(last, tmp_path / "tiny.pt", description="tiny test run")
    model = load_model(out)
    meta = model.metadata
    assert meta["model_config"]["channels"] == [8, 16]
    assert meta["pixel_size_nm"] == 1.0 and 0 < model.threshold < 1
    assert meta["training_config"]["data"]["tile_px"] == 64
    for key in ("git_commit", "date", "validation", "data", "her2net_version"):
        assert key in meta

    # The monitoring callback's best score is kept whatever order the callbacks are stored in
    # (one that monitors nothing stores None).
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    best = {"best_model_score": torch.tensor(0.625)}
    ckpt["callbacks"] = {"ModelCheckpoint{'monitor': 'val_f1'}": best,
                         "ModelCheckpoint{'monitor': None}": {"best_model_score": None}}
    torch.save(ckpt, tmp_path / "two_callbacks.ckpt")
    out = export_checkpoint(tmp_path / "two_callbacks.ckpt", tmp_path / "two.pt")
    assert load_model(out).metadata["validation"]["best_monitored_score"] == 0.625


def _overfit_tiles():
    tiles = []
    for seed in range(4):
        image, points, _ = simulate_tile(np.random.default_rng(seed), 96, 1.0, polarity="bright",
                                         label="gold", gold_diameters_nm=(10.0,), matched_snr=40.0,
                                         density_per_um2=2500.0, cell_edge=False,
                                         debris_per_um2=0.0, salt_per_um2=0.0)
        tiles.append((image, points))
    return tiles


def test_overfit_model_finds_its_labels_through_detect(tmp_path):
    """End-to-end check that targets, post-processing and coordinates agree."""
    from her2net.detect import detect
    from her2net.model.preprocess import normalize_image

    torch.manual_seed(0)
    tiles = _overfit_tiles()
    assert sum(len(p) for _, p in tiles) >= 40
    samples = [to_sample(normalize_image(img), pts, sigma_px=1.5, offset_radius_px=2.0)
               for img, pts in tiles]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    net = UNet(channels=[16, 32], space_to_depth=2)
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)
    for _ in range(150):
        out = net(batch["image"])
        mask = batch["offset_mask"]
        off = ((out[:, 1:3] - batch["offsets"]).abs() * mask).sum() / (2 * mask.sum())
        loss = heatmap_focal_loss(out[:, :1], batch["heatmap"]) + off
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = save_checkpoint(tmp_path / "overfit.pt", net.eval(),
                           {"model_config": {"channels": [16, 32], "space_to_depth": 2},
                            "pixel_size_nm": 1.0, "threshold": 0.3})
    model = load_model(path)
    tp = fp = fn = 0
    errors = []
    for image, truth in tiles:
        found = detect(image, pixel_size_nm=1.0, model=model, polarity="bright", device="cpu")
        inside = truth[(truth >= 0).all(1) & (truth <= 95).all(1)]
        pairs, dist = match_points(found[["x_px", "y_px"]].to_numpy(), inside, tolerance=4.0)
        tp += len(pairs)
        fp += len(found) - len(pairs)
        fn += len(inside) - len(pairs)
        errors.append(dist)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 > 0.9, (tp, fp, fn)
    assert np.sqrt(np.mean(np.concatenate(errors) ** 2)) < 1.0  # sub-pixel, no half-pixel shift


def test_finetune_from_shipped_checkpoint_on_annotated_folder(tmp_path):
    images = tmp_path / "annotated"
    images.mkdir()
    rows = []
    for i in range(2):
        image, points, _ = simulate_tile(np.random.default_rng(100 + i), 96, 1.5, polarity="dark",
                                         label="gold")
        name = f"grid{i}.tif"
        write_tiff(images / name, image.astype(np.float32), pixel_size_nm=1.5)
        rows += [{"image": name, "x_px": x, "y_px": y, "score": 1.0} for x, y in points]
    pd.DataFrame(rows).to_csv(tmp_path / "points.csv", index=False)
    _fit(tmp_path, "finetune.yaml",
         "--data.annotated.images_dir", str(images),
         "--data.annotated.points_csv", str(tmp_path / "points.csv"),
         "--data.annotated.val_images", "[grid1.tif]",
         "--trainer.max_steps", "3",
         "--trainer.enable_progress_bar", "false",
         "--data.tile_px", "64", "--data.batch_size", "2", "--data.num_workers", "0",
         "--data.val_tiles", "4", "--data.train_tiles_per_epoch", "6")
    last = next(tmp_path.glob("**/last.ckpt"))
    out = export_checkpoint(last, tmp_path / "tuned.pt")
    shipped = load_model()
    tuned = load_model(out)
    assert tuned.metadata["model_config"] == shipped.metadata["model_config"]
    # The description is the run's data, not the synthetic-only default.
    assert tuned.metadata["data"].startswith(f"annotated images {tmp_path / 'points.csv'}")
    assert "polarity dark" in tuned.metadata["data"] and "(70% of the tiles)" in tuned.metadata["data"]
    changed = [not torch.equal(a, b) for a, b in zip(tuned.net.state_dict().values(),
                                                     shipped.net.state_dict().values())]
    assert any(changed)


def test_manifest_images_without_points_train_as_label_free(tmp_path):
    import tifffile

    from train.datasets import AnnotatedTiles, annotated_image_names

    rows, manifest = [], []
    for i in range(3):
        image, points, _ = simulate_tile(np.random.default_rng(200 + i), 64, 1.5, polarity="dark",
                                         label="gold", density_per_um2=2000.0)
        name = f"field{i}.tif"
        tifffile.imwrite(tmp_path / name, image.astype(np.float32))  # no pixel size in the file
        manifest.append({"image": name, "cell": f"c{i}", "pixel_size_nm": 1.5})
        if i < 2:  # field2: checked by hand, no labels (no rows in the points CSV)
            rows += [{"image": name, "x_px": x, "y_px": y} for x, y in points]
    pd.DataFrame(rows).to_csv(tmp_path / "points.csv", index=False)
    pd.DataFrame(manifest).to_csv(tmp_path / "cells.csv", index=False)

    names = annotated_image_names(tmp_path / "points.csv", tmp_path / "cells.csv")
    assert names == ["field0.tif", "field1.tif", "field2.tif"]
    assert annotated_image_names(tmp_path / "points.csv") == ["field0.tif", "field1.tif"]
    tiles = AnnotatedTiles(images_dir=str(tmp_path), points_csv=str(tmp_path / "points.csv"),
                           manifest=str(tmp_path / "cells.csv"), polarity="dark", length=4,
                           tile_px=32, pixel_size_nm=1.0)
    counts = [len(points) for _, points in tiles.items]
    assert counts[2] == 0 and counts[0] > 0 and counts[1] > 0
    assert tiles.items[2][0].shape == (96, 96)  # resampled from 1.5 to 1 nm/px
    # Without the manifest the pixel size is missing: a clear error naming the file.
    with pytest.raises(ValueError, match="field0.tif: no pixel size"):
        AnnotatedTiles(images_dir=str(tmp_path), points_csv=str(tmp_path / "points.csv"),
                       polarity="dark", length=4, tile_px=32, pixel_size_nm=1.0)


def test_seeded_runs_repeat_and_a_run_resumes_from_its_last_checkpoint(tmp_path):
    # The same config gives the same tiles, initial weights and losses; `--ckpt_path last` goes
    # on from where a run stopped (step count, weights, optimiser), not from scratch.
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        _fit(root, "tiny.yaml", "--trainer.max_steps", "4")
    losses = [pd.read_csv(next(root.glob("logs/version_*/metrics.csv")))["train_loss_step"]
              .dropna().to_numpy() for root in (first, second)]
    assert len(losses[0]) == 4
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)

    last = next(first.glob("**/last.ckpt"))
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 4
    _fit(first, "tiny.yaml", "--trainer.max_steps", "7", "--ckpt_path", "last")  # as documented
    lasts = sorted(first.glob("logs/version_*/checkpoints/last.ckpt"))
    resumed = torch.load(lasts[-1], map_location="cpu", weights_only=False)
    assert len(lasts) == 2 and resumed["global_step"] == 7
    logs = sorted(first.glob("logs/version_*/metrics.csv"))
    steps = pd.read_csv(logs[-1]).dropna(subset=["train_loss_step"])["step"].to_numpy()
    assert len(logs) == 2 and steps.min() >= 4 and steps.max() == 6

    with pytest.raises(InputError, match="nothing to resume"):
        _fit(tmp_path / "empty", "tiny.yaml", "--ckpt_path", "last")


def test_every_epoch_trains_on_new_tiles(tmp_path, monkeypatch):
    # Tiles are drawn from (seed, epoch, index); the loader must be rebuilt each epoch for the
    # epoch to change (Lightning builds it once by default, and epoch 0's tiles then repeat).
    from train.datasets import SyntheticTiles

    drawn = []
    original = SyntheticTiles.__getitem__

    def recording(self, index):
        sample = original(self, index)
        if self.length == 8:  # the training tiles, not the 4 validation tiles
            drawn.append((self.epoch, index, sample["image"].numpy().tobytes()))
        return sample

    monkeypatch.setattr(SyntheticTiles, "__getitem__", recording)
    _fit(tmp_path, "tiny.yaml", "--trainer.max_steps", "6", "--data.train_tiles_per_epoch", "8")
    epochs = sorted({e for e, _, _ in drawn})
    assert epochs == [0, 1, 2]
    tiles = {(e, i): image for e, i, image in drawn}
    assert all(tiles[(0, i)] != tiles[(1, i)] for i in range(8))
    assert len(set(tiles.values())) == 24


def test_bf16_mixed_precision_trains_validates_and_exports(tmp_path):
    # The precision a CUDA run uses (configs: bf16-mixed), here on the CPU: the network's bf16
    # outputs go through the float32 validation (peaks, F1) and the export.
    _fit(tmp_path, "tiny.yaml", "--trainer.max_steps", "7", "--trainer.precision", "bf16-mixed")
    metrics = pd.read_csv(next(tmp_path.glob("logs/version_*/metrics.csv")))
    assert metrics["val_f1"].notna().any()
    assert np.isfinite(metrics["train_loss_step"].dropna()).all()
    out = export_checkpoint(next(tmp_path.glob("**/last.ckpt")), tmp_path / "bf16.pt")
    assert load_model(out).net(torch.zeros(1, 1, 64, 64)).dtype == torch.float32


def test_validation_counts_add_up_across_processes():
    # Under DDP every process scores its part of the validation tiles; the summed counts give
    # the metrics of all tiles, as one process would.
    from train.module import metrics_from_counts, validation_counts

    rng = np.random.default_rng(0)
    outputs = []
    for _ in range(6):
        truth = rng.uniform(0, 60, (8, 2))
        found = np.column_stack([truth[:6] + rng.normal(0, 0.3, (6, 2)), rng.uniform(0.2, 1, 6)])
        outputs.append((np.vstack([found, [[30.0, 30.0, 0.4]]]), truth))
    whole = validation_counts(outputs, tolerance_px=2.0)
    parts = validation_counts(outputs[:2], tolerance_px=2.0) + validation_counts(outputs[2:], tolerance_px=2.0)
    np.testing.assert_allclose(parts, whole)
    best = metrics_from_counts(whole)["curve"][0]  # threshold 0.05: every peak kept
    assert (best["tp"], best["fp"], best["fn"]) == (36, 6, 12)
    assert best["f1"] == pytest.approx(72 / 90) and 0.2 < best["rmse_px"] < 0.6


def test_ddp_on_two_cpu_processes_trains_and_validates(tmp_path):
    # The several-GPU strategy of the configs (DDP), on two CPU processes (gloo).
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "train", "fit", "--config", str(ROOT / "configs" / "tiny.yaml"),
         "--trainer.default_root_dir", str(tmp_path), "--trainer.logger.init_args.save_dir",
         str(tmp_path), "--trainer.max_steps", "7", "--trainer.strategy", "ddp",
         "--trainer.devices", "2", "--trainer.accelerator", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    versions = list(tmp_path.glob("logs/version_*"))
    assert len(versions) == 1
    metrics = pd.read_csv(versions[0] / "metrics.csv")
    assert metrics["val_f1"].notna().any() and (versions[0] / "checkpoints" / "last.ckpt").is_file()
