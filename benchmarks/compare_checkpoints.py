"""Compare detector checkpoints on the benchmark's kinds of simulated images.

    python -m benchmarks.compare_checkpoints checkpoints/her2net-v1.pt other.pt [--n-images 4]

Each checkpoint runs with its own calibrated threshold (``threshold="auto"``) and the polarity
given; the images are ``benchmarks.common.make_set`` scenes (256 nm wide, pixel sizes 0.5-3 nm),
plus bright-field TEM replicas with 6 and 12 nm gold among membrane particles, and with
``--ladder-scenes`` the dose ladder of ``python -m train calibrate`` at another seed. One-to-one
matching within 4 nm. Prints one table: F1, precision, recall and RMSE per condition and checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (Condition, Sample, format_table, make_set,  # noqa: E402
                               replica_set)
from her2net.evaluate import match_points  # noqa: E402

CONDITIONS = (
    Condition("gold", "bright", "standard", "clean"),
    Condition("gold", "bright", "0.3x", "clean"),
    Condition("gold", "bright", "0.12x", "clean"),
    Condition("qd", "bright", "standard", "clean"),
    Condition("gold", "bright", "standard"),
    Condition("gold", "dark", "standard"),
    Condition("gold", "dark", "0.12x"),
)


def score_checkpoint(path, sets: dict) -> list[dict]:
    from her2net.detect import detect
    from her2net.model import load_model

    model = load_model(path)
    rows = []
    for name, samples in sets.items():
        tp = fp = fn = 0
        sq = []
        for s in samples:
            found = detect(s.image, pixel_size_nm=s.pixel_size_nm, model=model,
                           polarity=s.polarity, device="cpu")
            pairs, dist = match_points(found[["x_nm", "y_nm"]].to_numpy(),
                                       s.points_px * s.pixel_size_nm, tolerance=4.0)
            tp += len(pairs)
            fp += len(found) - len(pairs)
            fn += len(s.points_px) - len(pairs)
            sq.append(dist**2)
        sq = np.concatenate(sq)
        rows.append({"condition": name, "checkpoint": Path(path).name, "n_truth": tp + fn,
                     "f1": 2 * tp / max(2 * tp + fp + fn, 1), "precision": tp / max(tp + fp, 1),
                     "recall": tp / max(tp + fn, 1),
                     "rmse_nm": float(np.sqrt(sq.mean())) if len(sq) else float("nan")})
    return rows


def ladder_sets(n_scenes: int, seed: int) -> dict:
    """The calibration ladder's scenes as one set per dose (``ladder-seed<S>-<dose>x``)."""
    from train.calibrate import ladder_scenes

    sets = {}
    for scene, dose, image, points, px, polarity in ladder_scenes(n_scenes, seed=seed):
        sets.setdefault(f"ladder-seed{seed}-{dose:g}x", []).append(
            Sample(f"ladder/{scene}-{dose:g}x", image, points, px, polarity, {}))
    return sets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="inference checkpoints (.pt)")
    parser.add_argument("--n-images", type=int, default=4, help="images per condition")
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--replica-particle-contrast", type=float, nargs="*", default=[],
                        metavar="C", help="also score replicas whose membrane particles have this "
                        "peak contrast relative to the faintest gold (simulator default: drawn "
                        "in 0.1-0.6)")
    parser.add_argument("--ladder-scenes", type=int, default=0, metavar="N",
                        help="also score N scenes of the calibration's dose ladder "
                        "(train.calibrate.ladder_scenes, one row per dose)")
    parser.add_argument("--ladder-seed", type=int, default=8,
                        help="seed of those scenes (the calibration itself uses 7)")
    args = parser.parse_args(argv)
    sets = {c.name: make_set(c, n_images=args.n_images, seed=args.seed) for c in CONDITIONS}
    if args.ladder_scenes:
        sets.update(ladder_sets(args.ladder_scenes, args.ladder_seed))
    sets["replica-6+12nm-gold-dark-snr30"] = replica_set(args.n_images, args.seed)
    for contrast in args.replica_particle_contrast:
        sets[f"replica-particles-{contrast:g}"] = replica_set(args.n_images, args.seed,
                                                              particle_contrast=contrast)
    rows = [row for path in args.checkpoints for row in score_checkpoint(path, sets)]
    table = pd.DataFrame(rows).sort_values(["condition", "checkpoint"], kind="stable")
    print(format_table(table, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
