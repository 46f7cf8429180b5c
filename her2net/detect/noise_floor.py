"""Noise-limited threshold: how low the threshold may go in an image whose only clutter is noise.

The calibrated threshold is a compromise over images with and without clutter (debris, membrane
particles, texture): where structure that looks like labels is about, low scores are mostly
structure; where the background is smooth, they are mostly faint labels, and the calibrated
threshold throws away the faint labels that a low dose leaves.

Two things decide. First, :func:`white_noise_index`: the band-passed image at the scale of a label
against the pixel noise, 1 for pure white noise and larger where the image has structure at the
label scale (or correlated noise, as after a detector's blur). Only images whose index is below
``WHITE_NOISE_MAX_INDEX`` may have their threshold lowered. Second, the checkpoint's
``noise_peak_rate``: how many peaks per square micrometre its network scores above each
threshold in label-free noise (measured by ``python -m train calibrate``). The threshold is then
lowered to the lowest value at which the noise peaks (their expected count plus one Poisson
standard deviation) stay below ``max_noise_fraction`` of the detections: a false-discovery
bound with an empirical null.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["white_noise_index", "noise_limited_threshold", "WHITE_NOISE_MAX_INDEX",
           "MAX_NOISE_FRACTION", "NOISE_SIGMAS", "LABEL_SIGMA_NM"]

#: Images with a larger :func:`white_noise_index` keep the calibrated threshold.
WHITE_NOISE_MAX_INDEX = 1.6
#: Default bound on the fraction of noise peaks (with the margin) among the detections.
MAX_NOISE_FRACTION = 0.25
#: Poisson standard deviations added to the expected count of noise peaks.
NOISE_SIGMAS = 1.0
#: Gaussian sigma (nm) of the band-pass: about a small label's radius.
LABEL_SIGMA_NM = 3.0
_MAX_SIDE_PX = 512  # the index is measured on a central crop at most this large
_TRIM_PERCENT = 0.5


def _band(image: np.ndarray, sigma_px: float) -> np.ndarray:
    return ndimage.gaussian_filter(image, sigma_px) - ndimage.gaussian_filter(image, 4 * sigma_px)


def _robust_std(values: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _trimmed_rms(values: np.ndarray) -> float:
    low, high = np.percentile(values, (_TRIM_PERCENT, 100 - _TRIM_PERCENT))
    kept = values[(values >= low) & (values <= high)]
    return float(np.sqrt(np.mean((kept - kept.mean()) ** 2)))


def _statistics(image: np.ndarray, sigma_px: float) -> tuple[float, float]:
    """(band-pass spread, pixel-noise spread) of ``image``, borders excluded."""
    margin = int(np.ceil(8 * sigma_px))
    band = _band(image, sigma_px)[margin:-margin, margin:-margin]
    fine = (image - ndimage.uniform_filter(image, 3))[1:-1, 1:-1]
    return _robust_std(band), _trimmed_rms(fine)


@lru_cache(maxsize=64)
def _white_reference(sigma_px: float) -> float:
    """The band/noise ratio of :func:`_statistics` for Gaussian white noise (exact)."""
    from scipy.special import ndtri

    half = int(np.ceil(16 * sigma_px))
    delta = np.zeros((2 * half + 1, 2 * half + 1))
    delta[half, half] = 1.0
    band = float(np.sqrt(np.sum(_band(delta, sigma_px) ** 2)))  # robust std = std for a Gaussian
    # Trimmed at +-edge, a unit normal keeps the variance 1 - 2 edge phi(edge) / kept.
    kept = 1 - 2 * _TRIM_PERCENT / 100
    edge = float(ndtri(1 - _TRIM_PERCENT / 100))
    trimmed_var = 1 - 2 * edge * np.exp(-edge**2 / 2) / np.sqrt(2 * np.pi) / kept
    fine = np.sqrt(8 / 9) * np.sqrt(trimmed_var)  # a pixel minus its 3x3 mean
    return band / fine


def white_noise_index(image: np.ndarray, pixel_size_nm: float, *,
                      label_sigma_nm: float = LABEL_SIGMA_NM) -> float:
    """How far an image is from labels on a smooth background in white noise.

    The robust spread of a difference-of-Gaussians band-pass at the label scale (sigma
    ``label_sigma_nm``, at least 0.7 px), divided by the pixel noise (trimmed RMS of the image
    minus its 3x3 mean), relative to the same ratio for white noise. Labels that are sparse
    barely move the robust spread, so the index is about 1 for labels in white (Poisson or
    Gaussian) noise on a smooth background and grows with clutter at the scale of a label and
    with correlated noise.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The image at its own pixel size, raw values.
    pixel_size_nm : float

    Returns
    -------
    float
        NaN when the image is too small to measure (under about 16 sigma per side) or flat.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> noise = rng.poisson(20.0, (256, 256)).astype(float)
    >>> round(white_noise_index(noise, 1.0), 1)
    1.0
    >>> blobs = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 3) * 40
    >>> white_noise_index(noise + blobs, 1.0) > 2
    True
    """
    sigma_px = max(float(label_sigma_nm) / float(pixel_size_nm), 0.7)
    height, width = np.shape(image)
    r0, c0 = max(0, (height - _MAX_SIDE_PX) // 2), max(0, (width - _MAX_SIDE_PX) // 2)
    data = np.asarray(image[r0:r0 + _MAX_SIDE_PX, c0:c0 + _MAX_SIDE_PX], dtype=np.float32)
    data = data - np.float32(np.median(data))  # float32 keeps precision near zero
    if min(data.shape) < 16 * sigma_px + 8:
        return float("nan")
    band, fine = _statistics(data, sigma_px)
    if not fine > 0:
        return float("nan")
    return float(band / fine / _white_reference(round(sigma_px, 2)))


def noise_limited_threshold(scores, *, area_um2: float, thresholds, noise_peak_rate_per_um2,
                            max_noise_fraction: float = MAX_NOISE_FRACTION,
                            noise_sigmas: float = NOISE_SIGMAS) -> float | None:
    """The lowest threshold at which noise peaks are at most a fraction of the detections.

    Parameters
    ----------
    scores : array_like
        Peak scores of the image (at least down to ``min(thresholds)``).
    area_um2 : float
        The image's area in square micrometres.
    thresholds, noise_peak_rate_per_um2 : array_like
        The checkpoint's null: peaks per um^2 scoring at least each threshold in label-free noise.
    max_noise_fraction : float
        Bound on the noise peaks over the detections at ``t``.
    noise_sigmas : float
        The noise peaks are counted as their expectation ``rate(t) * area`` plus this many
        Poisson standard deviations, so that small images, where the count of noise peaks
        varies most, are lowered less.

    Returns
    -------
    float or None
        None when no threshold of the table qualifies.

    Examples
    --------
    >>> noise_limited_threshold([0.9] * 60 + [0.22] * 30, area_um2=0.1, thresholds=[0.2, 0.3],
    ...                         noise_peak_rate_per_um2=[100.0, 10.0])
    0.2
    """
    scores = np.asarray(scores, dtype=float)
    for t, rate in sorted(zip(thresholds, noise_peak_rate_per_um2)):
        n = int(np.count_nonzero(scores >= t))
        expected = rate * area_um2
        if n and expected + noise_sigmas * np.sqrt(expected) <= max_noise_fraction * n:
            return float(t)
    return None
