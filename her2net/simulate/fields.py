"""Smooth random fields and spectral helpers used for backgrounds, region maps and cell outlines.

Everything here works on whole arrays (FFT filtering, interpolation); there is no per-pixel loop.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

__all__ = ["smooth_field", "sample_grid", "radial_frequency_sq", "gaussian_transfer"]


def radial_frequency_sq(shape: tuple[int, int]) -> np.ndarray:
    """Squared spatial frequency (cycles/pixel)² on the ``rfft2`` grid of an image of ``shape``."""
    fy = sfft.fftfreq(shape[0])[:, None]
    fx = sfft.rfftfreq(shape[1])[None, :]
    return fy * fy + fx * fx


def gaussian_transfer(f2: np.ndarray, sigma_px: float) -> np.ndarray:
    """Fourier transform of a unit-integral Gaussian of standard deviation ``sigma_px``."""
    return np.exp(-2.0 * np.pi**2 * sigma_px**2 * f2)


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

    Separable, so it costs a few array operations for a whole image.
    """
    fy = np.clip(np.asarray(yy, dtype=float), 0, field.shape[0] - 1)
    fx = np.clip(np.asarray(xx, dtype=float), 0, field.shape[1] - 1)
    y0 = np.minimum(fy.astype(int), max(field.shape[0] - 2, 0))
    x0 = np.minimum(fx.astype(int), max(field.shape[1] - 2, 0))
    y1 = np.minimum(y0 + 1, field.shape[0] - 1)
    x1 = np.minimum(x0 + 1, field.shape[1] - 1)
    wy = (fy - y0)[:, None]
    wx = (fx - x0)[None, :]
    rows0 = field[y0]
    rows1 = field[y1]
    top = rows0[:, x0] * (1 - wx) + rows0[:, x1] * wx
    bottom = rows1[:, x0] * (1 - wx) + rows1[:, x1] * wx
    return top * (1 - wy) + bottom * wy
