"""Evaluate files: read detections and truth, score them, write metrics, tables and plots."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from her2net._version import __version__
from her2net.errors import InputError
from her2net.evaluate.cells import (
    dimer_fraction_errors,
    read_cell_table,
    summarize_dimer_fraction_errors,
)
from her2net.evaluate.metrics import Evaluation, evaluate_detections
from her2net.evaluate.tables import add_nm_columns, pixel_sizes_from_table, read_points_csv

__all__ = ["load_points", "evaluate_files", "write_evaluation", "to_jsonable"]

logger = logging.getLogger(__name__)


def load_points(detections_path, truth_path, *, manifest=None):
    """Read detections and truth CSVs and give both ``x_nm, y_nm`` columns.

    Pixel sizes come, in this order, from the manifest, from the tables' own ``x_nm``/``x_px``
    ratio (either table), and otherwise the positions must already be in nm.

    Returns
    -------
    detections, truth : pandas.DataFrame
    """
    detections = read_points_csv(detections_path, name="detections")
    truth = read_points_csv(truth_path, name="truth")
    sizes = {**pixel_sizes_from_table(truth), **pixel_sizes_from_table(detections)}
    if manifest is not None:
        from her2net.io import read_manifest

        table = read_manifest(manifest)
        sizes.update(dict(zip(table["image"].astype(str), table["pixel_size_nm"].astype(float))))
    detections = add_nm_columns(detections, pixel_sizes=sizes, source=str(detections_path))
    truth = add_nm_columns(truth, pixel_sizes=sizes, source=str(truth_path))
    return detections, truth


def to_jsonable(value):
    """Turn numpy scalars, DataFrames and NaN into plain JSON values (NaN -> None)."""
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_evaluation(evaluation: Evaluation, folder, *, dimer_errors: pd.DataFrame | None = None,
                     inputs: dict | None = None, plots: bool = True) -> list[Path]:
    """Write ``metrics.json``, ``per_image.csv``, ``pair_resolution.csv`` and the PNG plots.

    With ``dimer_errors`` also ``dimer_fraction_per_cell.csv`` and a ``dimer_fraction`` entry in
    ``metrics.json``. Returns the written paths. ``folder`` must exist.
    """
    folder = Path(folder)
    metrics = {
        "her2net_version": __version__,
        "inputs": inputs or {},
        "summary": evaluation.summary,
        "per_kind": evaluation.per_kind,
        "per_region": evaluation.per_region,
        "pair_resolution": evaluation.pair_resolution,
        "precision_recall": evaluation.pr_curve,
    }
    written = []
    if dimer_errors is not None:
        metrics["dimer_fraction"] = summarize_dimer_fraction_errors(dimer_errors)
        path = folder / "dimer_fraction_per_cell.csv"
        dimer_errors.to_csv(path, index=False)
        written.append(path)
    path = folder / "metrics.json"
    path.write_text(json.dumps(to_jsonable(metrics), indent=2) + "\n")
    written.append(path)
    path = folder / "per_image.csv"
    evaluation.per_image.to_csv(path, index=False)
    written.append(path)
    path = folder / "pair_resolution.csv"
    evaluation.pair_resolution.to_csv(path, index=False)
    written.append(path)
    if plots:
        from her2net.evaluate.plots import write_plots

        written.extend(write_plots(evaluation, folder))
    return written


def evaluate_files(detections_path, truth_path, *, out_dir=None, manifest=None,
                   tolerance_nm: float = 4.0, analysis=None, cell_truth=None,
                   overwrite: bool = False, plots: bool = True):
    """Evaluate a detections CSV against a truth CSV, optionally writing the results.

    Parameters
    ----------
    detections_path, truth_path : str or Path
        CSVs with ``image`` and positions (``x_px, y_px`` and/or ``x_nm, y_nm``).
    out_dir : str or Path, optional
        Output folder, written atomically (see :func:`write_evaluation` for its files).
    manifest : str or Path, optional
        ``cells.csv`` giving the pixel size of each image.
    tolerance_nm : float
        Matching tolerance.
    analysis, cell_truth : str or Path, optional
        Per-cell output of ``her2net analyze`` and the simulator's ``cell_truth.csv``: both or
        neither; adds the per-cell dimer-fraction error.
    overwrite : bool
        Replace a non-empty ``out_dir``.
    plots : bool
        Write the PNG plots.

    Returns
    -------
    evaluation : Evaluation
    dimer_errors : pandas.DataFrame or None
    """
    if (analysis is None) != (cell_truth is None):
        raise InputError("--analysis and --cell-truth: give both or neither")
    if out_dir is not None:
        from her2net.io import check_output_dir

        check_output_dir(out_dir, overwrite=overwrite)  # fail before the work
    detections, truth = load_points(detections_path, truth_path, manifest=manifest)
    evaluation = evaluate_detections(detections, truth, tolerance_nm=tolerance_nm)
    dimer_errors = None
    if analysis is not None:
        dimer_errors = dimer_fraction_errors(read_cell_table(analysis, name="analysis"),
                                             read_cell_table(cell_truth, name="cell truth"))
    if out_dir is not None:
        from her2net.io import atomic_output_dir

        inputs = {"detections": str(detections_path), "truth": str(truth_path),
                  "manifest": None if manifest is None else str(manifest),
                  "analysis": None if analysis is None else str(analysis),
                  "cell_truth": None if cell_truth is None else str(cell_truth),
                  "tolerance_nm": float(tolerance_nm)}
        with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
            write_evaluation(evaluation, tmp, dimer_errors=dimer_errors, inputs=inputs, plots=plots)
    return evaluation, dimer_errors
