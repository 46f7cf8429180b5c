"""Detection accuracy of her2net against trackpy.locate and skimage blob_log on simulated sets.

For each condition (label x polarity x dose, see ``benchmarks.common``): simulate a calibration
set and a disjoint test set, tune each peer's free parameters on the calibration set
(``benchmarks.peers.calibrate``), freeze them, and score every method on the test set (one-to-one
matching within 4 nm). her2net runs with its checkpoint's calibrated threshold (nothing tuned).

Usage (from the repository root)::

    python -m benchmarks.bench_detection_accuracy [--methods trackpy blob_log her2net]
        [--n-calibration 3] [--n-test 5] [--doses standard 0.3x 0.12x]

Rows are stored in ``benchmarks/results/detection_accuracy.csv`` (rows of the methods run replace
their old rows, so methods can be run one at a time) and the tables printed are built from it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from benchmarks.common import CONDITIONS, DOSES, Timer, format_table, make_set, score

RESULTS = Path(__file__).resolve().parent / "results" / "detection_accuracy.csv"
CAL_SEED, TEST_SEED = 101, 202


def _method(name: str, *, spotiflow_model=None, checkpoint=None):
    from benchmarks.peers import PEERS, Her2net

    if name == "her2net":
        return Her2net(checkpoint=checkpoint)  # None: the shipped checkpoint
    if name == "spotiflow":  # only in the Spotiflow environment (benchmarks/spotiflow_peer.py)
        from benchmarks.spotiflow_peer import SpotiflowPeer

        return SpotiflowPeer(spotiflow_model)
    return PEERS[name]()


def run_condition(condition, methods, *, n_calibration: int, n_test: int, fov_nm: float,
                  pixel_size_range_nm=None) -> list:
    from benchmarks.peers import calibrate, detect_set

    sets = dict(fov_nm=fov_nm, pixel_size_range_nm=pixel_size_range_nm)
    cal = make_set(condition, n_images=n_calibration, seed=CAL_SEED, **sets)
    test = make_set(condition, n_images=n_test, seed=TEST_SEED, **sets)
    n_pixels = sum(s.image.size for s in test)
    rows = []
    for method in methods:
        with Timer() as t_cal:
            if method.name == "her2net":
                params, cal_f1 = {"threshold": "auto"}, float("nan")
            elif method.name == "spotiflow":  # its own threshold, optimised at training
                params, cal_f1 = {}, float("nan")
            else:
                params, cal_f1 = calibrate(method, cal)
        with Timer() as t_test:
            dets = detect_set(method, test, params)
        ev = score(dets.drop(columns="score"), test)
        pairs = ev.pair_resolution
        close = pairs[pairs["distance_hi_nm"] <= 20]
        s = ev.summary
        rows.append({
            "condition": condition.name, "scene": condition.scene, "label": condition.label,
            "pixel_size_nm": condition.pixel_size_nm if pixel_size_range_nm is None else np.nan,
            "polarity": condition.polarity, "dose": condition.dose, "method": method.name,
            "n_images": len(test), "n_truth": s["n_truth"], "n_detected": s["n_detected"],
            "precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
            "rmse_nm": s["rmse_nm"],
            "pair_recall_le20nm": (close["n_resolved"].sum() / close["n_pairs"].sum()
                                   if close["n_pairs"].sum() else np.nan),
            "calibration_f1": cal_f1, "params": repr(params),
            "calibration_s": t_cal.seconds, "test_s": t_test.seconds,
            "megapixels_per_s": n_pixels / 1e6 / t_test.seconds,
        })
        logging.info("%-22s %-8s F1 %.3f (P %.3f R %.3f) RMSE %.2f nm  [cal %.0f s, test %.1f s] %s",
                     condition.name, method.name, s["f1"], s["precision"], s["recall"],
                     s["rmse_nm"], t_cal.seconds, t_test.seconds, params)
    return rows


def _pooled(table: pd.DataFrame) -> pd.DataFrame:
    """F1 pooled over the label/polarity kinds of each dose (counts summed)."""
    t = table.assign(n_matched=table["recall"] * table["n_truth"])
    keys = ["scene", "dose", "method"]
    g = t.groupby(keys, sort=False)[["n_truth", "n_detected", "n_matched"]].sum()
    g["precision"] = g["n_matched"] / g["n_detected"].clip(lower=1)
    g["recall"] = g["n_matched"] / g["n_truth"].clip(lower=1)
    g["f1"] = 2 * g["n_matched"] / (g["n_truth"] + g["n_detected"]).clip(lower=1)
    w = t.assign(sq=t["rmse_nm"] ** 2 * t["n_matched"]).groupby(keys, sort=False)
    g["rmse_nm"] = np.sqrt(w["sq"].sum() / w["n_matched"].sum())
    return g.reset_index()


def print_tables(table: pd.DataFrame) -> None:
    order = {d: i for i, d in enumerate(DOSES)}
    table = table.sort_values(["scene", "dose", "label", "polarity", "method"],
                              key=lambda c: c.map(order) if c.name == "dose" else c,
                              ascending=[False, True, True, True, True])
    wide = table.pivot_table(index=["scene", "dose", "label", "polarity", "pixel_size_nm",
                                    "n_truth"],
                             columns="method", values="f1", sort=False).reset_index()
    print("\nF1 per condition (one-to-one matching within 4 nm):\n")
    print(format_table(wide))
    print("\nPooled over label and polarity, per dose:\n")
    pooled = _pooled(table)
    print(format_table(pooled[["scene", "dose", "method", "n_truth", "precision", "recall", "f1",
                               "rmse_nm"]]))
    print("\nAll rows:\n")
    print(format_table(table[["condition", "method", "precision", "recall", "f1", "rmse_nm",
                              "pair_recall_le20nm", "calibration_f1", "params"]]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["trackpy", "blob_log", "her2net"],
                        choices=["trackpy", "blob_log", "her2net", "spotiflow"])
    parser.add_argument("--spotiflow-model", type=Path, default=Path("/tmp/spotiflow-model"),
                        help="folder of a Spotiflow model trained by benchmarks/spotiflow_peer.py")
    parser.add_argument("--doses", nargs="+", default=list(DOSES), choices=list(DOSES))
    parser.add_argument("--scenes", nargs="+", default=["randomised", "clean"],
                        choices=["randomised", "clean"])
    parser.add_argument("--n-calibration", type=int, default=3)
    parser.add_argument("--n-test", type=int, default=5)
    parser.add_argument("--fov-nm", type=float, default=256.0)
    parser.add_argument("--pixel-size-range-nm", type=float, nargs=2, default=None,
                        metavar=("LOW", "HIGH"), help="draw each image's pixel size log-uniformly "
                        "in this range (default: one pixel size per condition)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="her2net checkpoint to score (default: the shipped one)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--print-only", action="store_true", help="print the stored tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", message="No maxima survived")
    if not args.print_only:
        methods = [_method(name, spotiflow_model=args.spotiflow_model, checkpoint=args.checkpoint)
                   for name in args.methods]
        rows = []
        with Timer() as total:
            for condition in CONDITIONS:
                if condition.dose in args.doses and condition.scene in args.scenes:
                    rows += run_condition(condition, methods, n_calibration=args.n_calibration,
                                          n_test=args.n_test, fov_nm=args.fov_nm,
                                          pixel_size_range_nm=args.pixel_size_range_nm)
        logging.info("total %.0f s", total.seconds)
        new = pd.DataFrame(rows)
        if args.results.is_file():
            old = pd.read_csv(args.results)
            keep = ~(old["method"].isin(args.methods) & old["dose"].isin(args.doses)
                     & old["scene"].isin(args.scenes))
            new = pd.concat([old[keep], new], ignore_index=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        new.to_csv(args.results, index=False)
    print_tables(pd.read_csv(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
