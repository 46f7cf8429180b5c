"""Physics-based simulator of labelled liquid-STEM and bright-field TEM micrographs.

Public API
----------
simulate_tile(rng, size, pixel_size_nm=None, **overrides) -> (image, points, metadata)
    One randomised image for on-the-fly training (see :func:`her2net.simulate.tile.simulate_tile`).
"""

from her2net.simulate.params import PARAM_NAMES, draw_params
from her2net.simulate.tile import simulate_tile

__all__ = ["simulate_tile", "draw_params", "PARAM_NAMES"]
