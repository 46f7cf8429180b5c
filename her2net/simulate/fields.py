"""Smooth random fields and spectral helpers used for backgrounds, region maps and cell outlines.

Everything here works on whole arrays (FFT filtering, interpolation); there is no per-pixel loop.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

__all__ = ["smooth_field", "sample_grid", "radial_frequency_sq", "gaussian_transfer", "background_base"]


def radial_frequency_sq(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Squared spatial frequencies (cycles/pixel)² along rows and columns of the ``rfft2`` grid.

    Returns ``(fy2, fx2)`` shaped (H, 1) and (1, W//2+1); their sum is the squared radius.
    Keeping them apart lets Gaussian transfer functions be built as outer products.
    """
    fy = sfft.fftfreq(shape[0])[:, None]
    fx = sfft.rfftfreq(shape[1])[None, :]
    return fy * fy, fx * fx


def gaussian_transfer(f2, sigma_px: float) -> np.ndarray:
    """Fourier transform of a unit-integral Gaussian of standard deviation ``sigma_px``.

    ``f2`` is the ``(fy2, fx2)`` pair of :func:`radial_frequency_sq`; the result is float32 of
    the full rfft2 grid, computed as an outer product (a Gaussian is separable).
    """
    fy2, fx2 = f2
    c = -2.0 * np.pi**2 * sigma_px**2
    return (np.exp(c * fy2).astype(np.float32) * np.exp(c * fx2).astype(np.float32))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], *, corr_px: float) -> np.ndarray:
    """Gaussian random field with zero mean, unit standard deviation and correlation length ``corr_px``.

    White noise on a grid padded by up to three correlation lengths is Gaussian-filtered and
    cropped, so the field is not periodic (a periodic field whose correlation length is close to
    the grid size is a plaid of a few axis-aligned modes).

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (int, int)
    corr_px : float
        Standard deviation, in pixels, of the Gaussian filter applied to white noise.

    Returns
    -------
    numpy.ndarray
        float64 array of ``shape``.
    """
    sigma = max(float(corr_px), 0.3)
    # Smooth fields are synthesised on a grid coarser by up to sigma / 2 and interpolated: the
    # cost no longer grows with the correlation length.
    step = max(1, int(sigma / 2))
    coarse = (int(np.ceil((shape[0] - 1) / step)) + 2, int(np.ceil((shape[1] - 1) / step)) + 2)
    s = sigma / step
    pad = int(np.ceil(3 * s))
    noise = rng.standard_normal((coarse[0] + 2 * pad, coarse[1] + 2 * pad))
    field = ndimage.gaussian_filter(noise, sigma=s, mode="reflect", truncate=3.0)
    field = field[pad:pad + coarse[0], pad:pad + coarse[1]]
    if step > 1:
        field = sample_grid(field, np.arange(shape[0]) / step, np.arange(shape[1]) / step)
    else:
        field = field[:shape[0], :shape[1]]
    std = field.std()
    if std > 0:
        field = (field - field.mean()) / std
    return field


def sample_grid(field: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``field`` on the grid ``yy`` x ``xx`` (fractional indices, clamped).

    Separable: interpolates along columns on the (small) coarse rows first, then along rows.
    Returns float32.
    """
    field = np.asarray(field, dtype=np.float32)
    fy = np.clip(np.asarray(yy, dtype=float), 0, field.shape[0] - 1)
    fx = np.clip(np.asarray(xx, dtype=float), 0, field.shape[1] - 1)
    y0 = np.minimum(fy.astype(int), max(field.shape[0] - 2, 0))
    x0 = np.minimum(fx.astype(int), max(field.shape[1] - 2, 0))
    y1 = np.minimum(y0 + 1, field.shape[0] - 1)
    x1 = np.minimum(x0 + 1, field.shape[1] - 1)
    wx = (fx - x0).astype(np.float32)[None, :]
    wy = (fy - y0).astype(np.float32)[:, None]
    along_x = field[:, x0] + (field[:, x1] - field[:, x0]) * wx  # (gh, W)
    top = along_x[y0]
    top += (along_x[y1] - top) * wy
    return top


def background_base(maps: dict, p: dict, *, ruffle_sign: float) -> np.ndarray:
    """Relative background (float32, about 1): thickness, gradient, ruffles, cell edge.

    ``1 + thickness_variation * thickness + gradient * ramp + ruffle_sign * ruffle_contrast *
    ruffle``, clipped at 0.05, times ``outside_factor`` outside the cell (soft ``mask``).
    Terms whose amplitude is zero or whose map is None are skipped.
    """
    shape = maps["ramp"].shape
    base = np.ones(shape, dtype=np.float32)
    for amp, key in ((p["thickness_variation"], "thickness"), (p["gradient"], "ramp"),
                     (ruffle_sign * p["ruffle_contrast"], "ruffle")):
        if amp != 0 and maps.get(key) is not None:
            base += np.float32(amp) * maps[key]
    np.maximum(base, np.float32(0.05), out=base)
    mask = maps.get("mask")
    if mask is not None and p["outside_factor"] != 1:
        base *= np.float32(p["outside_factor"]) + np.float32(1 - p["outside_factor"]) * mask
    return base
