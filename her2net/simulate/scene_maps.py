"""Region maps of one image: cell edge, ruffles, cell thickness, gradients.

Continuous smooth fields are synthesised on a coarse grid; the label-placement raster (region
codes on a grid of 2-pixel cells) and the full-size soft maps used for rendering are both derived
from the same continuous fields, so labels lie where the rendered cell is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from her2net.simulate.fields import sample_grid, smooth_field
from her2net.simulate.geometry import RegionMap

__all__ = ["tile_maps", "maps_from_codes"]

_COARSE_PX = 8  # pixels per cell of the coarse fields
_FINE_PX = 2  # pixels per cell of the placement raster


def _ramp(rng, shape):
    h, w = shape
    direction = rng.uniform(0, 2 * np.pi)
    return (np.cos(direction) * (np.arange(w)[None, :] / max(w - 1, 1) - 0.5)
            + np.sin(direction) * (np.arange(h)[:, None] / max(h - 1, 1) - 0.5))


def tile_maps(rng: np.random.Generator, shape: tuple[int, int], p: dict, *, margin_px: int):
    """Random region raster and rendering maps for a tile.

    Returns
    -------
    regions : RegionMap
        Codes 0 (outside the cell), 1 (flat), 2 (ruffles) on 2-pixel cells covering the image plus
        ``margin_px`` on each side, in nm with x_nm = x_px * pixel_size_nm.
    maps : dict
        Full-size ``mask`` and ``ruffle`` (soft, 0..1; None for no edge / no ruffles),
        ``thickness`` (unit sd), ``ramp``, ``membranes`` (or None).
    """
    px = p["pixel_size_nm"]
    h, w = shape
    origin = -0.5 - margin_px  # pixel coordinate of the grids' corner
    gh = int(np.ceil((h + 2 * margin_px) / _COARSE_PX)) + 2
    gw = int(np.ceil((w + 2 * margin_px) / _COARSE_PX)) + 2
    ruffle = smooth_field(rng, (gh, gw), corr_px=max(150 / px / _COARSE_PX, 0.7))
    thick = smooth_field(rng, (gh, gw), corr_px=max(p["thickness_corr_nm"] / px / _COARSE_PX, 0.7))
    wiggle = smooth_field(rng, (gh, gw), corr_px=max(gh / 4, 0.7))
    theta = rng.uniform(0, 2 * np.pi)
    x_line, y_line = rng.uniform(0.15, 0.85, 2) * np.array([w, h])
    cy = origin + (np.arange(gh) + 0.5) * _COARSE_PX
    cx = origin + (np.arange(gw) + 0.5) * _COARSE_PX
    if p["cell_edge"]:
        # Signed distance (pixels) to a wiggly line; negative inside the cell.
        edge = ((cx[None, :] - x_line) * np.cos(theta) + (cy[:, None] - y_line) * np.sin(theta)
                + 0.1 * max(h, w) * wiggle)
    else:
        edge = np.full((gh, gw), -1e6)
    threshold = np.quantile(ruffle, 1 - p["ruffle_fraction"]) if p["ruffle_fraction"] > 0 else np.inf

    def at(field, rows_px, cols_px):
        return sample_grid(field, (rows_px - origin) / _COARSE_PX - 0.5, (cols_px - origin) / _COARSE_PX - 0.5)

    fh = int(np.ceil((h + 2 * margin_px) / _FINE_PX))
    fw = int(np.ceil((w + 2 * margin_px) / _FINE_PX))
    fy = origin + (np.arange(fh) + 0.5) * _FINE_PX
    fx = origin + (np.arange(fw) + 0.5) * _FINE_PX
    inside = at(edge, fy, fx) < 0
    codes = inside.astype(np.uint8)
    codes[inside & (at(ruffle, fy, fx) > threshold)] = 2
    regions = RegionMap(codes, cell_nm=_FINE_PX * px, x0_nm=origin * px, y0_nm=origin * px)

    rows, cols = np.arange(h, dtype=float), np.arange(w, dtype=float)
    # None stands for "everywhere inside" / "no ruffles" (saves full-size arrays).
    mask = np.clip(0.5 - at(edge, rows, cols) / 1.5, 0, 1) if p["cell_edge"] else None
    ruffle_soft = None
    if np.isfinite(threshold):
        ruffle_soft = np.clip((at(ruffle, rows, cols) - threshold) / 0.3 + 0.5, 0, 1)
        if mask is not None:
            ruffle_soft *= mask
    maps = {
        "mask": mask,
        "ruffle": ruffle_soft,
        "thickness": at(thick, rows, cols),
        "ramp": _ramp(rng, shape),
        "membranes": _membrane_field(rng, shape) if p["membrane_lines"] > 0 else None,
    }
    return regions, maps


def _membrane_field(rng, shape):
    """Smooth field whose zero level set draws closed membrane outlines."""
    coarse = smooth_field(rng, (shape[0] // 8 + 2, shape[1] // 8 + 2), corr_px=2.0)
    return sample_grid(coarse, np.arange(shape[0]) / 8, np.arange(shape[1]) / 8)


def maps_from_codes(rng: np.random.Generator, codes: np.ndarray, p: dict) -> dict:
    """Rendering maps for an image whose region codes (0/1/2 per pixel) are given (data sets)."""
    shape = codes.shape
    h, w = shape
    px = p["pixel_size_nm"]
    thick = smooth_field(rng, (h // _COARSE_PX + 2, w // _COARSE_PX + 2),
                         corr_px=max(p["thickness_corr_nm"] / p["pixel_size_nm"] / _COARSE_PX, 0.7))
    return {
        "mask": ndimage.gaussian_filter((codes > 0).astype(float), max(3.0 / px, 0.7)),
        # Ruffles are thick folds with soft edges (about 15 nm).
        "ruffle": ndimage.gaussian_filter((codes == 2).astype(float), max(15.0 / px, 1.0)),
        "thickness": sample_grid(thick, np.arange(h) / _COARSE_PX, np.arange(w) / _COARSE_PX),
        "ramp": _ramp(rng, shape),
        "membranes": _membrane_field(rng, shape) if p["membrane_lines"] > 0 else None,
    }
