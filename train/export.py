"""``python -m train export RUN_CHECKPOINT OUT.pt``: a training run to an inference checkpoint."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

import her2net
from her2net.errors import InputError
from her2net.io import check_output_file
from her2net.model.checkpoint import FORMAT, load_model, save_checkpoint
from her2net.model.unet import UNet

__all__ = ["export_checkpoint", "describe_data", "main"]

_NUMPY_SCALARS = [getattr(getattr(np, "_core", None) or np.core, "multiarray").scalar, np.dtype,
                  type(np.dtype(np.float64))]

logger = logging.getLogger(__name__)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _find_beside(run_checkpoint: Path, name: str) -> Path | None:
    """``name`` in the run checkpoint's folder or up to three folders above (the run's logs)."""
    for folder in [run_checkpoint.parent, *run_checkpoint.parents][:4]:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _run_config(run_checkpoint: Path) -> dict | None:
    """The resolved config.yaml LightningCLI saved in the run's log folder, if found."""
    found = _find_beside(run_checkpoint, "config.yaml")
    return yaml.safe_load(found.read_text()) if found else None


def _read_run_checkpoint(path: Path) -> dict:
    """The Lightning checkpoint of a ``train fit`` run.

    Raises
    ------
    InputError
        One line naming the file: missing, unreadable, an exported inference checkpoint, or a
        checkpoint without the detector's ``net.*`` weights.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such run checkpoint file")
    try:
        # Weights-only, like every checkpoint load here; NumPy scalars are allowed for runs
        # made before the scheduler state held plain floats (2026-12-02).
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not a readable checkpoint ({reason})") from None
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        raise InputError(f"{path}: an exported inference checkpoint, not a training run's "
                         "Lightning .ckpt (runs/.../checkpoints/last.ckpt)")
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(str(k).startswith("net.") for k in state):
        raise InputError(f"{path}: not a Lightning checkpoint of `python -m train fit` "
                         "(no net.* weights)")
    return ckpt


def describe_data(datamodule_hparams: dict) -> str:
    """What a run trained on, from its data module's hyper-parameters (stored as ``data``).

    Examples
    --------
    >>> describe_data({"synthetic_weight": 1.0})
    'on-the-fly simulated tiles (her2net.simulate, domain randomised)'
    """
    synthetic = "on-the-fly simulated tiles (her2net.simulate, domain randomised"
    if datamodule_hparams.get("simulator_overrides"):
        fixed = json.dumps(datamodule_hparams["simulator_overrides"], sort_keys=True, default=str)
        synthetic += f"; fixed {fixed}"
    if datamodule_hparams.get("simulator_mixture"):
        synthetic += f"; a mixture of {len(datamodule_hparams['simulator_mixture'])} kinds of image"
    synthetic += ")"
    annotated = datamodule_hparams.get("annotated")
    if not annotated:
        return synthetic
    weight = float(datamodule_hparams.get("synthetic_weight", 1.0))
    real = (f"annotated images {annotated.get('points_csv')} in {annotated.get('images_dir')}, "
            f"polarity {annotated.get('polarity') or 'bright'}")
    if annotated.get("manifest"):
        real += f", manifest {annotated['manifest']}"
    held_out = annotated.get("val_images") or []
    if held_out:
        held_out = [held_out] if isinstance(held_out, str) else [str(v) for v in held_out]
        real += f", held out for validation: {', '.join(held_out)}"
    return f"{real} ({1 - weight:.0%} of the tiles), mixed with {synthetic} ({weight:.0%})"


def export_checkpoint(run_checkpoint, out_path, *, threshold: float | None = None,
                      description: str | None = None, extra: dict | None = None) -> Path:
    """Write an inference checkpoint from a Lightning run checkpoint.

    Parameters
    ----------
    run_checkpoint : str or Path
        ``.ckpt`` written by the training run.
    out_path : str or Path
        Inference checkpoint to write (``checkpoints/<name>.pt``).
    threshold : float, optional
        Overrides the threshold calibrated on validation data during training.
    description : str, optional
        What the model was trained on (stored in the metadata; default: built from the run's
        data hyper-parameters by :func:`describe_data`).
    extra : dict, optional
        More metadata (plain types), e.g. training time and hardware.

    Raises
    ------
    InputError
        A threshold outside (0, 1), an output folder that does not exist, or a run checkpoint
        that is missing, unreadable or not a ``train fit`` one; nothing is written.
    """
    run_checkpoint, out_path = Path(run_checkpoint), Path(out_path)
    if threshold is not None and not 0.0 < float(threshold) < 1.0:
        raise InputError(f"threshold {threshold}: expected a value between 0 and 1")
    check_output_file(out_path)
    ckpt = _read_run_checkpoint(run_checkpoint)
    hparams = ckpt.get("hyper_parameters", {})
    datamodule_hparams = ckpt.get("datamodule_hyper_parameters", {})
    model_config = dict(hparams.get("model_config") or {})
    from her2net.model.unet import DEFAULT_MODEL_CONFIG

    model_config = model_config or dict(DEFAULT_MODEL_CONFIG)
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        net = UNet(**model_config)
        net.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{run_checkpoint}: weights do not fit its model_config ({reason})") from None
    calibrated = float(ckpt["state_dict"].get("calibrated_threshold", torch.tensor(0.5)))
    validation = {}
    for callback_state in ckpt.get("callbacks", {}).values():
        # The monitoring callback's best score; callbacks that monitor nothing store None.
        score = callback_state.get("best_model_score") if isinstance(callback_state, dict) else None
        if score is not None:
            validation["best_monitored_score"] = float(score)
    metrics_file = _find_beside(run_checkpoint, "metrics.csv")
    if metrics_file is not None:
        validation.update(_validation_at(metrics_file, int(ckpt.get("global_step", -1))))
    config = _run_config(run_checkpoint)
    metadata = {
        "model_config": json.loads(json.dumps(model_config)),
        "pixel_size_nm": float(hparams.get("pixel_size_nm", datamodule_hparams.get("pixel_size_nm", 1.0))),
        "polarity": "bright",
        "polarity_note": "network input has bright labels; dark-label images are inverted first",
        "threshold": float(threshold) if threshold is not None else calibrated,
        "threshold_source": "given at export" if threshold is not None else "max validation F1",
        "min_distance_px": int(hparams.get("min_distance_px", 2)),
        "tolerance_nm": float(hparams.get("tolerance_nm", 4.0)),
        "training_config": json.loads(json.dumps(config, default=str)) if config else None,
        "data": description or describe_data(datamodule_hparams),
        "validation": validation,
        "epoch": int(ckpt.get("epoch", -1)),
        "global_step": int(ckpt.get("global_step", -1)),
        "git_commit": _git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "her2net_version": her2net.__version__,
        "run_checkpoint": run_checkpoint.name,
    }
    metadata.update(extra or {})
    path = save_checkpoint(out_path, net, metadata)
    load_model(path)  # refuse to leave a checkpoint that does not load
    return path


def _validation_at(metrics_file: Path, global_step: int) -> dict:
    """The validation metrics logged at the checkpoint's step (the last ones up to it)."""
    import pandas as pd

    table = pd.read_csv(metrics_file)
    if "val_f1" not in table.columns:
        return {}
    rows = table.dropna(subset=["val_f1"])
    if global_step >= 0:
        rows = rows[rows["step"] < global_step]
    if rows.empty:
        return {}
    last = rows.iloc[-1]
    keys = ["val_f1", "val_precision", "val_recall", "val_rmse_nm", "val_threshold", "val_loss", "epoch", "step"]
    return {k: float(last[k]) for k in keys if k in last and last[k] == last[k]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train export",
                                     description="Export a training run checkpoint for inference.")
    parser.add_argument("run_checkpoint", help="Lightning .ckpt of the run (e.g. runs/.../last.ckpt)")
    parser.add_argument("out", help="inference checkpoint to write (e.g. checkpoints/her2net-v1.pt)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="override the validation-calibrated threshold")
    parser.add_argument("--description", default=None, help="what the model was trained on")
    parser.add_argument("--extra-json", default=None, help="JSON object of extra metadata")
    args = parser.parse_args(argv)
    try:
        extra = _parse_extra(args.extra_json)
        path = export_checkpoint(args.run_checkpoint, args.out, threshold=args.threshold,
                                 description=args.description, extra=extra)
    except InputError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _parse_extra(text: str | None) -> dict | None:
    """``--extra-json``: a JSON object, or None."""
    if text is None:
        return None
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--extra-json: not valid JSON ({exc})") from None
    if not isinstance(extra, dict):
        raise InputError(f"--extra-json: expected a JSON object {{...}}, got {type(extra).__name__}")
    return extra
