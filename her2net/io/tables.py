"""Reading the CSV tables that pass between stages (manifests, detections, truth, cell tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from her2net.errors import InputError

__all__ = ["read_csv_file", "not_a_number"]


def read_csv_file(path, *, what: str, dtype: dict | None = None) -> pd.DataFrame:
    """Read a CSV file, turning every way it can fail into a one-line :class:`InputError`.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is ('manifest', 'detections', ...), named in the messages.
    dtype : dict, optional
        Column dtypes for :func:`pandas.read_csv` (columns that are absent are ignored).

    Raises
    ------
    InputError
        ``<path>: no such <what> file``, ``<path>: <what> file is empty`` or
        ``<path>: not a readable CSV (<reason>)``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    try:
        return pd.read_csv(path, dtype=dtype)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None


def not_a_number(source, line: int, column: str, value) -> str:
    """One-line message for a cell of a CSV that should hold a number.

    >>> not_a_number("det.csv", 3, "x_px", "abc")
    "det.csv: line 3: x_px 'abc' is not a number"
    >>> not_a_number("det.csv", 4, "x_px", float("nan"))
    'det.csv: line 4: x_px is empty'
    """
    if value is None or (isinstance(value, float) and value != value) or not str(value).strip():
        return f"{source}: line {line}: {column} is empty"
    return f"{source}: line {line}: {column} {str(value)!r} is not a number"
