"""Per-cell dimer-fraction error: an analysis output against the simulator's cell truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError

__all__ = ["dimer_fraction_errors", "summarize_dimer_fraction_errors", "read_cell_table"]

# The realised receptor-level fraction first (what analyze's dimer_fraction estimates); the
# simulator's configured `dimer_fraction` is only the probability it was drawn with.
_TRUTH_NAMES = ("receptor_paired_fraction", "true_dimer_fraction", "dimer_fraction_true",
                "dimer_fraction")
_ESTIMATE_NAMES = ("dimer_fraction", "dimer_fraction_estimate", "dimer_fraction_est")


def read_cell_table(path, *, name: str) -> pd.DataFrame:
    """Read a per-cell CSV (``cell`` as str); InputError when unreadable or without ``cell``."""
    from her2net.io.tables import read_csv_file

    path = Path(path)
    table = read_csv_file(path, what=name, dtype={"cell": str, "image": str})
    if "cell" not in table.columns:
        raise InputError(f"{path}: {name} file lacks the column 'cell'")
    return table


def _pick(table: pd.DataFrame, names, what: str) -> str:
    for name in names:
        if name in table.columns:
            return name
    raise InputError(f"{what}: no dimer-fraction column (expected one of {', '.join(names)})")


def dimer_fraction_errors(analysis: pd.DataFrame, cell_truth: pd.DataFrame, *,
                          by_region: bool | None = None) -> pd.DataFrame:
    """Estimated against true dimer fraction, cell by cell.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Per-cell output of ``her2net analyze``: ``cell`` and ``dimer_fraction`` (or
        ``dimer_fraction_estimate``), optionally ``region``.
    cell_truth : pandas.DataFrame
        The simulator's ``cell_truth.csv``: ``cell`` and the realised
        ``receptor_paired_fraction`` (else ``true_dimer_fraction``, ``dimer_fraction_true`` or
        ``dimer_fraction``, in that order), optionally ``region``.
    by_region : bool, optional
        Join on ``region`` too. Default: when both tables have a ``region`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell`` (and ``region``), ``dimer_fraction_true``, ``dimer_fraction_estimate``,
        ``error`` (estimate minus truth), one row per cell present in both tables.

    Raises
    ------
    InputError
        Missing columns, or no cell in common.
    """
    est_col = _pick(analysis, _ESTIMATE_NAMES, "analysis")
    true_col = _pick(cell_truth, _TRUTH_NAMES, "cell truth")
    if by_region is None:
        by_region = "region" in analysis.columns and "region" in cell_truth.columns
    keys = ["cell", "region"] if by_region else ["cell"]
    est = analysis[keys + [est_col]].rename(columns={est_col: "dimer_fraction_estimate"})
    tru = cell_truth[keys + [true_col]].rename(columns={true_col: "dimer_fraction_true"})
    for table in (est, tru):
        table["cell"] = table["cell"].astype(str)
        if by_region:
            table["region"] = table["region"].astype(str)
    if est.duplicated(keys).any() or tru.duplicated(keys).any():
        raise InputError(f"analysis/cell truth: more than one row per {' and '.join(keys)}")
    merged = tru.merge(est, on=keys, how="inner")
    if merged.empty:
        raise InputError("analysis and cell truth have no cell in common")
    merged["error"] = merged["dimer_fraction_estimate"] - merged["dimer_fraction_true"]
    return merged[keys + ["dimer_fraction_true", "dimer_fraction_estimate", "error"]]


def summarize_dimer_fraction_errors(errors: pd.DataFrame) -> dict:
    """Mean absolute error, RMSE, bias and correlation of per-cell dimer fractions."""
    e = errors["error"].to_numpy(float)
    e = e[np.isfinite(e)]
    out = {"n_cells": int(len(e)),
           "mae": float(np.mean(np.abs(e))) if len(e) else float("nan"),
           "rmse": float(np.sqrt(np.mean(e**2))) if len(e) else float("nan"),
           "bias": float(np.mean(e)) if len(e) else float("nan")}
    if len(e) >= 3:
        ok = errors[["dimer_fraction_true", "dimer_fraction_estimate"]].dropna()
        out["pearson_r"] = float(ok.corr().iloc[0, 1]) if ok.std().min() > 0 else float("nan")
    return out
