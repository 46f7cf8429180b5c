"""Bright-field TEM of immunogold: dark labels on a bright, textured background.

Freeze-fracture replicas carry intramembrane particles shadowed with Pt/C (a dark cap and a bright
shadow); sections carry soft dark particles and stained membranes (see
:mod:`her2net.simulate.clutter`). The expected signal is the transmitted fraction: the background
transmission (varying with thickness) times one minus the blurred absorption of the object layer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bf_signal"]


def bf_signal(blurred_objects: np.ndarray, maps: dict, p: dict) -> tuple[np.ndarray, float]:
    """Expected transmitted fraction per incident electron, and the in-cell background level.

    See :func:`her2net.simulate.render_stem.adf_signal` for the arguments.
    """
    t = p["background_level"]
    base = 1 + p["thickness_variation"] * maps["thickness"] + p["gradient"] * maps["ramp"]
    base = base - p["ruffle_contrast"] * maps["ruffle"]
    base = base * (p["outside_factor"] + (1 - p["outside_factor"]) * maps["mask"])
    trans = np.clip(t * base, 0.02, 0.995)
    signal = trans * (1 - blurred_objects)
    return np.clip(signal, 1e-6, None), t
