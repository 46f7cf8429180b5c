"""Bright-field TEM of immunogold: dark labels on a bright, textured background.

Freeze-fracture replicas carry intramembrane particles shadowed with Pt/C (a dark cap and a bright
shadow); sections carry soft dark particles and stained membranes (see
:mod:`her2net.simulate.clutter`). The expected signal is the transmitted fraction: the background
transmission (varying with thickness) times one minus the blurred absorption of the object layer.
"""

from __future__ import annotations

import numpy as np

from her2net.simulate.fields import background_base as _base

__all__ = ["bf_signal"]


def bf_signal(blurred_objects: np.ndarray, maps: dict, p: dict) -> tuple[np.ndarray, float]:
    """Expected transmitted fraction per incident electron, and the in-cell background level.

    See :func:`her2net.simulate.render_stem.adf_signal` for the arguments.
    """
    trans = _base(maps, p, ruffle_sign=-1.0)
    trans *= np.float32(p["background_level"])
    np.clip(trans, 0.02, 0.995, out=trans)
    trans *= 1 - blurred_objects
    signal = trans
    return np.maximum(signal, np.float32(1e-6), out=signal), p["background_level"]
