"""Vendor formats (Gatan DM3/DM4, Velox EMD, MRC) through the optional `formats` extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from her2net.errors import InputError
from her2net.io.pixel_size import to_nm


def read_vendor(path: Path):
    """Return (data, axes, pixel_size_nm or None, is_rgb) from DM3/DM4, EMD or MRC."""
    suffix = path.suffix.lower()
    if suffix in (".mrc", ".mrcs", ".map"):
        return _read_mrc(path)
    return _read_rsciio(path, suffix)


def _missing(path: Path, package: str) -> InputError:
    return InputError(
        f"{path}: reading {path.suffix} files needs the optional package '{package}' "
        "(pip install 'her2net[formats]')"
    )


def _read_mrc(path: Path):
    try:
        import mrcfile
    except ImportError:
        raise _missing(path, "mrcfile") from None
    try:
        with mrcfile.open(path, permissive=True) as mrc:
            if mrc.data is None:
                raise InputError(f"{path}: cannot read MRC (no data); the file may be truncated or corrupt")
            data = np.array(mrc.data)
            voxel_a = float(mrc.voxel_size.x)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read MRC ({_first_line(exc)}); the file may be truncated or corrupt") from None
    axes = "YX" if data.ndim == 2 else "Q" * (data.ndim - 2) + "YX"
    pixel_size_nm = voxel_a / 10.0 if voxel_a > 0 else None
    return data, axes, pixel_size_nm, False


def _read_rsciio(path: Path, suffix: str):
    try:
        if suffix in (".dm3", ".dm4"):
            from rsciio.digitalmicrograph import file_reader
        else:
            from rsciio.emd import file_reader
    except ImportError:
        raise _missing(path, "rosettasciio") from None
    try:
        signals = file_reader(str(path))
    except Exception as exc:
        raise InputError(f"{path}: cannot read {suffix} file ({_first_line(exc)})") from None
    images = [s for s in signals if np.asarray(s["data"]).ndim >= 2]
    if not images:
        raise InputError(f"{path}: holds no 2-D image")
    signal = images[0]
    data = np.asarray(signal["data"])
    axes_meta = [a for a in signal.get("axes", []) if a.get("navigate") is not True] or signal.get("axes", [])
    pixel_size_nm = None
    if axes_meta:
        last = axes_meta[-1]
        pixel_size_nm = to_nm(float(last.get("scale", 1.0)), str(last.get("units", "")))
    axes = "YX" if data.ndim == 2 else "Q" * (data.ndim - 2) + "YX"
    return data, axes, pixel_size_nm, False


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
