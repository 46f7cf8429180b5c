"""Tiles for seamless inference on images of any size.

Every tile has a *core* (the pixels whose detections it owns) and a *window* (the core grown by a
margin on each side, the network's input). Cores tile the image without overlap; neighbouring
windows overlap by twice the margin. At the image's edges a window stops at the edge (the network
sees the image edge as it did during training, on tiles), and at the far edges it is padded up to
a multiple of ``size_multiple`` by mirror reflection. Windows start on a grid of ``size_multiple``
pixels relative to the image origin, so that the network's pooling grid is the same in every tile
and in an untiled run: with a margin of at least half the receptive field, a pixel's output does
not depend on how the image was tiled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "plan_tiles", "tile_margin_px", "reflect_window"]


@dataclass(frozen=True)
class Tile:
    """One tile: core and window as half-open pixel ranges in image coordinates.

    Attributes
    ----------
    core_rows, core_cols : (int, int)
        Rows and columns this tile owns (clipped to the image).
    window_rows, window_cols : (int, int)
        The network input; may extend up to ``size_multiple - 1`` pixels beyond the image's far
        edges (filled by reflection).
    """

    core_rows: tuple[int, int]
    core_cols: tuple[int, int]
    window_rows: tuple[int, int]
    window_cols: tuple[int, int]

    @property
    def window_shape(self) -> tuple[int, int]:
        return (self.window_rows[1] - self.window_rows[0], self.window_cols[1] - self.window_cols[0])


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def tile_margin_px(receptive_field_px: int, *, size_multiple: int, halo_px: int = 16) -> int:
    """Margin around each tile core: half the receptive field plus a halo for peak finding.

    Parameters
    ----------
    receptive_field_px : int
        The network's receptive field in input pixels.
    size_multiple : int
        The network's input size multiple; the margin is rounded up to it.
    halo_px : int
        Extra pixels around the core on which peaks are searched (local-maximum neighbourhood
        plus the largest sub-pixel offset), so that a peak owned by the core is found exactly as
        in an untiled run.

    Returns
    -------
    int
    """
    return _round_up(math.ceil(receptive_field_px / 2) + halo_px, size_multiple)


def plan_tiles(shape: tuple[int, int], *, tile_px: int, margin_px: int,
               size_multiple: int) -> list[Tile]:
    """Cut an image of ``shape`` into tiles whose windows are ``tile_px`` wide at most.

    Parameters
    ----------
    shape : (int, int)
        Image height and width.
    tile_px : int
        Largest window (network input) in pixels; the core is ``tile_px - 2 * margin_px``
        rounded down to ``size_multiple`` (at least one ``size_multiple``). An image that fits in
        one window is a single tile.
    margin_px : int
        Margin on each side of the core (a multiple of ``size_multiple``).
    size_multiple : int
        Window sizes and core starts are multiples of it.

    Returns
    -------
    list of Tile
        In row-major order (all tiles of the first row of cores first).
    """
    height, width = (int(shape[0]), int(shape[1]))
    if height < 1 or width < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    if margin_px % size_multiple:
        raise ValueError(f"margin_px {margin_px} must be a multiple of size_multiple {size_multiple}")
    core = max(size_multiple, (int(tile_px) - 2 * margin_px) // size_multiple * size_multiple)
    if _round_up(max(height, width), size_multiple) <= int(tile_px):
        core = _round_up(max(height, width), size_multiple)  # one window, no inner margins
    # Balance the cores: the same number of tiles, each as small as possible.
    core_h = _balanced_core(height, core, size_multiple)
    core_w = _balanced_core(width, core, size_multiple)
    end_h = _round_up(height, size_multiple)
    end_w = _round_up(width, size_multiple)
    tiles = []
    for r0 in range(0, height, core_h):
        r1 = r0 + core_h
        for c0 in range(0, width, core_w):
            c1 = c0 + core_w
            tiles.append(Tile(
                core_rows=(r0, min(r1, height)),
                core_cols=(c0, min(c1, width)),
                window_rows=(max(r0 - margin_px, 0), min(r1 + margin_px, end_h)),
                window_cols=(max(c0 - margin_px, 0), min(c1 + margin_px, end_w)),
            ))
    return tiles


def _balanced_core(length: int, core: int, multiple: int) -> int:
    count = max(1, math.ceil(length / core))
    return _round_up(math.ceil(length / count), multiple)


def _reflect_index(index: np.ndarray, length: int) -> np.ndarray:
    """Map any integer index into [0, length) by mirror reflection without edge repeat."""
    if length == 1:
        return np.zeros_like(index)
    period = 2 * (length - 1)
    index = np.mod(index, period)
    return np.where(index >= length, period - index, index)


def reflect_window(image: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Copy ``image[rows[0]:rows[1], cols[0]:cols[1]]``, reflecting indices outside the image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    rows, cols : (int, int)
        Half-open ranges, possibly beyond the image.

    Returns
    -------
    ndarray, shape (rows[1] - rows[0], cols[1] - cols[0])
        A new array (only the window is copied).
    """
    height, width = image.shape
    r0, r1 = rows
    c0, c1 = cols
    if r0 >= 0 and c0 >= 0 and r1 <= height and c1 <= width:
        return np.array(image[r0:r1, c0:c1])
    ri = _reflect_index(np.arange(r0, r1), height)
    ci = _reflect_index(np.arange(c0, c1), width)
    return image[np.ix_(ri, ci)]
