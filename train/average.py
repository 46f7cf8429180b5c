"""``python -m train average BASE.pt TUNED.pt OUT.pt --weight W``: interpolate two checkpoints.

A model fine-tuned on one lab's annotated images (``configs/finetune.yaml``) is a specialist: it
gains on those images and loses on others. Averaging its weights with those of the checkpoint it
started from, ``(1 - W) x BASE + W x TUNED`` (weight-space ensembling, "WiSE-FT": Wortsman et
al., CVPR 2022), keeps much of the gain and much of the base's generality; ``W`` sets the
trade-off (``docs/training.md``, "Averaging a fine-tuned model with the shipped weights").

The two must share a model (same ``model_config``, pixel size and weight names), which holds for
a fine-tuning run started from ``BASE``. The averaged network's scores are not either parent's, so
the written checkpoint carries the interpolated threshold only as a starting point and no
noise-peak rate; run ``python -m train calibrate`` on it next (the command is printed).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import her2net
from her2net.errors import InputError
from her2net.io import check_output_file

__all__ = ["average_checkpoints", "main"]

# Metadata that describes one network's scores and is wrong for the average.
_STALE_KEYS = ("noise_peak_rate", "threshold_calibration", "training_threshold", "validation",
               "sparse_threshold")


def average_checkpoints(base, tuned, out_path, *, weight: float) -> Path:
    """Write the checkpoint whose weights are ``(1 - weight) * base + weight * tuned``.

    Parameters
    ----------
    base, tuned : str or Path
        Inference checkpoints (``python -m train export``) of the same model: typically the
        shipped checkpoint and a model fine-tuned from it.
    out_path : str or Path
        Checkpoint to write.
    weight : float
        Share of ``tuned``, between 0 and 1 (0 gives ``base``'s weights, 1 ``tuned``'s).

    Returns
    -------
    Path
        ``out_path``. Its metadata are ``base``'s with the threshold (and relative threshold)
        interpolated the same way, the noise-peak rate and the calibration table dropped, and
        ``weight_average`` recording both parents and the weight.

    Raises
    ------
    InputError
        A weight outside [0, 1], a missing or unreadable checkpoint, two checkpoints of
        different models, or an output folder that does not exist; nothing is written.
    """
    import torch

    from her2net.model.checkpoint import load_model, read_checkpoint, save_checkpoint
    from her2net.model.unet import UNet

    base, tuned, out_path = Path(base), Path(tuned), Path(out_path)
    weight = float(weight)
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"--weight {weight:g}: expected a share between 0 and 1")
    check_output_file(out_path)
    a, b = read_checkpoint(base), read_checkpoint(tuned)
    meta_a, meta_b = a["metadata"], b["metadata"]
    for key in ("model_config", "pixel_size_nm"):
        if meta_a.get(key) != meta_b.get(key):
            raise InputError(f"{tuned}: {key} {meta_b.get(key)!r} differs from {base}'s "
                             f"{meta_a.get(key)!r}; only checkpoints of the same model average")
    state_a, state_b = a["state_dict"], b["state_dict"]
    if set(state_a) != set(state_b) or any(state_a[k].shape != state_b[k].shape for k in state_a):
        raise InputError(f"{tuned}: its weights do not match {base}'s (names or shapes differ)")
    state = {}
    for key, value in state_a.items():
        if torch.is_floating_point(value):
            state[key] = torch.lerp(value.float(), state_b[key].float(), weight).to(value.dtype)
        else:  # counters such as BatchNorm's num_batches_tracked
            state[key] = state_b[key] if weight >= 0.5 else value
    net = UNet(**meta_a["model_config"])
    net.load_state_dict(state)

    metadata = {k: v for k, v in meta_a.items() if k not in _STALE_KEYS}
    metadata["threshold"] = (1 - weight) * float(meta_a["threshold"]) + weight * float(meta_b["threshold"])
    relative = [float(m.get("relative_threshold", 0.0)) for m in (meta_a, meta_b)]
    metadata["relative_threshold"] = (1 - weight) * relative[0] + weight * relative[1]
    metadata["threshold_source"] = ("interpolated between the parents' by `python -m train "
                                    "average`; calibrate before use")
    metadata["data"] = (f"weight average: {1 - weight:.2f} x [{meta_a.get('data')}] + "
                        f"{weight:.2f} x [{meta_b.get('data')}]")
    metadata["weight_average"] = {
        "base": base.name, "base_date": meta_a.get("date"), "base_git_commit": meta_a.get("git_commit"),
        "tuned": tuned.name, "tuned_date": meta_b.get("date"), "tuned_data": meta_b.get("data"),
        "weight_tuned": weight,
    }
    metadata["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    metadata["her2net_version"] = her2net.__version__
    from train.export import _git_commit

    metadata["git_commit"] = _git_commit()
    command = f"python -m train average <base> <tuned> <checkpoint> --weight {weight:g}"
    metadata["training_commands"] = list(meta_a.get("training_commands") or []) + [command]
    path = save_checkpoint(out_path, net, metadata)
    load_model(path)  # refuse to leave a checkpoint that does not load
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train average",
        description="Average the weights of two checkpoints of the same model: (1 - W) x BASE + "
                    "W x TUNED. Use it to keep the shipped checkpoint's generality in a model "
                    "fine-tuned from it; calibrate the result next.")
    parser.add_argument("base", help="inference checkpoint the fine-tuning started from "
                                     "(e.g. checkpoints/her2net-v1.pt)")
    parser.add_argument("tuned", help="inference checkpoint fine-tuned from BASE")
    parser.add_argument("out", help="checkpoint to write")
    parser.add_argument("--weight", type=float, default=0.3,
                        help="share of TUNED, 0-1 (default 0.3)")
    args = parser.parse_args(argv)
    try:
        path = average_checkpoints(args.base, args.tuned, args.out, weight=args.weight)
    except InputError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({1 - args.weight:.2f} x {Path(args.base).name} + {args.weight:.2f} x "
          f"{Path(args.tuned).name}); its threshold is only interpolated: calibrate it next, "
          f"`python -m train calibrate {path} --annotated POINTS_CSV --images-dir DIR` on held-out "
          f"annotated images, or `python -m train calibrate {path}` on simulated ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
