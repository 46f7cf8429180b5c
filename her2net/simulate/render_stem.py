"""Annular dark-field STEM of a labelled cell in a liquid layer: labels bright on a dim background.

The expected signal per incident electron is the fraction scattered onto the annular detector:
a background from the liquid and the cell (varying with cell thickness, ruffles, the cell edge) plus
the probe-blurred scattering of labels and other objects (the object layer).
"""

from __future__ import annotations

import numpy as np

from her2net.simulate.fields import background_base as _base

__all__ = ["adf_signal"]


def adf_signal(blurred_objects: np.ndarray, maps: dict, p: dict) -> tuple[np.ndarray, float]:
    """Expected detected fraction per incident electron, and the in-cell background level.

    Parameters
    ----------
    blurred_objects : numpy.ndarray
        Probe-blurred scattered fraction of labels, particles, debris (plus background texture).
    maps : dict
        ``mask`` (soft 0..1 cell mask), ``ruffle`` (soft 0..1), ``thickness`` (zero-mean unit-sd
        field), ``ramp`` (a linear gradient, -1..1 across the image).
    p : dict
        Simulation parameters.
    """
    base = _base(maps, p, ruffle_sign=1.0)
    base *= np.float32(p["background_level"])
    base += blurred_objects
    signal = base
    return np.maximum(signal, np.float32(1e-6), out=signal), p["background_level"]
