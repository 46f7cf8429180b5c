"""Fine-tuning on annotated replicas: how far a lab's own annotations move the replica figures.

Usage (from the repository root; needs the train extra, ``make install-dev``)::

    python -m benchmarks.bench_finetune_replicas [--n-images 160] [--steps 2000] [--out DIR] [--overwrite]
    python -m benchmarks.bench_finetune_replicas --reuse      # score an earlier run's checkpoints again

Issue 5's bright-field TEM target (recall >= 0.95 at precision >= 0.8 on freeze-fracture replicas)
is out of reach for the shipped checkpoint on her2net's simulated replicas
(``benchmarks/bench_replicas.py``), and the real images are not here. What would close it is
fine-tuning on annotated images of the user's own kind (``configs/finetune.yaml``). This script
runs that workflow end to end, as a user would, on stand-in annotations:

1. writes ``--n-images`` simulated replicas (``benchmarks.common.replica_set``, a seed of their
   own: none of them is a test image) as TIFFs with a points CSV (``image, x_px, y_px``, the
   format ``her2net detect`` writes) and a manifest ``cells.csv`` with the pixel size; images
   without gold are listed in the manifest only (annotated as empty);
2. fine-tunes the shipped checkpoint with ``python -m train fit --config configs/finetune.yaml``
   (``--steps`` steps, the last ``--n-val`` images held out for validation and the threshold);
3. exports the run (``python -m train export``: the threshold of the best validation F1), and
   calibrates a copy on the held-out images (``python -m train calibrate --annotated``: the
   threshold pair of ``threshold='auto'`` and the network's noise-peak rate);
4. averages the fine-tuned weights with the shipped ones (``python -m train average``, a share
   of ``--average-weight`` for the fine-tuned, 0.3 by default; 0 skips it) and calibrates the
   average on the held-out images the same way;
5. scores the shipped, the fine-tuned, the fine-tuned + calibrated and the averaged + calibrated
   checkpoint on ``bench_replicas``'s test images (the same seed and 4 particle contrasts;
   ``--n-test`` images each, 24 by default as there; her2net only).

The stand-in annotations come from the same simulator as the test images, so the fine-tuned
figures say what a lab's annotations of its own kind of images can buy, not what the shipped
model does on real replicas. Rows go to ``benchmarks/results/finetune_replicas.csv``; the run's
metrics and config stay in ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from benchmarks.common import Timer, format_table, replica_set, setup_logging  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "finetune_replicas.csv"
ANNOTATION_SEED = 2027  # bench_replicas uses 55 (calibration) and 99 (test)


def write_annotated_set(folder: Path, n_images: int, seed: int = ANNOTATION_SEED) -> tuple[Path, Path, list]:
    """Write simulated replicas as an annotated folder; return (points CSV, manifest, names)."""
    from her2net.io import write_tiff

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows, manifest, names = [], [], []
    for sample in replica_set(n_images, seed):
        name = f"replica_{len(names):03d}.tif"
        write_tiff(images / name, sample.image, pixel_size_nm=sample.pixel_size_nm)
        rows += [{"image": name, "x_px": float(x), "y_px": float(y)} for x, y in sample.points_px]
        manifest.append({"image": f"images/{name}", "cell": f"replica_{len(names):03d}",
                         "pixel_size_nm": sample.pixel_size_nm})
        names.append(name)
    points_csv, manifest_csv = folder / "points.csv", folder / "cells.csv"
    pd.DataFrame(rows, columns=["image", "x_px", "y_px"]).to_csv(points_csv, index=False)
    pd.DataFrame(manifest).to_csv(manifest_csv, index=False)
    logging.info("annotated set: %d images (%d without gold), %d labels in %s", len(names),
                 len(set(names) - {r["image"] for r in rows}), len(rows), folder)
    return points_csv, manifest_csv, names


def fine_tune(out: Path, points_csv: Path, manifest_csv: Path, val_names: list, steps: int) -> Path:
    """Run ``train fit`` with configs/finetune.yaml and export the last checkpoint."""
    run_dir = out / "run"
    command = [sys.executable, "-m", "train", "fit", "--config", str(ROOT / "configs" / "finetune.yaml"),
               "--data.annotated.images_dir", str(points_csv.parent / "images"),
               "--data.annotated.points_csv", str(points_csv),
               "--data.annotated.manifest", str(manifest_csv),
               "--data.annotated.polarity", "dark",
               "--data.annotated.val_images", "[" + ",".join(val_names) + "]",
               "--trainer.max_steps", str(steps),
               "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", str(run_dir),
               "--trainer.logger.init_args.save_dir", str(run_dir)]
    logging.info("fine-tuning: %s", " ".join(command))
    with open(out / "train.log", "w") as log:
        subprocess.run(command, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    last = sorted(run_dir.glob("**/checkpoints/last.ckpt"))[-1]
    exported = out / "finetuned.pt"
    subprocess.run([sys.executable, "-m", "train", "export", str(last), str(exported),
                    "--description", f"shipped her2net-v1 fine-tuned on {points_csv} "
                    "(simulated replicas, bench_finetune_replicas)"],
                   check=True, cwd=ROOT)
    return exported


def calibrate_on_held_out(tuned: Path, points_csv: Path, manifest_csv: Path, val_names: list) -> Path:
    """``python -m train calibrate`` on the held-out annotated images; return the new checkpoint."""
    out = tuned.with_name(tuned.stem + "_calibrated.pt")
    command = [sys.executable, "-m", "train", "calibrate", str(tuned), "--out", str(out),
               "--annotated", str(points_csv), "--images-dir", str(points_csv.parent / "images"),
               "--manifest", str(manifest_csv), "--polarity", "dark", "--images", *val_names]
    logging.info("calibrating: %s", " ".join(command))
    subprocess.run(command, check=True, cwd=ROOT)
    return out


def average_with_shipped(tuned: Path, weight: float) -> Path:
    """``python -m train average`` of the shipped and the fine-tuned weights; return the file."""
    from her2net.model import shipped_checkpoint_path

    out = tuned.with_name(f"averaged_{weight:g}.pt")
    command = [sys.executable, "-m", "train", "average", str(shipped_checkpoint_path()), str(tuned),
               str(out), "--weight", f"{weight:g}"]
    logging.info("averaging: %s", " ".join(command))
    subprocess.run(command, check=True, cwd=ROOT)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=160, help="annotated images (default 160)")
    parser.add_argument("--n-val", type=int, default=8, help="of them held out (default 8)")
    parser.add_argument("--steps", type=int, default=2000, help="fine-tuning steps (default 2000)")
    parser.add_argument("--n-test", type=int, default=24, help="test images per row (default 24)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "finetune_replicas",
                        help="folder for the annotated set, the run and the checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out if it holds an earlier run of this script")
    parser.add_argument("--reuse", action="store_true",
                        help="keep --out's annotated set and fine-tuned.pt from an earlier run; "
                             "calibrate, average and score again")
    parser.add_argument("--average-weight", type=float, default=0.3,
                        help="share of the fine-tuned weights in the average with the shipped "
                             "ones (default 0.3; 0: no average)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--print-only", action="store_true", help="print the stored table")
    args = parser.parse_args(argv)
    setup_logging()
    if not args.print_only:
        from benchmarks.bench_replicas import run as run_replicas

        if not 0.0 <= args.average_weight < 1.0:
            parser.error(f"--average-weight {args.average_weight:g}: expected 0 (none) to under 1")
        earlier = (args.out / "annotated" / "points.csv").is_file() and (args.out / "finetuned.pt").is_file()
        if args.reuse and not earlier:
            parser.error(f"{args.out}: holds no earlier run of this script to --reuse")
        if not args.reuse and args.out.exists() and any(args.out.iterdir()):
            if not (args.overwrite and (args.out / "annotated" / "points.csv").is_file()):
                parser.error(f"{args.out}: exists and is not empty (give another --out, or "
                             "--overwrite to replace an earlier run of this script)")
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        with Timer() as total:
            if args.reuse:
                points_csv = args.out / "annotated" / "points.csv"
                manifest_csv = args.out / "annotated" / "cells.csv"
                names = [Path(p).name for p in pd.read_csv(manifest_csv)["image"]]
                held_out = names[-args.n_val:]
                tuned = args.out / "finetuned.pt"
                described = _earlier_description(args.results, len(names), args.n_test)
            else:
                points_csv, manifest_csv, names = write_annotated_set(args.out / "annotated",
                                                                      args.n_images)
                held_out = names[-args.n_val:]
                with Timer() as t_fit:
                    tuned = fine_tune(args.out, points_csv, manifest_csv, held_out, args.steps)
                logging.info("fine-tuning took %.0f s", t_fit.seconds)
                described = (f"{len(names)} images, {args.steps} steps, "
                             f"{t_fit.seconds / 60:.1f} min, {args.n_test} test images")
            calibrated = calibrate_on_held_out(tuned, points_csv, manifest_csv, held_out)
            candidates = [("shipped", None), ("fine-tuned", tuned),
                          ("fine-tuned + calibrated", calibrated)]
            if args.average_weight > 0:
                averaged = average_with_shipped(tuned, args.average_weight)
                averaged = calibrate_on_held_out(averaged, points_csv, manifest_csv, held_out)
                candidates.append((f"averaged {args.average_weight:g} + calibrated", averaged))
            tables = []
            for label, checkpoint in candidates:
                table = run_replicas(3, args.n_test, ["her2net"], checkpoint=checkpoint)
                tables.append(table.assign(checkpoint=label))
        logging.info("total %.0f s", total.seconds)
        table = pd.concat(tables, ignore_index=True)
        table.insert(0, "fine_tune", described)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.results, index=False)
    table = pd.read_csv(args.results)
    columns = ["particle_contrast", "gold", "checkpoint", "n_truth", "precision", "recall", "f1",
               "precision_at_recall_0.95", "rmse_nm"]
    columns = [c for c in columns if c in table.columns]  # tables from before the gold rows
    print(f"\nReplicas before and after fine-tuning ({table['fine_tune'].iloc[0]}; matching within 4 nm)\n")
    print(format_table(table[columns].round({"precision_at_recall_0.95": 3}), floatfmt=".3f"))
    return 0


def _earlier_description(results: Path, n_images: int, n_test: int) -> str:
    """How the reused fine-tuning ran (images, steps, minutes), as its results recorded it."""
    if results.is_file():
        earlier = str(pd.read_csv(results)["fine_tune"].iloc[0]).split(", ")
        run = ", ".join(part for part in earlier if not part.endswith("test images"))
        return f"{run} (reused), {n_test} test images"
    return f"{n_images} images, an earlier run (reused), {n_test} test images"


if __name__ == "__main__":
    sys.exit(main())
