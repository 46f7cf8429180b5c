"""Vectorised rendering of many small objects (labels, particles, crystals) into an image.

Each object is a super-ellipsoid with in-plane semi-axes ``a`` and ``b`` (pixels), rotated by
``angle``. Its contribution at normalised radius ``q`` (``q = 1`` on the outline) is

    amp * (1 - exp(-k * sqrt(1 - q**power_term)))

which is the scattered (or absorbed) fraction of electrons through the projected thickness of
an ellipsoid whose central thickness is ``k`` mean free paths: a sphere for small ``k``, a flat
disc for large ``k``. Objects are grouped by patch size; all objects of one group are evaluated
in one broadcast array operation, optionally supersampled within each pixel, and added with
``numpy.bincount``. There is no Python loop per object or per pixel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["splat"]

_MAX_ELEMENTS = 4_000_000  # evaluate in chunks above this many samples


def _supersample_for(size_px: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Samples per pixel axis: more for small objects, whose outline is a large part of them."""
    ss = np.where(size_px < 3.0, 4, np.where(size_px < 8.0, 2, 1))
    return np.where(half > 6, np.minimum(ss, 2), ss)


def splat(
    image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    a: np.ndarray,
    b: np.ndarray,
    angle: np.ndarray | float = 0.0,
    amp: np.ndarray | float = 1.0,
    k: np.ndarray | float = 1.0,
    power: float = 2.0,
) -> np.ndarray:
    """Add objects to ``image`` in place and return it.

    Parameters
    ----------
    image : numpy.ndarray
        2-D float array, modified in place.
    x, y : numpy.ndarray
        Object centres in pixels (x = column, y = row, centre of pixel (0, 0) at (0, 0)).
    a, b : numpy.ndarray
        In-plane semi-axes in pixels (``a`` along the rotated x axis).
    angle : numpy.ndarray or float
        Rotation in radians.
    amp : numpy.ndarray or float
        Amplitude (the saturated value for large ``k``); negative values subtract.
    k : numpy.ndarray or float
        Central thickness in mean free paths.
    power : float
        Super-ellipse exponent: 2 for ellipses, larger for rounded rectangles (crystals).
    """
    x = np.asarray(x, dtype=float).ravel()
    n = x.size
    if n == 0:
        return image
    y = np.asarray(y, dtype=float).ravel()
    a = np.broadcast_to(np.asarray(a, dtype=float), (n,))
    b = np.broadcast_to(np.asarray(b, dtype=float), (n,))
    angle = np.broadcast_to(np.asarray(angle, dtype=float), (n,))
    amp = np.broadcast_to(np.asarray(amp, dtype=float), (n,))
    k = np.maximum(np.broadcast_to(np.asarray(k, dtype=float), (n,)), 1e-4)
    h, w = image.shape
    reach = np.maximum(a, b)
    # Only objects that touch the image.
    keep = (x + reach >= -0.5) & (x - reach < w - 0.5) & (y + reach >= -0.5) & (y - reach < h - 0.5)
    if not keep.any():
        return image
    x, y, a, b, angle, amp, k, reach = (v[keep] for v in (x, y, a, b, angle, amp, k, reach))
    half = np.ceil(reach + 0.5).astype(int)
    # Buckets of similar patch size keep the padding small.
    # At most ~25 % larger than needed: steps of 2**(floor(log2(half)) - 2).
    step = 2 ** np.maximum(np.floor(np.log2(np.maximum(half, 1))).astype(int) - 2, 0)
    bucket = (np.ceil(half / step) * step).astype(int)
    ss_all = _supersample_for(2 * np.minimum(a, b), bucket)
    flat_image = image.reshape(-1)
    for hb in np.unique(bucket):
        for ss in np.unique(ss_all[bucket == hb]):
            idx = np.flatnonzero((bucket == hb) & (ss_all == ss))
            per = (2 * hb + 1) ** 2 * ss * ss
            step = max(1, _MAX_ELEMENTS // per)
            for start in range(0, idx.size, step):
                _splat_group(flat_image, (h, w), idx[start:start + step], int(hb), int(ss),
                             x, y, a, b, angle, amp, k, power)
    return image


def _splat_group(flat_image, shape, idx, hb, ss, x, y, a, b, angle, amp, k, power):
    h, w = shape
    offs = np.arange(-hb, hb + 1)
    sub = (np.arange(ss) + 0.5) / ss - 0.5
    grid = (offs[:, None] + sub[None, :]).ravel().astype(np.float32)  # (P*ss,)
    cx = np.rint(x[idx]).astype(int)
    cy = np.rint(y[idx]).astype(int)
    fx = (x[idx] - cx).astype(np.float32)
    fy = (y[idx] - cy).astype(np.float32)
    du = grid[None, None, :] - fx[:, None, None]  # (n, 1, Q) along columns
    dv = grid[None, :, None] - fy[:, None, None]  # (n, Q, 1) along rows
    c = np.cos(angle[idx]).astype(np.float32)[:, None, None]
    s = np.sin(angle[idx]).astype(np.float32)[:, None, None]
    u = (du * c + dv * s) * (1 / a[idx]).astype(np.float32)[:, None, None]
    v = (dv * c - du * s) * (1 / b[idx]).astype(np.float32)[:, None, None]
    if power == 2.0:
        q = u * u + v * v
    else:
        q = (np.abs(u) ** power + np.abs(v) ** power) ** (2.0 / power)
    t = np.sqrt(np.maximum(1.0 - q, 0.0, dtype=np.float32))
    val = amp[idx].astype(np.float32)[:, None, None] * -np.expm1(-k[idx].astype(np.float32)[:, None, None] * t)
    p = 2 * hb + 1
    if ss > 1:
        val = val.reshape(idx.size, p, ss, p, ss).mean(axis=(2, 4))
    rows = cy[:, None] + offs[None, :]  # (n, P)
    cols = cx[:, None] + offs[None, :]
    ok = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    flat = rows[:, :, None] * w + cols[:, None, :]
    flat_image += np.bincount(flat[ok], weights=val[ok], minlength=h * w)
