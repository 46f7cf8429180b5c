"""``python -m train calibrate CHECKPOINT``: choose the detection threshold on a dose ladder.

The threshold picked during training maximises F1 on the run's validation tiles, whose mix of
doses is set for learning (almost half the tiles sit near the detection limit), not for use.
Users image a dose series: the same kind of cell at a standard dose and at lower doses that spare
the cells. This step simulates such a ladder with her2net's simulator: every scene at a standard
matched-filter SNR (log-uniform in ``--standard-snr``) and at 0.3x and 0.12x of that dose (the same
scene, the SNR scaled by the square root of the dose), over bright gold and quantum dots in
liquid STEM and dark gold in bright-field TEM, at pixel sizes of 0.5-3 nm, half of the scenes
clean (labels on a smooth background) and half with the simulator's clutter. Detections are made
once with a low threshold; the pair (threshold, relative threshold) kept is the one with the best
mean F1 over the three doses (one-to-one matching within 4 nm, each dose weighted equally). The
relative threshold raises the threshold per image where the labels score high
(:func:`her2net.detect.postprocess.image_threshold`); 0 turns it off. The checkpoint is rewritten
with both and the whole sweep in its metadata (``threshold_calibration``).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

import numpy as np

__all__ = ["calibrate_threshold", "ladder_scenes", "main"]

logger = logging.getLogger(__name__)

DOSES = (1.0, 0.3, 0.12)
THRESHOLDS = tuple(np.round(np.arange(0.15, 0.701, 0.025), 3))
RELATIVE_THRESHOLDS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
KINDS = (("gold", "bright"), ("qd", "bright"), ("gold", "dark"))


def ladder_scenes(n_scenes: int, *, seed: int = 7, standard_snr=(16.0, 48.0), fov_nm: float = 320.0):
    """Yield ``(scene, dose, image, points_px, pixel_size_nm, polarity)`` for every scene and dose."""
    from her2net.simulate import CLEAN_SCENE, simulate_tile

    for i in range(n_scenes):
        rng = np.random.default_rng([seed, i])
        label, polarity = KINDS[i % len(KINDS)]
        px = float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
        snr = float(np.exp(rng.uniform(*np.log(standard_snr))))
        extra = dict(CLEAN_SCENE) if (i // len(KINDS)) % 2 == 0 else {}
        size = int(round(fov_nm / px))
        for dose in DOSES:
            image, points, _ = simulate_tile(np.random.default_rng([seed, i, 1]), size, pixel_size_nm=px,
                                             polarity=polarity, label=label,
                                             matched_snr=snr * math.sqrt(dose), **extra)
            yield i, dose, image, points, px, polarity


def calibrate_threshold(model, *, n_scenes: int = 60, seed: int = 7, standard_snr=(16.0, 48.0),
                        thresholds=THRESHOLDS, relative_thresholds=RELATIVE_THRESHOLDS,
                        tolerance_nm: float = 4.0) -> dict:
    """Sweep the threshold and the relative threshold of ``model`` on a simulated dose ladder.

    Returns
    -------
    dict
        ``threshold`` and ``relative_threshold`` (best mean F1 over the doses), ``mean_f1``,
        ``table`` (per pair: the F1 at each dose and their mean) and the settings of the sweep.
    """
    from her2net.detect import detect
    from her2net.detect.postprocess import RELATIVE_THRESHOLD_QUANTILE, image_threshold
    from her2net.evaluate import match_points

    floor = float(min(thresholds))
    grid = [(float(t), float(r)) for t in thresholds for r in relative_thresholds]
    counts = {d: np.zeros((len(grid), 3)) for d in DOSES}  # tp, n_detected, n_truth
    for scene, dose, image, points, px, polarity in ladder_scenes(n_scenes, seed=seed,
                                                                   standard_snr=standard_snr):
        found = detect(image, pixel_size_nm=px, model=model, polarity=polarity, threshold=floor,
                       device="cpu")
        xy = found[["x_nm", "y_nm"]].to_numpy()
        score = found["score"].to_numpy()
        truth = points * px
        for k, (t, r) in enumerate(grid):
            keep = score >= image_threshold(score, threshold=t, relative_threshold=r)
            pairs, _ = match_points(xy[keep], truth, tolerance=tolerance_nm)
            counts[dose][k] += (len(pairs), keep.sum(), len(truth))
        if dose == DOSES[-1] and (scene + 1) % 10 == 0:
            logger.info("calibration: %d/%d scenes", scene + 1, n_scenes)
    table = []
    for k, (t, r) in enumerate(grid):
        row = {"threshold": t, "relative_threshold": r}
        for d in DOSES:
            tp, n_det, n_truth = counts[d][k]
            row[f"f1_{d:g}x"] = float(2 * tp / max(n_det + n_truth, 1))
        row["mean_f1"] = float(np.mean([row[f"f1_{d:g}x"] for d in DOSES]))
        table.append(row)
    best = max(table, key=lambda r: r["mean_f1"])
    return {"threshold": best["threshold"], "relative_threshold": best["relative_threshold"],
            "relative_threshold_quantile": RELATIVE_THRESHOLD_QUANTILE,
            "mean_f1": best["mean_f1"], "table": table,
            "n_scenes": int(n_scenes), "seed": int(seed), "standard_matched_snr": list(standard_snr),
            "doses": list(DOSES), "tolerance_nm": float(tolerance_nm),
            "method": "best mean F1 over a simulated dose ladder (train/calibrate.py)"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train calibrate",
                                     description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("checkpoint", help="inference checkpoint (.pt) to calibrate")
    parser.add_argument("--out", default=None, help="where to write it (default: in place)")
    parser.add_argument("--scenes", type=int, default=60, help="scenes, each at three doses")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--standard-snr", type=float, nargs=2, default=(16.0, 48.0),
                        metavar=("LO", "HI"), help="matched-filter SNR range at the standard dose")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("her2net").setLevel(logging.WARNING)  # not a line per simulated image

    from her2net.model.checkpoint import load_model, save_checkpoint

    model = load_model(args.checkpoint, device="cpu")
    result = calibrate_threshold(model, n_scenes=args.scenes, seed=args.seed,
                                 standard_snr=tuple(args.standard_snr))
    for row in result["table"]:
        if row["relative_threshold"] in (0.0, result["relative_threshold"]):
            print("  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    metadata = dict(model.metadata)
    metadata.setdefault("training_threshold", metadata["threshold"])
    metadata["threshold"] = float(result["threshold"])
    metadata["relative_threshold"] = float(result["relative_threshold"])
    metadata["threshold_source"] = result["method"]
    metadata["threshold_calibration"] = result
    command = f"python -m train calibrate <checkpoint> --scenes {args.scenes} --seed {args.seed}"
    commands = list(metadata.get("training_commands") or [])
    if command not in commands:
        metadata["training_commands"] = commands + [command]
    out = save_checkpoint(args.out or args.checkpoint, model.net.cpu(), metadata)
    load_model(out)
    print(f"threshold {result['threshold']:.3f}, relative threshold "
          f"{result['relative_threshold']:.2f} (mean F1 {result['mean_f1']:.3f} over doses "
          f"{', '.join(f'{d:g}x' for d in DOSES)}; was {metadata['training_threshold']:.3f}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
