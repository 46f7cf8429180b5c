"""The cells manifest (``cells.csv``): which image belongs to which cell, pixel size, mask."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from her2net.errors import InputError
from her2net.io.pixel_size import check_pixel_size_nm
from her2net.io.tables import not_a_number, read_csv_file

__all__ = ["read_manifest", "MANIFEST_COLUMNS"]

MANIFEST_COLUMNS = ("image", "cell", "pixel_size_nm", "mask")
_REQUIRED = ("image", "cell", "pixel_size_nm")


def read_manifest(path) -> pd.DataFrame:
    """Read and check a manifest ``cells.csv``.

    Parameters
    ----------
    path : str or Path
        CSV with columns ``image, cell, pixel_size_nm`` and optionally ``mask``. Image and mask
        paths are relative to the manifest's folder, or absolute.

    Returns
    -------
    pandas.DataFrame
        The columns as written (``cell`` as str, ``pixel_size_nm`` as float, ``mask`` NaN-free
        str or None) plus ``image_path`` and ``mask_path``: resolved absolute paths (``mask_path``
        None where no mask is given).

    Raises
    ------
    InputError
        Missing file or columns, duplicate images, non-numeric or impossible pixel sizes.
    """
    path = Path(path)
    table = read_csv_file(path, what="manifest", dtype={"image": str, "cell": str, "mask": str})
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise InputError(
            f"{path}: manifest lacks column(s) {', '.join(missing)} "
            f"(expected {', '.join(MANIFEST_COLUMNS)})"
        )
    if table.empty:
        raise InputError(f"{path}: manifest has no rows")
    if table["image"].isna().any() or table["cell"].isna().any():
        row = int((table["image"].isna() | table["cell"].isna()).to_numpy().argmax()) + 2
        raise InputError(f"{path}: line {row}: empty image or cell")
    duplicated = table["image"][table["image"].duplicated()]
    if len(duplicated):
        raise InputError(f"{path}: image {duplicated.iloc[0]!r} is listed twice")
    sizes = pd.to_numeric(table["pixel_size_nm"], errors="coerce")
    bad = sizes.isna()
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise InputError(not_a_number(path, i + 2, "pixel_size_nm", table["pixel_size_nm"].iloc[i]))
    for i, value in enumerate(sizes):
        check_pixel_size_nm(value, source=f"{path}: line {i + 2}")
    table["pixel_size_nm"] = sizes.astype(float)
    table["cell"] = table["cell"].astype(str)
    base = path.resolve().parent
    table["image_path"] = [_resolve(base, p) for p in table["image"]]
    masks = table["mask"] if "mask" in table.columns else [None] * len(table)
    masks = [str(m).strip() if isinstance(m, str) and str(m).strip() else None for m in masks]
    table["mask"] = pd.Series(masks, index=table.index, dtype=object)
    table["mask_path"] = pd.Series([_resolve(base, m) if m else None for m in masks],
                                   index=table.index, dtype=object)
    return table


def _resolve(base: Path, value: str) -> Path:
    p = Path(str(value).strip())
    return p if p.is_absolute() else (base / p).resolve()
