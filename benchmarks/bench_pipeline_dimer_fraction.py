"""Per-cell dimer fraction: her2net detect + analyze against the nearest-neighbour rule on peers.

Usage (from the repository root)::

    python -m benchmarks.bench_pipeline_dimer_fraction [--cells 10] [--images-per-cell 2]
        [--size-px 512] [--methods her2net trackpy blob_log] [--workdir DIR]

Two simulated data sets (``her2net.simulate.simulate_dataset``: liquid STEM, 10-nm gold, 0.8-1.6
nm/px, per-cell dimer fraction drawn in 0-0.5 with 20% of cells free of dimers): a calibration set
on which the peers' parameters are tuned (``benchmarks.peers.calibrate``) and a test set. On the
test set every method detects the labels of every image, and each cell's dimer fraction is
estimated

* for her2net by ``her2net.analyze.analyze_cells`` on every column ``her2net.detect`` writes, as
  ``her2net run`` does (model-based, chance pairs accounted for; the hard core is the
  detections' median ``diameter_nm``);
* for each peer (and for her2net too, as a reference) by the uncorrected nearest-neighbour rule
  users apply today: the fraction of labels whose nearest neighbour in the same image is closer
  than ``--pair-distance-nm`` (30);
* on the true positions, by both, to separate detection errors from estimator errors.

The table gives, over cells, the mean absolute error, bias and RMSE of the dimer fraction against
``cell_truth.csv``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from benchmarks.common import Sample, Timer, format_table

CAL_SEED, TEST_SEED = 303, 404
RESULTS = Path(__file__).resolve().parent / "results" / "dimer_fraction.csv"


def _dataset(folder: Path, *, seed: int, cells: int, images_per_cell: int, size_px: int):
    from her2net.simulate import simulate_dataset

    return simulate_dataset(folder, cells=cells, images_per_cell=images_per_cell, size_px=size_px,
                            label="gold", polarity="bright", seed=seed, overwrite=True)


def _samples(ds) -> list[Sample]:
    from her2net.io import read_image, read_manifest

    samples = []
    truth = ds.truth
    for row in read_manifest(ds.path / "cells.csv").itertuples():
        image = read_image(row.image_path).data
        pts = truth.loc[truth["image"] == row.image, ["x_px", "y_px"]].to_numpy(float)
        samples.append(Sample(str(row.image), image, pts, float(row.pixel_size_nm), "bright",
                              {"kind": truth.loc[truth["image"] == row.image, "kind"].to_numpy(),
                               "region": truth.loc[truth["image"] == row.image,
                                                   "region"].to_numpy()}))
    return samples


def nearest_neighbour_fraction(detections: pd.DataFrame, manifest: pd.DataFrame, *,
                               pair_distance_nm: float) -> pd.DataFrame:
    """Per cell: fraction of labels whose nearest neighbour (same image) is within the distance."""
    cell_of = dict(zip(manifest["image"].astype(str), manifest["cell"].astype(str)))
    paired = {c: 0 for c in cell_of.values()}
    total = {c: 0 for c in cell_of.values()}
    for image, part in detections.groupby("image"):
        cell = cell_of[str(image)]
        xy = part[["x_nm", "y_nm"]].to_numpy(float)
        total[cell] += len(xy)
        if len(xy) >= 2:
            d, _ = cKDTree(xy).query(xy, k=2)
            paired[cell] += int(np.sum(d[:, 1] <= pair_distance_nm))
    return pd.DataFrame({"cell": list(total),
                         "dimer_fraction": [paired[c] / total[c] if total[c] else np.nan
                                            for c in total]})


def _her2net_detections(method, samples) -> pd.DataFrame:
    """her2net.detect on every sample, all its columns (diameter_nm too), as ``her2net run``."""
    from her2net.detect import detect

    frames = []
    for sample in samples:
        found = detect(sample.image, pixel_size_nm=sample.pixel_size_nm, model=method.model,
                       polarity=sample.polarity)
        found["image"] = sample.name
        frames.append(found)
    return pd.concat(frames, ignore_index=True)


def _analyze(detections: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    from her2net.analyze import AnalysisSettings, analyze_cells

    result = analyze_cells(detections, manifest, settings=AnalysisSettings(simulations=19))
    return result.cells[["cell", "dimer_fraction"]]


def _errors(estimate: pd.DataFrame, cell_truth: pd.DataFrame) -> dict:
    from her2net.errors import InputError
    from her2net.evaluate import dimer_fraction_errors, summarize_dimer_fraction_errors

    try:
        errors = dimer_fraction_errors(estimate.dropna(subset=["dimer_fraction"]), cell_truth)
    except InputError:  # no cell with an estimate (too few labels)
        return {"n_cells": 0, "mae": np.nan, "rmse": np.nan, "bias": np.nan}
    return summarize_dimer_fraction_errors(errors)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--calibration-cells", type=int, default=3)
    parser.add_argument("--images-per-cell", type=int, default=2)
    parser.add_argument("--size-px", type=int, default=512)
    parser.add_argument("--pair-distance-nm", type=float, default=30.0)
    parser.add_argument("--methods", nargs="+", default=["her2net", "trackpy", "blob_log"],
                        choices=["her2net", "trackpy", "blob_log"])
    parser.add_argument("--workdir", type=Path, help="keep the simulated data sets here")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="rows of the methods run replace their old rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", message="No maxima survived")
    from benchmarks.peers import PEERS, Her2net, calibrate, detect_set
    from her2net.io import read_manifest

    work = args.workdir or Path(tempfile.mkdtemp(prefix="her2net-bench-dimer-"))
    with Timer() as t_sim:
        cal = _dataset(work / "calibration", seed=CAL_SEED, cells=args.calibration_cells,
                       images_per_cell=args.images_per_cell, size_px=args.size_px)
        test = _dataset(work / "test", seed=TEST_SEED, cells=args.cells,
                        images_per_cell=args.images_per_cell, size_px=args.size_px)
    logging.info("simulated %d + %d cells in %.0f s (%s)", args.calibration_cells, args.cells,
                 t_sim.seconds, work)
    manifest = read_manifest(test.path / "cells.csv")
    cell_truth = test.cell_truth
    test_samples, cal_samples = _samples(test), _samples(cal)
    rows = []

    def add(method, rule, estimate, seconds):
        rows.append({"detections": method, "dimer fraction by": rule,
                     **_errors(estimate, cell_truth), "seconds": seconds})

    truth = test.truth.copy()
    with Timer() as t:
        est = _analyze(truth[["image", "x_px", "y_px"]], manifest)
    add("truth positions", "her2net analyze", est, t.seconds)
    add("truth positions", "nearest-neighbour rule",
        nearest_neighbour_fraction(truth, manifest, pair_distance_nm=args.pair_distance_nm), 0.0)
    for name in args.methods:
        with Timer() as t_det:
            if name == "her2net":
                method, params = Her2net(), {"threshold": "auto"}
            else:
                method = PEERS[name]()
                params, _ = calibrate(method, cal_samples)
            dets = (_her2net_detections(method, test_samples) if name == "her2net"
                    else detect_set(method, test_samples, params))
        logging.info("%s: %d detections in %.0f s (with calibration) %s", name, len(dets),
                     t_det.seconds, params)
        if name == "her2net":
            # As `her2net run` does: the analysis's hard core is the detections' median
            # diameter_nm.
            with Timer() as t:
                est = _analyze(dets[["image", "x_px", "y_px", "x_nm", "y_nm", "diameter_nm"]],
                               manifest)
            add(name, "her2net analyze", est, t_det.seconds + t.seconds)
        add(name, "nearest-neighbour rule",
            nearest_neighbour_fraction(dets, manifest, pair_distance_nm=args.pair_distance_nm),
            t_det.seconds)
    print(f"\nPer-cell dimer fraction against cell_truth.csv ({args.cells} cells, "
          f"{args.images_per_cell} images of {args.size_px} px each; nearest-neighbour rule at "
          f"{args.pair_distance_nm:g} nm):\n")
    table = pd.DataFrame(rows)
    if args.results.is_file():
        old = pd.read_csv(args.results)
        table = pd.concat([old[~old["detections"].isin(table["detections"])], table],
                          ignore_index=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.results, index=False)
    print(format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
