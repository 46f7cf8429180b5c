"""Input preparation shared by training and inference: rescaling and normalisation."""

from __future__ import annotations

import numpy as np

from her2net.errors import InputError

__all__ = [
    "normalize_image",
    "resample_image",
    "resampled_shape",
    "points_to_input_frame",
    "points_to_resampled_frame",
    "NORMALIZE_PERCENTILES",
]

NORMALIZE_PERCENTILES = (1.0, 99.8)
#: A fill holds over 2 % of the pixels at the image's minimum or maximum ...
_FILL_FRACTION = 0.02
#: ... in connected areas of at least 2500 px (50 x 50; an 18-nm label at 0.5 nm/px is ~1000 px).
_FILL_AREA_PX = 2500
_MAX_SAMPLE = 1 << 20  # percentiles from at most ~1 M pixels (bounded memory on huge images)


def normalize_image(image: np.ndarray, *, polarity: str = "bright",
                    percentiles: tuple[float, float] = NORMALIZE_PERCENTILES) -> np.ndarray:
    """Percentile-normalise a micrograph so that labels are bright.

    ``(image - p_low) / (p_high - p_low)`` with the percentiles of the whole image (from a
    regular subsample on large images), after inverting dark-label (bright-field) images. The
    result does not depend on detector gain, offset or bit depth.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Raw pixel values, any numeric dtype.
    polarity : {'bright', 'dark'}
        'bright': labels brighter than the background (annular dark field STEM);
        'dark': labels darker (bright-field TEM); the image is inverted.
    percentiles : (float, float)
        Low and high percentiles mapped to 0 and 1.

    Returns
    -------
    ndarray of float32, shape (H, W)

    Examples
    --------
    >>> import numpy as np
    >>> out = normalize_image(np.arange(100.0).reshape(10, 10) * 7 + 300)
    >>> float(out.min()) < 0.01 < 0.99 < float(out.max())
    True
    """
    if polarity not in ("bright", "dark"):
        raise InputError(f"polarity must be 'bright' or 'dark', got {polarity!r}")
    image = np.asarray(image)
    if image.ndim != 2:
        raise InputError(f"image must be 2-D, got shape {image.shape}")
    sign = -1.0 if polarity == "dark" else 1.0
    step = max(1, int(np.ceil(np.sqrt(image.size / _MAX_SAMPLE))))
    out = np.asarray(image, dtype=np.float32) * np.float32(sign)
    fill = _fill_areas(out, _fill_candidates(out[::step, ::step]))
    sample = out[::step, ::step]
    sample = sample[~fill[::step, ::step]] if fill is not None else sample.ravel()
    low, high = np.percentile(sample, percentiles)
    scale = float(high - low)
    if not np.isfinite(scale) or scale <= 0:
        low, high = float(sample.min()), float(sample.max())
        scale = float(high - low) or 1.0
    if fill is not None:
        # A constant fill (a border of zeros after a rotation or a montage, an area set to 0
        # outside the cell): shown as the background, so that neither its level (which would
        # set the percentiles) nor its edge looks like anything.
        out[fill] = np.float32(np.median(sample))
    out -= np.float32(low)
    out *= np.float32(1.0 / scale)
    return out


def _fill_candidates(sample: np.ndarray) -> list:
    """The sample's minimum and maximum where either holds over ``_FILL_FRACTION`` of it.

    A micrograph's extreme values are rare; a constant fill makes one of them common (so do
    Poisson zeros of a faint image and heavy saturation: :func:`_fill_areas` keeps only large
    connected areas).
    """
    return [value for value in dict.fromkeys((float(sample.min()), float(sample.max())))
            if np.count_nonzero(sample == value) > _FILL_FRACTION * sample.size]


def _fill_areas(image: np.ndarray, candidates) -> np.ndarray | None:
    """Pixels in connected areas of one of the ``candidates`` values larger than
    ``_FILL_AREA_PX``, or None when there is none (then nothing is a fill: Poisson zeros of a
    faint image, saturated label cores)."""
    if not candidates:
        return None
    from scipy import ndimage

    labels, n = ndimage.label(np.isin(image, candidates))
    if n == 0:
        return None
    large = np.bincount(labels.ravel()) >= _FILL_AREA_PX
    large[0] = False
    if not large.any():
        return None
    return large[labels]


def resampled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """Shape of an image of ``shape`` resampled by ``scale`` (output pixels per input pixel)."""
    return (max(1, int(round(shape[0] * scale))), max(1, int(round(shape[1] * scale))))


def resample_image(image: np.ndarray, *, scale: float) -> np.ndarray:
    """Resample a 2-D image by ``scale`` output pixels per input pixel (area-aware).

    Uses bilinear interpolation with anti-aliasing when shrinking (torch ``interpolate`` with
    ``align_corners=False``): input pixel centres map as ``x_out = (x_in + 0.5) * sx - 0.5`` with
    ``sx = W_out / W_in``. ``scale = image_pixel_size_nm / model_pixel_size_nm``.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    scale : float
        Output pixels per input pixel (> 0). 1 returns the image as float32 unchanged.

    Returns
    -------
    ndarray of float32, shape ``resampled_shape(image.shape, scale)``
    """
    import torch
    from torch.nn import functional as F

    if not scale > 0:
        raise InputError(f"scale must be > 0, got {scale}")
    image = np.asarray(image, dtype=np.float32)
    out_shape = resampled_shape(image.shape, scale)
    if out_shape == image.shape:
        return image
    tensor = torch.from_numpy(np.ascontiguousarray(image))[None, None]
    with torch.inference_mode():
        out = F.interpolate(tensor, size=out_shape, mode="bilinear", align_corners=False,
                            antialias=scale < 1)
    return out[0, 0].numpy()


def points_to_input_frame(points: np.ndarray, in_shape, out_shape) -> np.ndarray:
    """Map (x, y) points from a resampled image (``out_shape``) back to the input (``in_shape``)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sx = out_shape[1] / in_shape[1]
    sy = out_shape[0] / in_shape[0]
    return np.column_stack([(points[:, 0] + 0.5) / sx - 0.5, (points[:, 1] + 0.5) / sy - 0.5])


def points_to_resampled_frame(points: np.ndarray, in_shape, out_shape) -> np.ndarray:
    """Map (x, y) points from an input image (``in_shape``) into its resampled version."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sx = out_shape[1] / in_shape[1]
    sy = out_shape[0] / in_shape[0]
    return np.column_stack([(points[:, 0] + 0.5) * sx - 0.5, (points[:, 1] + 0.5) * sy - 0.5])
