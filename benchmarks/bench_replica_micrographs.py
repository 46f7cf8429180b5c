"""Whole replica micrographs, as a lab hands them over, through the ``her2net detect`` command.

Usage (from the repository root)::

    python -m benchmarks.bench_replica_micrographs [--n-images 3] [--size 2048] [--keep DIR]

The other replica benchmarks score crops of a few hundred pixels in memory, with the polarity
given. Here the second renderer (``benchmarks/independent_replica.py``, not her2net's simulator)
draws whole micrographs the way the hand-annotated freeze-fracture sets come: ``--size`` px
square (2048 by default), 8-bit, saved as RGB TIFFs with no pixel size in the file, sparse gold
(30 per um^2 by default, 6 and 12 nm, as on a synapse among thousands of membrane particles) at
pixel sizes cycling through 0.6, 0.9 and 1.2 nm. Each folder is run through the command line as a
user would (``her2net detect --manifest cells.csv``, every option at its default: polarity and
checkpoint decided per image), once more with ``--polarity dark`` given, and scored with
``her2net.evaluate`` (one-to-one within 4 nm; all the gold and each size). trackpy and blob_log
(``--peers``) see the same micrographs, grey, with the polarity given, their parameters tuned on
a separate 1024-px micrograph of the same kind (0.9 nm/px). Prints one row per run and gold size
and the per-image decisions (polarity, method, checkpoint, threshold rule).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import Timer, format_table, setup_logging  # noqa: E402

SEED = 909
PIXEL_SIZES_NM = (0.6, 0.9, 1.2)
RUNS = {"defaults": [], "--polarity dark": ["--polarity", "dark"]}


def write_micrographs(folder: Path, n_images: int, size_px: int, gold_per_um2: float) -> None:
    """Render the micrographs into ``folder``: TIFFs, ``cells.csv`` and ``truth.csv``."""
    import tifffile

    from benchmarks.independent_replica import replica_image

    folder.mkdir(parents=True, exist_ok=True)
    cells, truth = [], []
    for i in range(n_images):
        px = PIXEL_SIZES_NM[i % len(PIXEL_SIZES_NM)]
        with Timer() as t:
            image, points, meta = replica_image([SEED, i], size_px=size_px, pixel_size_nm=px,
                                                gold_per_um2=gold_per_um2, bit_depth=8)
        name = f"micrograph{i}.tif"
        grey = image.astype(np.uint8)
        tifffile.imwrite(folder / name, np.repeat(grey[..., None], 3, axis=2), photometric="rgb")
        cells.append({"image": name, "cell": f"m{i}", "pixel_size_nm": px})
        sizes = np.where(meta["diameter_nm"] < 9.0, "6nm", "12nm")
        truth += [{"image": name, "x_px": x, "y_px": y, "x_nm": x * px, "y_nm": y * px,
                   "kind": kind} for (x, y), kind in zip(points, sizes)]
        logging.info("%s: %.1f nm/px, %d gold (%s), %.0f particles/um^2 [%.0f s]", name, px,
                     len(points), meta["sizes"], meta["particles_per_um2"], t.seconds)
    pd.DataFrame(cells).to_csv(folder / "cells.csv", index=False)
    pd.DataFrame(truth, columns=["image", "x_px", "y_px", "x_nm", "y_nm", "kind"]).to_csv(
        folder / "truth.csv", index=False)


def _meta(kind) -> dict:
    """A Sample's per-label metadata: its kind, and one region."""
    return {"kind": np.asarray(kind), "region": np.ones(len(kind), dtype=int)}


def _samples(folder: Path) -> list:
    """The folder's micrographs as :class:`benchmarks.common.Sample` objects (grey, truth)."""
    import tifffile

    from benchmarks.common import Sample

    truth = pd.read_csv(folder / "truth.csv")
    samples = []
    for row in pd.read_csv(folder / "cells.csv").itertuples():
        grey = tifffile.imread(folder / row.image)[..., 0].astype(np.float32)
        mine = truth[truth["image"] == row.image]
        samples.append(Sample(row.image, grey, mine[["x_px", "y_px"]].to_numpy(),
                              float(row.pixel_size_nm), "dark", _meta(mine["kind"].to_numpy())))
    return samples


