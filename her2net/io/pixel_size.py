"""Pixel sizes: unit conversion and checks."""

from __future__ import annotations

import math

from her2net.errors import InputError

__all__ = ["to_nm", "check_pixel_size_nm", "MAX_PIXEL_SIZE_NM"]

MAX_PIXEL_SIZE_NM = 1000.0

_NM_PER_UNIT = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometers": 1.0,
    "nanometre": 1.0,
    "nanometres": 1.0,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,  # Greek mu
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometers": 1e3,
    "micrometre": 1e3,
    "å": 0.1,
    "a": 0.1,
    "angstrom": 0.1,
    "angstroms": 0.1,
    "ångström": 0.1,
    "m": 1e9,
    "meter": 1e9,
    "metre": 1e9,
    "cm": 1e7,
    "centimeter": 1e7,
    "mm": 1e6,
    "pm": 1e-3,
    "inch": 2.54e7,
    "in": 2.54e7,
}


def to_nm(value: float, unit: str) -> float | None:
    """Convert a length in ``unit`` to nanometres; None when the unit is not a length unit.

    Examples
    --------
    >>> to_nm(0.5, "um")
    500.0
    >>> round(to_nm(12, "Å"), 9)
    1.2
    """
    key = str(unit).strip().lower()
    factor = _NM_PER_UNIT.get(key)
    if factor is None:
        return None
    return float(value) * factor


def check_pixel_size_nm(pixel_size_nm, *, source: str = "--pixel-size") -> float:
    """Return ``pixel_size_nm`` as float, or raise InputError if it is not in (0, 1000] nm."""
    try:
        value = float(pixel_size_nm)
    except (TypeError, ValueError):
        raise InputError(f"{source}: pixel size {pixel_size_nm!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{source}: pixel size must be > 0 nm, got {value:g}")
    if value > MAX_PIXEL_SIZE_NM:
        raise InputError(
            f"{source}: pixel size {value:g} nm is absurd for label detection "
            f"(> {MAX_PIXEL_SIZE_NM:g} nm/px); check the unit"
        )
    return value
