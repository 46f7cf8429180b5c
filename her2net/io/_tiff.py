"""TIFF reading and writing with pixel sizes (ImageJ, resolution tags, JSON description)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from her2net.errors import InputError
from her2net.io.pixel_size import check_pixel_size_nm, to_nm

__all__ = ["read_tiff", "write_tiff"]

_RESOLUTION_UNIT_NM = {2: 2.54e7, 3: 1e7}  # inch, centimetre


def read_tiff(path: Path):
    """Return (data, axes, pixel_size_nm or None, is_rgb) from a TIFF file."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise InputError(f"{path}: cannot read TIFF (it holds no image); the file may be truncated or corrupt")
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
            page = tif.pages[0]
            pixel_size_nm = _tiff_pixel_size_nm(tif, page)
            is_rgb = int(getattr(page, "photometric", 0)) == 2
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt files
        text = str(exc).strip().splitlines()
        reason = text[0] if text else type(exc).__name__
        raise InputError(f"{path}: cannot read TIFF ({reason}); the file may be truncated or corrupt") from None
    return data, axes, pixel_size_nm, is_rgb


def _tiff_pixel_size_nm(tif, page) -> float | None:
    from her2net.io.image import _json_pixel_size_nm

    description = page.description or ""
    value = _json_pixel_size_nm(description)
    if value is not None:
        return value
    tags = page.tags
    xres = tags.get("XResolution")
    if xres is None:
        return None
    num, den = xres.value if isinstance(xres.value, tuple) else (xres.value, 1)
    if not num or not den:
        return None
    units_per_pixel = float(den) / float(num)
    ij = tif.imagej_metadata or {}
    if tif.is_imagej and ij.get("unit"):
        return to_nm(units_per_pixel, _imagej_unit(ij["unit"]))
    runit = tags.get("ResolutionUnit")
    runit = int(runit.value) if runit is not None else 2
    if runit in _RESOLUTION_UNIT_NM:
        return units_per_pixel * _RESOLUTION_UNIT_NM[runit]
    return None


def _imagej_unit(unit: str) -> str:
    """ImageJ writes non-ASCII units escaped (``\\u00B5m``, ``\\u00C5``): decode them."""
    unit = str(unit).strip()
    if "\\u" in unit:
        try:
            unit = unit.encode("ascii").decode("unicode_escape")
        except (UnicodeError, ValueError):
            pass
    return unit


def write_tiff(path, data: np.ndarray, *, pixel_size_nm: float, metadata: dict | None = None) -> None:
    """Write a 2-D TIFF that ImageJ and :func:`her2net.io.read_image` read with its pixel size.

    The pixel size is stored three ways: exactly in a JSON image description
    (``pixel_size_nm``), and in the resolution tags (pixels per centimetre) for other software.

    Parameters
    ----------
    path : str or Path
        Output file (``.tif``).
    data : ndarray, shape (H, W)
        uint8, uint16, int16 or float32 pixels.
    pixel_size_nm : float
        Pixel size in nm.
    metadata : dict, optional
        Extra JSON-serialisable items stored in the description.
    """
    import tifffile

    size = check_pixel_size_nm(pixel_size_nm, source="pixel_size_nm")
    data = np.asarray(data)
    if data.ndim != 2:
        raise InputError(f"{path}: write_tiff expects a 2-D array, got shape {data.shape}")
    description = {"pixel_size_nm": size, "unit": "nm"}
    description.update(metadata or {})
    per_cm = 1e7 / size
    tifffile.imwrite(
        path,
        data,
        description=json.dumps(description, sort_keys=True),
        metadata=None,
        resolution=(per_cm, per_cm),
        resolutionunit="CENTIMETER",
        photometric="minisblack",
    )
