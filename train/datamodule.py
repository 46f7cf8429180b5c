"""LightningDataModule: synthetic tiles on the fly, optional annotated tiles, a fixed validation set."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from her2net.errors import InputError
from train.datasets import AnnotatedTiles, MixedTiles, SyntheticTiles, annotated_image_names

__all__ = ["TileDataModule", "ANNOTATED_KEYS"]

logger = logging.getLogger(__name__)

ANNOTATED_KEYS = ("images_dir", "points_csv", "manifest", "polarity", "val_images")


class TileDataModule(L.LightningDataModule):
    """Training and validation tiles at the model's native pixel size.

    Parameters
    ----------
    pixel_size_nm : float
        The model's native pixel size; every tile is resampled to it.
    tile_px : int
        Tile size in pixels (a multiple of the network's size multiple).
    train_tiles_per_epoch, val_tiles : int
        Tiles per training epoch; fixed synthetic validation tiles.
    batch_size, num_workers : int
    seed : int
        Seed of the tile streams (validation uses its own fixed stream).
    pixel_size_range_nm : [float, float]
        Range of simulated pixel sizes (log-uniform) before resampling.
    synthetic_weight : float
        Share of synthetic tiles when annotated data are given (1 = synthetic only).
    annotated : dict, optional
        ``images_dir``, ``points_csv``, optional ``manifest`` (its images without points are
        trained on as label-free), ``polarity`` ('bright' or 'dark'), ``val_images`` (image
        names held out for validation). Other keys, a polarity other than these, and
        ``val_images`` that are not annotated images are refused (:class:`InputError`).
    simulator_overrides : dict, optional
        Fixed simulator parameters (default: everything randomised).
    simulator_mixture : list of dict, optional
        Kinds of training images mixed by weight: ``[{"weight": 1, "overrides": {...}}, ...]``
        (validation tiles stay fully randomised). A component with ``"wrong_polarity": true``
        shows its tiles the wrong way round (bright-field not inverted, ADF inverted) with no
        labels to find, so that the network stays silent on a wrongly oriented image (what
        ``polarity='auto'`` relies on).
    val_seed : int, optional
        Seed of the validation tiles (default ``seed + 10000``): keep it fixed to compare runs.
    sigma_px, offset_radius_px : float
        Target encoding (see ``train.targets.make_targets``).
    faint_snr : [low, high], optional
        Training tiles only: a label's target peak rises from 0 at matched SNR ``low`` to 1 at
        ``high`` (see ``SyntheticTiles``); validation always scores against every label.
    """

    def __init__(self, *, pixel_size_nm: float = 1.0, tile_px: int = 256,
                 train_tiles_per_epoch: int = 1024, val_tiles: int = 64, batch_size: int = 16,
                 num_workers: int = 1, seed: int = 0, pixel_size_range_nm: list[float] = (0.5, 3.0),
                 synthetic_weight: float = 1.0, annotated: dict | None = None,
                 simulator_overrides: dict | None = None,
                 simulator_mixture: list[dict] | None = None, val_seed: int | None = None,
                 sigma_px: float = 1.5, offset_radius_px: float = 2.0,
                 faint_snr: list[float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.annotated_spec = _check_annotated(annotated)
        if self.annotated_spec and float(synthetic_weight) >= 1.0:
            logger.warning("data.annotated is given but data.synthetic_weight is %s: the annotated "
                           "images are read and never drawn (lower synthetic_weight to train on "
                           "them)", synthetic_weight)
        self.train_set = None
        self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        """Build the tile sets (once: ``Her2netCLI.before_fit`` calls it before the trainer
        writes anything, so that bad annotated input fails first)."""
        if self.train_set is not None:
            return
        hp = self.hparams
        common = dict(tile_px=hp.tile_px, pixel_size_nm=hp.pixel_size_nm, sigma_px=hp.sigma_px,
                      offset_radius_px=hp.offset_radius_px)
        synthetic = SyntheticTiles(length=hp.train_tiles_per_epoch, seed=hp.seed,
                                   pixel_size_range_nm=hp.pixel_size_range_nm,
                                   simulator_overrides=hp.simulator_overrides,
                                   simulator_mixture=hp.simulator_mixture,
                                   faint_snr=hp.faint_snr, **common)
        annotated_train = annotated_val = None
        if self.annotated_spec:
            spec = dict(self.annotated_spec)
            val_images = spec.pop("val_images")
            base = dict(images_dir=spec["images_dir"], points_csv=spec["points_csv"],
                        manifest=spec["manifest"], polarity=spec["polarity"])
            train_names = None
            if val_images:
                names = annotated_image_names(spec["points_csv"], spec["manifest"])
                held_out = set(val_images)
                train_names = [n for n in names
                               if n not in held_out and Path(n).name not in held_out]
                annotated_val = AnnotatedTiles(length=max(8, hp.val_tiles // 4), seed=hp.seed + 1,
                                               augmentation="none", images=list(val_images),
                                               **base, **common)
                if not train_names:
                    raise InputError(f"data.annotated.val_images: holds every image of "
                                     f"{spec['points_csv']}: none left to train on")
            annotated_train = AnnotatedTiles(length=hp.train_tiles_per_epoch, seed=hp.seed,
                                             images=train_names, **base, **common)
        self.train_set = MixedTiles(synthetic, annotated_train, synthetic_weight=hp.synthetic_weight,
                                    seed=hp.seed)
        if self.val_set is None:
            val_seed = hp.val_seed if hp.val_seed is not None else hp.seed + 10_000
            val_synth = SyntheticTiles(length=hp.val_tiles, seed=val_seed, augmentation="none",
                                       pixel_size_range_nm=hp.pixel_size_range_nm,
                                       simulator_overrides=hp.simulator_overrides, **common)
            samples = [val_synth[i] for i in range(len(val_synth))]
            if annotated_val is not None:
                samples += [annotated_val[i] for i in range(len(annotated_val))]
            self.val_set = samples
            n_points = sum(int(torch.isfinite(s["points"][:, 0]).sum()) for s in samples)
            logger.info("validation: %d tiles, %d labels", len(samples), n_points)

    def train_dataloader(self) -> DataLoader:
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        if self.trainer is not None and self.trainer.reload_dataloaders_every_n_epochs != 1:
            # Called once per fit then: every epoch would see epoch 0's tiles again.
            logger.warning("Trainer(reload_dataloaders_every_n_epochs=%d): the training tiles of "
                           "epoch 0 repeat every epoch; set it to 1 (python -m train does) for "
                           "new tiles each epoch", self.trainer.reload_dataloaders_every_n_epochs)
        self.train_set.set_epoch(epoch)
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=False,
                          num_workers=self.hparams.num_workers, drop_last=True,
                          worker_init_fn=_worker_init, persistent_workers=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size, shuffle=False,
                          num_workers=0)


def _check_annotated(annotated: dict | None) -> dict | None:
    """``data.annotated`` with its defaults filled in, or None when not given.

    Raises
    ------
    InputError
        One line naming the parameter: an unknown key (a typo would be silently ignored),
        ``images_dir`` or ``points_csv`` missing, a polarity other than 'bright' or 'dark'.
    """
    if not annotated:
        return None
    spec = dict(annotated)
    unknown = sorted(set(spec) - set(ANNOTATED_KEYS))
    if unknown:
        raise InputError(f"data.annotated: unknown key(s) {', '.join(unknown)} "
                         f"(valid: {', '.join(ANNOTATED_KEYS)})")
    missing = [key for key in ("images_dir", "points_csv") if not spec.get(key)]
    if missing:
        raise InputError(f"data.annotated: {' and '.join(missing)} not given")
    polarity = spec.get("polarity") or "bright"
    if polarity not in ("bright", "dark"):
        raise InputError(f"data.annotated.polarity {polarity!r}: expected 'bright' or 'dark'")
    val_images = spec.get("val_images") or []
    if isinstance(val_images, str):
        val_images = [val_images]
    return {"images_dir": str(spec["images_dir"]), "points_csv": str(spec["points_csv"]),
            "manifest": spec.get("manifest") or None, "polarity": polarity,
            "val_images": [str(v) for v in val_images]}


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)
    np.random.seed(worker_id)