def peer_rows(folder: Path, peers, gold_per_um2: float) -> list:
    """Score rows of each peer, tuned on a separate micrograph, on the folder's micrographs."""
    from benchmarks.independent_replica import replica_image
    from benchmarks.common import Sample
    from benchmarks.peers import PEERS, calibrate, detect_set

    image, points, _ = replica_image([SEED, 1000], size_px=1024, pixel_size_nm=0.9,
                                     gold_per_um2=gold_per_um2, bit_depth=8)
    calibration = [Sample("calibration", image, points, 0.9, "dark",
                          _meta(np.array(["label"] * len(points))))]
    test = _samples(folder)
    truth = pd.read_csv(folder / "truth.csv")
    rows = []
    for name in peers:
        method = PEERS[name]()
        with Timer() as t:
            params, _ = calibrate(method, calibration)
            found = detect_set(method, test, params)
        rows += _score(found, truth, name, t.seconds)
    return rows


def _score(detections: pd.DataFrame, truth: pd.DataFrame, name: str, seconds: float) -> list:
    """Rows of one run: all the gold and each size alone."""
    from her2net.evaluate import evaluate_detections

    # Every detection is matched once against all the gold; a detection matched to gold of the
    # other size is not a false detection of this size.
    matched = evaluate_detections(detections, truth, tolerance_nm=4.0).truth["matched"].to_numpy()
    kind = truth["kind"].to_numpy()
    rows = []
    for gold in ("6+12", "6", "12"):
        wanted = np.ones(len(truth), bool) if gold == "6+12" else kind == f"{gold}nm"
        n_matched = int(matched[wanted].sum())
        n_detected = len(detections) - int(matched[~wanted].sum())
        precision = n_matched / max(n_detected, 1)
        recall = n_matched / max(int(wanted.sum()), 1)
        rows.append({"run": name, "gold": gold, "n_truth": int(wanted.sum()),
                     "n_detected": n_detected, "precision": precision, "recall": recall,
                     "f1": 2 * precision * recall / max(precision + recall, 1e-12),
                     "seconds": seconds})
    return rows


def detect_and_score(folder: Path, name: str, extra: list) -> tuple[list, list]:
    """Run ``her2net detect`` on the folder's manifest; (score rows, per-image decision rows)."""
    out = folder / f"detections_{name.strip('-').replace(' ', '_')}.csv"
    command = [sys.executable, "-m", "her2net", "detect", "--manifest", str(folder / "cells.csv"),
               "--out", str(out), "--overwrite", *extra]
    with Timer() as t:
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"her2net detect ({name}) failed: {done.stderr.strip()}")
    rows = _score(pd.read_csv(out), pd.read_csv(folder / "truth.csv"), name, t.seconds)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    decisions = [{"run": name, "image": info["image"], "pixel_size_nm": info["pixel_size_nm"],
                  "polarity": f"{info['polarity']} ({info['polarity_method']})",
                  "shadowing_index": info.get("shadowing_index", float("nan")),
                  "checkpoint": info["checkpoint"], "threshold": info["threshold"],
                  "threshold_rule": info["threshold_rule"], "detections": info["detections"]}
                 for info in sidecar["images"]]
    return rows, decisions


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=3)
    parser.add_argument("--size", type=int, default=2048, help="micrograph size in px")
    parser.add_argument("--gold-per-um2", type=float, default=30.0)
    parser.add_argument("--peers", nargs="*", default=["trackpy", "blob_log"],
                        choices=["trackpy", "blob_log"], help="peers to run beside (default both)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="write the micrographs, truth and detections here (default: a "
                             "temporary folder, removed)")
    args = parser.parse_args(argv)
    setup_logging()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch)
        write_micrographs(folder, args.n_images, args.size, args.gold_per_um2)
        rows, decisions = [], []
        for name, extra in RUNS.items():
            more_rows, more_decisions = detect_and_score(folder, name, extra)
            rows += more_rows
            decisions += more_decisions
        rows += peer_rows(folder, args.peers, args.gold_per_um2)
    print(format_table(pd.DataFrame(rows)))
    print()
    print(format_table(pd.DataFrame(decisions), floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
