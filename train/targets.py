"""Training targets: label points -> heatmap, offset field and offset mask."""

from __future__ import annotations

import numpy as np

__all__ = ["make_targets"]


def make_targets(points: np.ndarray, shape: tuple[int, int], *, sigma_px: float = 1.5,
                 offset_radius_px: float = 2.0,
                 weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode label centres as the targets the U-Net learns.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        Label centres (x_px, y_px); x = column, pixel centres at integers. Only labels whose
        centre lies inside the tile (-0.5 <= x < W - 0.5) get targets.
    shape : (H, W)
    sigma_px : float
        Width of the Gaussian bump per label (combined by maximum where labels overlap); the
        pixel nearest each centre is exactly 1.
    offset_radius_px : float
        Pixels closer than this to a centre get the offset (dx, dy) to their nearest centre.
    weights : array_like, shape (N,), optional
        Peak height of each label's bump (default 1). A label with weight below 1 has no
        positive pixel: the focal loss then barely penalises a peak there nor rewards one (a
        label too faint to be seen is neither a target nor a background example); weight 0
        drops the label.

    Returns
    -------
    heatmap : ndarray of float32, shape (H, W)
    offsets : ndarray of float32, shape (2, H, W)
    offset_mask : ndarray of float32, shape (H, W)
        1 where the offsets are defined.
    """
    height, width = shape
    heatmap = np.zeros(shape, np.float32)
    offsets = np.zeros((2, height, width), np.float32)
    best = np.full(shape, np.inf, np.float32)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    weights = (np.ones(len(points)) if weights is None
               else np.clip(np.asarray(weights, dtype=np.float64).reshape(-1), 0.0, 1.0))
    half = int(np.ceil(max(3 * sigma_px, offset_radius_px)))
    grid = np.arange(-half, half + 1)
    for (x, y), weight in zip(points, weights):
        if weight <= 0:
            continue
        if not (-0.5 <= x < width - 0.5 and -0.5 <= y < height - 0.5):
            # A label belongs to the tile when its centre lies inside it (as in the truth used
            # for scoring); the visible tail of a label centred outside must not make a peak.
            continue
        cx, cy = int(np.rint(x)), int(np.rint(y))
        rows = cy + grid
        cols = cx + grid
        rows = rows[(rows >= 0) & (rows < height)]
        cols = cols[(cols >= 0) & (cols < width)]
        if not len(rows) or not len(cols):
            continue
        dy = (y - rows)[:, None].astype(np.float32)
        dx = (x - cols)[None, :].astype(np.float32)
        dist2 = dx**2 + dy**2
        bump = np.float32(weight) * np.exp(-dist2 / (2 * sigma_px**2))
        sub = np.ix_(rows, cols)
        heatmap[sub] = np.maximum(heatmap[sub], bump)
        closer = (dist2 < best[sub]) & (dist2 <= offset_radius_px**2)
        best_sub = best[sub]
        best_sub[closer] = dist2[closer]
        best[sub] = best_sub
        ox = offsets[0][sub]
        oy = offsets[1][sub]
        ox[closer] = np.broadcast_to(dx, dist2.shape)[closer]
        oy[closer] = np.broadcast_to(dy, dist2.shape)[closer]
        offsets[0][sub] = ox
        offsets[1][sub] = oy
        centre = (min(max(cy, 0), height - 1), min(max(cx, 0), width - 1))
        heatmap[centre] = max(heatmap[centre], weight)
    offset_mask = np.isfinite(best).astype(np.float32)
    return heatmap, offsets, offset_mask
