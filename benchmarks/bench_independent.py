"""Detection on images of a second, independent simulator, side by side with trackpy and blob_log.

Usage (from the repository root)::

    python -m benchmarks.bench_independent [--n-calibration 3] [--n-test 6] [--wide]

her2net was trained on its own simulator only; this benchmark scores it on images from
:mod:`benchmarks.independent_sim` (Gaussian spots, pure Poisson counts, labels only inside the
image: none of her2net's simulator code), at a standard dose and at 0.3x and 0.12x of it, the
way the project's targets are set. Each condition (pixel size, polarity, label size, background
counts at the standard dose) has its own calibration set on which the peers' parameters are
tuned (``benchmarks.peers.calibrate``) and a separate test set; her2net runs with its shipped
checkpoint and calibrated threshold (``threshold='auto'``), nothing tuned here. One-to-one
matching within 4 nm. Prints the F1 and the localisation RMSE, the latter beside the Cramer-Rao
bound of each condition (:func:`benchmarks.independent_sim.crlb_rmse_nm`); the rows go to
``benchmarks/results/independent.csv``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from benchmarks.common import (Timer, add_peer_arguments, format_table, score,  # noqa: E402
                               setup_logging)
from benchmarks.independent_sim import crlb_rmse_nm, independent_set  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "independent.csv"
CAL_SEED, TEST_SEED = 101, 202
DOSES = {"standard": 1.0, "0.3x": 0.3, "0.12x": 0.12}
FOV_NM = 384.0
# (name, options of independent_image): liquid-STEM-like bright gold at two standard doses
# (background counts per pixel; 0.12x of 100 counts is 12), and dark
# (bright-field) 12 nm gold at a finer pixel size.
CONDITIONS = (
    ("bright-10nm-1.5px-b100", dict(pixel_size_nm=1.5, diameter_nm=10.0, background_counts=100.0,
                                    polarity="bright")),
    ("bright-10nm-1.5px-b200", dict(pixel_size_nm=1.5, diameter_nm=10.0, background_counts=200.0,
                                    polarity="bright")),
    ("dark-12nm-0.75px-b60", dict(pixel_size_nm=0.75, diameter_nm=12.0, background_counts=60.0,
                                  polarity="dark", contrast=0.3)),
)

# The range beyond the three above (``--wide``): 0.5-3 nm/px, 6-18 nm labels, a faint
# large label (quantum-dot-like contrast) and small dark gold.
WIDE_CONDITIONS = (
    ("bright-6nm-0.5px-b20", dict(pixel_size_nm=0.5, diameter_nm=6.0, background_counts=20.0,
                                  polarity="bright")),
    ("bright-12nm-3px-b100", dict(pixel_size_nm=3.0, diameter_nm=12.0, background_counts=100.0,
                                  polarity="bright")),
    ("bright-6nm-2px-b200", dict(pixel_size_nm=2.0, diameter_nm=6.0, background_counts=200.0,
                                 polarity="bright")),
    ("bright-18nm-1px-b50-c0.2", dict(pixel_size_nm=1.0, diameter_nm=18.0,
                                      background_counts=50.0, polarity="bright", contrast=0.2)),
    ("dark-6nm-1px-b100", dict(pixel_size_nm=1.0, diameter_nm=6.0, background_counts=100.0,
                               polarity="dark", contrast=0.5)),
)
RESULTS_WIDE = RESULTS.with_name("independent_wide.csv")


def bright_conditions(background_counts) -> tuple:
    """The 10-nm bright condition at other background counts (standard dose), as CONDITIONS."""
    base = dict(CONDITIONS[0][1])
    return tuple((f"bright-10nm-1.5px-b{counts:g}", dict(base, background_counts=float(counts)))
                 for counts in background_counts)


def run(n_calibration: int, n_test: int, methods, checkpoint=None, conditions=CONDITIONS) -> pd.DataFrame:
    from benchmarks.peers import PEERS, Her2net, calibrate, detect_set

    detectors = [Her2net(checkpoint=checkpoint) if m == "her2net" else PEERS[m]() for m in methods]
    rows = []
    for name, options in conditions:
        options = dict(options, size_px=int(round(FOV_NM / options["pixel_size_nm"])))
        for dose, factor in DOSES.items():
            cal = independent_set(n_calibration, CAL_SEED, dose_scale=factor, name=name, **options)
            test = independent_set(n_test, TEST_SEED, dose_scale=factor, name=name, **options)
            for method in detectors:
                with Timer() as t:
                    params = ({"threshold": "auto"} if method.name == "her2net"
                              else calibrate(method, cal)[0])
                    found = detect_set(method, test, params)
                s = score(found.drop(columns="score"), test).summary
                rows.append({"condition": name, "dose": dose, "method": method.name,
                             "n_truth": s["n_truth"], "precision": s["precision"],
                             "recall": s["recall"], "f1": s["f1"], "rmse_nm": s["rmse_nm"],
                             "crlb_rmse_nm": crlb_rmse_nm(dose_scale=factor, **options),
                             "params": repr(params)})
                logging.info("%-24s %-8s %-8s F1 %.3f (P %.3f R %.3f) RMSE %.2f nm [%.0f s]",
                             name, dose, method.name, s["f1"], s["precision"], s["recall"],
                             s["rmse_nm"], t.seconds)
    return pd.DataFrame(rows)


def print_tables(table: pd.DataFrame) -> None:
    wide = table.pivot_table(index=["condition", "dose", "n_truth"], columns="method",
                             values="f1", sort=False).reset_index()
    print("\nF1 (one-to-one matching within 4 nm):\n")
    print(format_table(wide))
    rmse = table.pivot_table(index=["condition", "dose"], columns="method", values="rmse_nm",
                             sort=False).reset_index()
    if "crlb_rmse_nm" in table:
        floor = table.groupby(["condition", "dose"], sort=False)["crlb_rmse_nm"].first()
        rmse["cramer_rao_bound"] = [floor.get((c, d), float("nan"))
                                    for c, d in zip(rmse["condition"], rmse["dose"])]
    print("\nLocalisation RMSE of matched labels (nm; cramer_rao_bound: the lowest RMSE any unbiased\n"
          "estimator can reach for an isolated label of the condition):\n")
    print(format_table(rmse))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_peer_arguments(parser, results=RESULTS, n_test=6)
    parser.add_argument("--background-counts", type=float, nargs="+", default=None, metavar="N",
                        help="instead of the stored conditions, 10-nm bright gold at these "
                             "background counts per pixel (standard dose); give --results "
                             "elsewhere to keep the stored rows")
    parser.add_argument("--wide", action="store_true",
                        help="instead of the stored conditions, the wider range of pixel and "
                             "label sizes (rows to benchmarks/results/independent_wide.csv "
                             "unless --results is given)")
    args = parser.parse_args(argv)
    if args.wide and args.background_counts is not None:
        parser.error("--wide and --background-counts are alternatives")
    if args.wide and args.results == RESULTS:
        args.results = RESULTS_WIDE
    setup_logging()
    if not args.print_only:
        with Timer() as total:
            conditions = (WIDE_CONDITIONS if args.wide else CONDITIONS
                          if args.background_counts is None
                          else bright_conditions(args.background_counts))
            table = run(args.n_calibration, args.n_test, args.methods, args.checkpoint, conditions)
        logging.info("total %.0f s", total.seconds)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.results, index=False)
    print_tables(pd.read_csv(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
