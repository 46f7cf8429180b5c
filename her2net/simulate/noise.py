"""Electron dose, shot noise and the detector: expected signal -> raw detector values."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["electrons_per_pixel", "dose_for_snr", "snr_for_dose", "record"]


def electrons_per_pixel(dose_e_per_A2: float, pixel_size_nm: float) -> float:
    """Incident electrons per pixel: dose (e⁻/Å²) times the pixel area (1 nm² = 100 Å²)."""
    return dose_e_per_A2 * 100.0 * pixel_size_nm**2


def dose_for_snr(snr: float, *, label_contrast: float, background: float, pixel_size_nm: float,
                 read_noise: float = 0.0) -> float:
    """Dose at which a label's contrast is ``snr`` times the background noise sd.

    With ``N`` electrons per pixel, background ``b`` and label contrast ``c`` (fractions per
    electron): SNR = c N / sqrt(b N (1 + r²)), so N = SNR² b (1 + r²) / c². For the matched-filter
    SNR, pass ``c`` times the square root of the label's effective area in pixels.
    """
    n0 = snr**2 * background * (1 + read_noise**2) / label_contrast**2
    return n0 / (100.0 * pixel_size_nm**2)


def snr_for_dose(dose_e_per_A2: float, *, label_contrast: float, background: float,
                 pixel_size_nm: float, read_noise: float = 0.0) -> float:
    """Inverse of :func:`dose_for_snr`."""
    n0 = electrons_per_pixel(dose_e_per_A2, pixel_size_nm)
    return label_contrast * np.sqrt(n0 / (background * (1 + read_noise**2)))


def record(rng: np.random.Generator, signal: np.ndarray, p: dict, *, n0: float,
           background: float) -> np.ndarray:
    """Raw detector image: Poisson counts, read noise, scan-line artefacts, camera blur, gain, offset.

    Parameters
    ----------
    signal : numpy.ndarray
        Expected detected fraction per incident electron.
    n0 : float
        Incident electrons per pixel.
    background : float
        Background signal level; read noise and scan-line noise are given relative to its shot
        noise ``sqrt(n0 * background)``.

    Returns
    -------
    numpy.ndarray
        float32 raw values ``gain * electrons + offset``.
    """
    lam = (n0 * signal).astype(np.float32)
    # Poisson counts: exact below 10 electrons, the Gaussian limit above (much faster).
    counts = rng.standard_normal(lam.shape, dtype=np.float32)
    counts *= np.sqrt(lam)
    counts += lam
    low = lam < 10
    if low.any():
        counts[low] = rng.poisson(lam[low])
    sigma_bg = np.sqrt(n0 * background)
    if p["read_noise"] > 0:
        counts += rng.standard_normal(counts.shape, dtype=np.float32) * np.float32(p["read_noise"] * sigma_bg)
    if p["scan_lines"] > 0:
        h = counts.shape[0]
        counts *= (1 + 0.005 * p["scan_lines"] * rng.standard_normal(h, dtype=np.float32))[:, None]
        counts += (rng.standard_normal(h, dtype=np.float32) * np.float32(p["scan_lines"] * sigma_bg))[:, None]
    if p["camera_blur_px"] > 0:
        counts = ndimage.gaussian_filter(counts, p["camera_blur_px"], mode="nearest")
    counts *= np.float32(p["gain"])
    counts += np.float32(p["offset"])
    if p.get("bit_depth", 0) == 8:
        counts = _quantise_8bit(rng, counts, float(p["clip_fraction"]))
    return counts


def _quantise_8bit(rng, image, clip_fraction: float):
    """An 8-bit export: a random window (clipping up to ``clip_fraction`` of the pixels at each
    end) mapped to 0..255."""
    sample = image.ravel()[:: max(1, image.size // 8192)]
    lo = np.quantile(sample, rng.uniform(0.0, clip_fraction))
    hi = np.quantile(sample, rng.uniform(1.0 - clip_fraction, 1.0))
    if hi <= lo:
        return image
    out = (image - lo) * np.float32(255.0 / (hi - lo))
    np.clip(out, 0, 255, out=out)
    return np.rint(out, out=out)
