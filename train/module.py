"""LightningModule: losses, validation F1/RMSE, detection-threshold calibration."""

from __future__ import annotations

import logging
import math

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F

from her2net.detect.postprocess import find_peaks
from her2net.errors import InputError
from her2net.evaluate.matching import match_points
from her2net.model.unet import UNet

__all__ = ["DetectorModule", "THRESHOLD_GRID"]

logger = logging.getLogger(__name__)

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def heatmap_focal_loss(logits: torch.Tensor, target: torch.Tensor, *, alpha: float = 2.0,
                       beta: float = 4.0) -> torch.Tensor:
    """Penalty-reduced focal loss on a Gaussian heatmap (CenterNet), normalised by label count."""
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    p = log_p.exp()
    positive = target >= 0.999
    pos_loss = -((1 - p) ** alpha) * log_p * positive
    neg_loss = -((1 - target) ** beta) * (p**alpha) * log_not_p * (~positive)
    n_pos = positive.sum().clamp(min=1)
    return (pos_loss.sum() + neg_loss.sum()) / n_pos


class DetectorModule(L.LightningModule):
    """Trains :class:`her2net.model.UNet` on heatmap and offset targets.

    Parameters
    ----------
    model_config : dict
        Arguments of :class:`her2net.model.UNet`.
    pixel_size_nm : float
        Native pixel size of the tiles (linked from the data module).
    lr, weight_decay, warmup_steps : float, float, int
        AdamW with linear warm-up then cosine decay over the run.
    offset_weight : float
        Weight of the L1 offset loss against the heatmap loss.
    tolerance_nm : float
        Matching tolerance of the validation F1.
    min_distance_px : int
        Peak suppression distance used in validation and stored with the model.
    init_checkpoint : str, optional
        Inference checkpoint (``.pt``) to start from (fine-tuning); ``"shipped"`` for the
        checkpoint shipped with her2net. Its architecture replaces ``model_config``.
    """

    def __init__(self, *, model_config: dict | None = None, pixel_size_nm: float = 1.0,
                 lr: float = 3e-3, weight_decay: float = 1e-4, warmup_steps: int = 100,
                 offset_weight: float = 1.0, tolerance_nm: float = 4.0, min_distance_px: int = 2,
                 init_checkpoint: str | None = None):
        super().__init__()
        self.save_hyperparameters()
        from her2net.model.unet import DEFAULT_MODEL_CONFIG

        self.model_config = dict(model_config or DEFAULT_MODEL_CONFIG)
        if init_checkpoint:
            # Fine-tuning: architecture and native pixel size come from the checkpoint.
            loaded = _load_init_checkpoint(init_checkpoint)
            if abs(loaded.pixel_size_nm - pixel_size_nm) > 1e-9:
                raise InputError(
                    f"data.pixel_size_nm {pixel_size_nm} differs from the checkpoint's native "
                    f"pixel size {loaded.pixel_size_nm} ({loaded.path})"
                )
            self.model_config = dict(loaded.metadata["model_config"])
            self.hparams["model_config"] = self.model_config
            self.net = UNet(**self.model_config)
            self.net.load_state_dict(loaded.net.state_dict())
            logger.info("initialised from %s", loaded.path)
        else:
            self.net = UNet(**self.model_config)
        self.register_buffer("calibrated_threshold", torch.tensor(0.5))
        self._val_outputs = []
        self.best_metrics: dict = {}

    def forward(self, x):
        return self.net(x)

    def _losses(self, batch):
        out = self(batch["image"])
        heat_loss = heatmap_focal_loss(out[:, :1], batch["heatmap"])
        mask = batch["offset_mask"]
        off_err = (out[:, 1:3] - batch["offsets"]).abs() * mask
        off_loss = off_err.sum() / (2 * mask.sum()).clamp(min=1)
        return out, heat_loss, off_loss

    def training_step(self, batch, batch_idx):
        _, heat_loss, off_loss = self._losses(batch)
        loss = heat_loss + self.hparams.offset_weight * off_loss
        self.log_dict({"train_loss": loss, "train_heat_loss": heat_loss, "train_offset_loss": off_loss},
                      prog_bar=True, on_step=True, on_epoch=True, batch_size=batch["image"].shape[0])
        return loss

    def validation_step(self, batch, batch_idx):
        out, heat_loss, off_loss = self._losses(batch)
        loss = heat_loss + self.hparams.offset_weight * off_loss
        self.log("val_loss", loss, prog_bar=True, batch_size=batch["image"].shape[0], sync_dist=True)
        prob = torch.sigmoid(out[:, 0].float()).cpu().numpy()
        offsets = out[:, 1:3].float().cpu().numpy()
        for i in range(prob.shape[0]):
            peaks = find_peaks(prob[i], offsets[i], threshold=float(THRESHOLD_GRID[0]),
                               min_distance_px=self.hparams.min_distance_px)
            truth = batch["points"][i].cpu().numpy()
            truth = truth[np.isfinite(truth[:, 0])]
            self._val_outputs.append((peaks, truth))

    def on_validation_epoch_end(self):
        counts = validation_counts(self._val_outputs,
                                   tolerance_px=self.hparams.tolerance_nm / self.hparams.pixel_size_nm)
        n_tiles = np.array([float(len(self._val_outputs))])
        self._val_outputs = []
        if self.trainer.world_size > 1:
            # Each process saw part of the validation tiles (DDP): sum the counts of all of them,
            # so that every process picks the same threshold from all tiles. Every process gets
            # here, those without tiles too.
            counts, n_tiles = (self.all_gather(torch.as_tensor(a, device=self.device))
                               .reshape(-1, *a.shape).sum(0).cpu().numpy() for a in (counts, n_tiles))
        if not n_tiles[0]:
            return
        metrics = metrics_from_counts(counts)
        best = metrics["best"]
        self.calibrated_threshold.fill_(best["threshold"])
        self.best_metrics = metrics
        self.log_dict({"val_f1": best["f1"], "val_precision": best["precision"],
                       "val_recall": best["recall"],
                       "val_rmse_nm": best["rmse_px"] * self.hparams.pixel_size_nm,
                       "val_threshold": best["threshold"]}, prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr,
                                      weight_decay=self.hparams.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = min(self.hparams.warmup_steps, total // 4)
        timer = _timer(self.trainer)
        budget_s = float(timer._duration) if timer is not None and timer._duration else None
        def schedule(step):
            # Cosine decay over whichever runs out first: max_steps or the trainer's max_time.
            # Plain floats: the scheduler's state goes into checkpoints loaded weights-only.
            if step < warmup:
                return float((step + 1) / max(warmup, 1))
            progress = (step - warmup) / max(total - warmup, 1)
            if budget_s:
                # The Timer's count includes the earlier legs of a resumed run.
                progress = max(progress, float(timer.time_elapsed("train")) / budget_s)
            return float(0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _load_init_checkpoint(init_checkpoint: str):
    """The inference checkpoint to fine-tune from ("shipped" or a path).

    Raises
    ------
    InputError
        ``model.init_checkpoint: <path>: <problem>`` (missing, unreadable, not an exported one).
    """
    from her2net.model.checkpoint import load_model

    try:
        return load_model(None if init_checkpoint == "shipped" else init_checkpoint)
    except InputError as exc:
        raise InputError(f"model.init_checkpoint: {exc}") from None


def _timer(trainer):
    """The trainer's Timer callback (set by ``max_time``), or None."""
    from lightning.pytorch.callbacks import Timer

    for callback in getattr(trainer, "callbacks", []):
        if isinstance(callback, Timer):
            return callback
    return None


def validation_counts(outputs, *, tolerance_px: float, thresholds=THRESHOLD_GRID) -> np.ndarray:
    """Per threshold: true positives, false positives, false negatives, and the sum and number
    of squared matched distances (px^2), shape (len(thresholds), 5); counts of several
    processes add up."""
    counts = np.zeros((len(thresholds), 5))
    for row, threshold in enumerate(thresholds):
        for peaks, truth in outputs:
            kept = peaks[peaks[:, 2] >= threshold, :2]
            pairs, dist = match_points(kept, truth, tolerance=tolerance_px)
            counts[row] += (len(pairs), len(kept) - len(pairs), len(truth) - len(pairs),
                            float(np.sum(dist ** 2)), len(dist))
    return counts


def metrics_from_counts(counts: np.ndarray, thresholds=THRESHOLD_GRID) -> dict:
    """F1, precision, recall and RMSE per threshold from :func:`validation_counts`; the best
    F1 threshold under 'best'."""
    rows = []
    for threshold, (tp, fp, fn, sq_sum, n_sq) in zip(thresholds, counts):
        rows.append({"threshold": float(threshold), "f1": 2 * tp / max(2 * tp + fp + fn, 1),
                     "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
                     "rmse_px": float(np.sqrt(sq_sum / n_sq)) if n_sq else float("nan"),
                     "tp": int(tp), "fp": int(fp), "fn": int(fn)})
    best = max(rows, key=lambda r: (r["f1"], -abs(r["threshold"] - 0.5)))
    return {"best": best, "curve": rows}

