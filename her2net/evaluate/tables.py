"""Reading detection and truth tables and putting them in nanometres."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError
from her2net.io.tables import not_a_number

__all__ = ["read_points_csv", "add_nm_columns", "pixel_sizes_from_table"]


def read_points_csv(path, *, name: str = "points") -> pd.DataFrame:
    """Read a detections or truth CSV and check its columns.

    Parameters
    ----------
    path : str or Path
        CSV with a column ``image`` and positions as ``x_px, y_px`` and/or ``x_nm, y_nm``.
    name : str
        What the file is, for error messages.

    Returns
    -------
    pandas.DataFrame
        The table with ``image`` as str.

    Raises
    ------
    InputError
        Missing or unreadable file, missing columns, non-numeric positions.
    """
    from her2net.io.tables import read_csv_file

    path = Path(path)
    table = read_csv_file(path, what=name, dtype={"image": str, "cell": str})
    if "image" not in table.columns:
        raise InputError(f"{path}: {name} file lacks the column 'image'")
    has_px = {"x_px", "y_px"} <= set(table.columns)
    has_nm = {"x_nm", "y_nm"} <= set(table.columns)
    if not (has_px or has_nm):
        raise InputError(f"{path}: {name} file needs columns x_px, y_px or x_nm, y_nm")
    for column in ("x_px", "y_px", "x_nm", "y_nm", "score"):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = values.isna() & table[column].notna()
            if bad.any() or (column != "score" and values.isna().any()):
                line = int((bad | values.isna()).to_numpy().argmax()) + 2
                raise InputError(not_a_number(path, line, column, table[column].iloc[line - 2]))
            table[column] = values.astype(float)
    table["image"] = table["image"].astype(str)
    return table


def pixel_sizes_from_table(table: pd.DataFrame) -> dict:
    """Pixel size per image implied by a table that has both pixel and nm columns.

    Returns
    -------
    dict
        image -> pixel size in nm (median of ``x_nm / x_px`` and ``y_nm / y_px`` over positions
        away from 0); images where it cannot be told are left out.
    """
    if not ({"x_px", "y_px", "x_nm", "y_nm"} <= set(table.columns)):
        return {}
    px = np.concatenate([table["x_px"].to_numpy(float), table["y_px"].to_numpy(float)])
    nm = np.concatenate([table["x_nm"].to_numpy(float), table["y_nm"].to_numpy(float)])
    images = np.concatenate([table["image"].to_numpy(str)] * 2)
    ok = np.abs(px) > 0.5
    ratios = pd.Series(nm[ok] / px[ok]).groupby(images[ok]).median()
    return {str(k): float(v) for k, v in ratios.items() if np.isfinite(v) and v > 0}


def add_nm_columns(table: pd.DataFrame, *, pixel_sizes: dict | None = None,
                   source: str = "points") -> pd.DataFrame:
    """Return ``table`` with ``x_nm, y_nm`` filled in.

    Where the table has no ``x_nm, y_nm`` columns, they are ``x_px, y_px`` times the image's pixel
    size from ``pixel_sizes``.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`read_points_csv`.
    pixel_sizes : dict, optional
        image -> pixel size in nm (from a manifest or the other table).
    source : str
        The file name, for error messages.

    Raises
    ------
    InputError
        When positions are in pixels only and an image has no known pixel size.
    """
    if {"x_nm", "y_nm"} <= set(table.columns):
        return table
    pixel_sizes = pixel_sizes or {}
    sizes = table["image"].map(pixel_sizes)
    if sizes.isna().any():
        image = table["image"][sizes.isna()].iloc[0]
        raise InputError(f"{source}: positions are in pixels only and the pixel size of image "
                         f"{image!r} is unknown (give --manifest, or x_nm/y_nm columns)")
    out = table.copy()
    out["x_nm"] = out["x_px"] * sizes.to_numpy(float)
    out["y_nm"] = out["y_px"] * sizes.to_numpy(float)
    return out
