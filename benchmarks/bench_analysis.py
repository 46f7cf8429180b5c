"""Dimer-fraction accuracy of `her2net analyze` on simulated cells with known truth.

Truth positions come from the simulator (``her2net.simulate.cell.simulate_cell_points``: receptors
placed in a cell mask, dimers at N(mu, sd) label spacing, labelling efficiency), fed in as
perfect detections. For each scenario the script reports the mean absolute error of
dimer_fraction, its bias, the coverage of the 95% interval, the calls of dimer-absent cells, and
the error of the uncorrected nearest-neighbour rule (fraction of labels with a neighbour closer
than the dimer distance) on the same cells.

Usage::

    python benchmarks/bench_analysis.py --cells 40 --seed 0 --out bench_analysis.csv
    python benchmarks/bench_analysis.py --timing          # one 20,000-label cell, 199 simulations

Scenarios: ``main`` (flat membrane, spacing N(20, 4) nm, p = 1), ``ruffles`` (30% ruffles at twice
the density), ``spacing`` (spacing N(30, 8) nm: longer, more variable linkers), ``bimodal`` (own
generator: spacing a 50/50 mixture of N(14, 2) and N(30, 3) nm, not a normal at all), ``labeling``
(p = 0.7, analysed with --labeling-efficiency 0.7), ``dense`` (as ``main`` at 800-1600 labels/µm²:
HER2's upper range on flat membrane and in ruffles, where chance neighbours outnumber partners).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SCENARIOS = ("main", "ruffles", "spacing", "bimodal", "labeling", "dense")
#: Label density per scenario (labels/µm², uniform between the two).
DENSITY_PER_UM2 = {"dense": (800.0, 1600.0)}
_DEFAULT_DENSITY_PER_UM2 = (150.0, 600.0)


def _cell_points(rng, scenario: str, density_per_um2: float, fraction: float, size_px: int, px: float):
    """(mask uint8, points DataFrame with x_px, y_px, x_nm, y_nm, diameter_nm, truth flag)."""
    p = 0.7 if scenario == "labeling" else 1.0
    if scenario == "bimodal":
        from her2net.analyze import Window, dimer_pattern

        mask = np.ones((size_px, size_px), np.uint8)
        window = Window(mask > 0, px)

        def bimodal(rng, n):
            pick = rng.random(n) < 0.5
            return np.where(pick, rng.normal(14, 2, n), rng.normal(30, 3, n)).clip(10.5, None)

        pattern = dimer_pattern(window, n_receptors=int(density_per_um2 * window.area_um2),
                                dimer_fraction=fraction, spacing_sampler=bimodal, min_distance_nm=10.0,
                                rng=rng)
        xy = pattern.points_nm
        table = pd.DataFrame({"x_nm": xy[:, 0], "y_nm": xy[:, 1], "diameter_nm": 10.0,
                              "paired": pattern.in_dimer})
    else:
        from her2net.simulate.cell import simulate_cell_points

        spacing = (30.0, 8.0) if scenario == "spacing" else (20.0, 4.0)
        cp = simulate_cell_points(rng, size_px=size_px, pixel_size_nm=px, density_per_um2=density_per_um2 / p,
                                  ruffle_fraction=0.3 if scenario == "ruffles" else 0.0,
                                  ruffle_density_factor=2.0, dimer_fraction=fraction, cluster_fraction=0.0,
                                  dimer_distance_nm=spacing, labeling_efficiency=p)
        mask = cp.mask
        table = cp.points[["x_nm", "y_nm", "diameter_nm"]].copy()
        table["paired"] = (cp.points["receptor_kind"] != "monomer").to_numpy()
    table["x_px"] = table["x_nm"] / px
    table["y_px"] = table["y_nm"] / px
    return mask, table


def run_scenario(scenario: str, *, cells: int, seed: int, simulations: int, size_px: int, px: float,
                 folder: Path) -> pd.DataFrame:
    from her2net.analyze import AnalysisSettings, analyze_cells
    from her2net.io import read_manifest, write_tiff

    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    detections, manifest, truth = [], [], []
    for i in range(cells):
        absent = i % 4 == 0  # a quarter of the cells have no dimers at all
        fraction = 0.0 if absent else float(rng.uniform(0.05, 0.8))
        density = float(rng.uniform(*DENSITY_PER_UM2.get(scenario, _DEFAULT_DENSITY_PER_UM2)))
        mask, table = _cell_points(rng, scenario, density, fraction, size_px, px)
        name = f"{scenario}_cell{i:03d}"
        write_tiff(folder / f"{name}_mask.tif", mask, pixel_size_nm=px)
        table.insert(0, "image", f"{name}.tif")
        detections.append(table)
        manifest.append({"image": f"{name}.tif", "cell": name, "pixel_size_nm": px, "mask": f"{name}_mask.tif"})
        inside = mask[np.clip(np.rint(table["y_px"]).astype(int), 0, mask.shape[0] - 1),
                      np.clip(np.rint(table["x_px"]).astype(int), 0, mask.shape[1] - 1)] > 0
        truth.append({"cell": name, "true_fraction": float(table.loc[inside, "paired"].mean()) if inside.any() else 0.0,
                      "absent": absent, "set_fraction": fraction, "set_density": density})
    pd.DataFrame(manifest).to_csv(folder / f"{scenario}_cells.csv", index=False)
    detections = pd.concat(detections, ignore_index=True).drop(columns=["paired"])
    settings = AnalysisSettings(simulations=simulations, seed=seed,
                                labeling_efficiency=0.7 if scenario == "labeling" else 1.0)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = analyze_cells(detections, read_manifest(folder / f"{scenario}_cells.csv"), settings=settings)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    table = result.cells.merge(pd.DataFrame(truth), on="cell")
    table.insert(0, "scenario", scenario)
    table["spacing_fit_nm"] = "{:.1f} ± {:.1f}".format(*result.settings["spacing_nm"])
    table["flagged_dense"] = table["cell"].isin(result.settings["dense_cells"])
    table["cpu_s_per_cell"] = cpu / cells
    table["wall_s_per_cell"] = wall / cells
    return table


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for scenario, t in table.groupby("scenario", sort=False):
        err = t["dimer_fraction"] - t["true_fraction"]
        nn = t["paired_fraction_observed"] - t["true_fraction"]
        covered = (t["dimer_fraction_low"] <= t["true_fraction"] + 1e-9) & (t["true_fraction"] <= t["dimer_fraction_high"] + 1e-9)
        absent = t[t["absent"]]
        big = absent[absent["n_labels"] >= 300]
        rows.append({
            "scenario": scenario, "cells": len(t),
            "labels": f"{t['n_labels'].min()}-{t['n_labels'].max()}",
            "density_per_um2": f"{t['density_per_um2'].min():.0f}-{t['density_per_um2'].max():.0f}",
            "spacing_fit_nm": t["spacing_fit_nm"].iloc[0],
            "MAE": err.abs().mean(), "bias": err.mean(), "max_abs_error": err.abs().max(),
            "coverage_95": covered.mean(),
            "absent_cells": len(absent), "absent_called_rich": int((absent["call"] == "dimer-rich").sum()),
            "absent_depleted_ge300": f"{int((big['call'] == 'dimer-depleted').sum())}/{len(big)}",
            "flagged_dense": int(t["flagged_dense"].sum()),
            "flagged_dense_bias": err[t["flagged_dense"]].mean() if t["flagged_dense"].any() else float("nan"),
            "spearman_r": t["true_fraction"].corr(t["dimer_fraction"], method="spearman"),
            "NN_rule_MAE": nn.abs().mean(),
            "cpu_s_per_cell": t["cpu_s_per_cell"].iloc[0],
        })
    return pd.DataFrame(rows)


def error_by_density(table: pd.DataFrame, step_per_um2: float = 200.0) -> pd.DataFrame:
    """Mean error of dimer_fraction per scenario and density band of ``step_per_um2``."""
    band = (table["density_per_um2"] // step_per_um2) * step_per_um2
    err = table["dimer_fraction"] - table["true_fraction"]
    out = err.groupby([table["scenario"], band.rename("density_from_per_um2")], sort=False).agg(["mean", "count"])
    out = out.rename(columns={"mean": "mean_error", "count": "cells"}).reset_index()
    order = {s: i for i, s in enumerate(table["scenario"].unique())}
    def key(column):
        return column.map(order) if column.name == "scenario" else column

    return out.sort_values(["scenario", "density_from_per_um2"], key=key, ignore_index=True)


def timing(seed: int, simulations: int, workers: int = 1) -> dict:
    """One cell of about 20,000 labels at 600 labels/µm² (30% in dimers), full analysis."""
    from her2net.analyze import AnalysisSettings, Window, analyze_cells, dimer_pattern

    rng = np.random.default_rng(seed)
    px = 2.0
    side = int(np.sqrt(20000 / 600 * 1e6) / px)
    window = Window(np.ones((side, side), bool), px)
    pattern = dimer_pattern(window, n_receptors=20000, dimer_fraction=0.3, rng=rng)
    xy = pattern.points_nm
    detections = pd.DataFrame({"image": "big.tif", "x_px": xy[:, 0] / px, "y_px": xy[:, 1] / px,
                               "x_nm": xy[:, 0], "y_nm": xy[:, 1], "diameter_nm": 10.0})
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = analyze_cells(detections, None,
                           settings=AnalysisSettings(simulations=simulations, seed=seed, workers=workers))
    return {"workers": workers, "n_labels": int(result.cells["n_labels"].iloc[0]), "simulations": simulations,
            "wall_s": time.perf_counter() - start_wall, "cpu_s": time.process_time() - start_cpu,
            "dimer_fraction": float(result.cells["dimer_fraction"].iloc[0]),
            "true_fraction": pattern.label_dimer_fraction}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=40, help="cells per scenario")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--simulations", type=int, default=19,
                        help="null-model simulations per cell (they do not change dimer_fraction)")
    parser.add_argument("--size-px", type=int, default=1024)
    parser.add_argument("--pixel-size", type=float, default=1.25)
    parser.add_argument("--out", type=Path, default=None, help="per-cell results CSV")
    parser.add_argument("--timing", action="store_true", help="only time one 20,000-label cell")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.timing:
        for workers in (1, 2):
            print(timing(args.seed, 199, workers), flush=True)
        return 0
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios:
            tables.append(run_scenario(scenario, cells=args.cells, seed=args.seed, simulations=args.simulations,
                                       size_px=args.size_px, px=args.pixel_size, folder=Path(tmp)))
            print(summarise(tables[-1]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    table = pd.concat(tables, ignore_index=True)
    if args.out:
        table.to_csv(args.out, index=False, float_format="%.5g")
    print()
    print(summarise(table).to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else
          summarise(table).to_string(index=False))
    print("\nMean error of dimer_fraction by label density (bands of 200 labels/µm²):\n")
    print(error_by_density(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
