"""Per-detection size and integrated intensity, measured on the original image.

For each detection a square patch around it is taken from the input image (not the resampled
or normalised one). The local background is the median of a ring of radius ``ring_nm``; the label
signal is the background-subtracted patch (sign-flipped for dark labels).

**Diameter** (half-maximum area): the label's peak is the mean signal within 1 px of the detected
centre; the pixels above half that peak which connect to the centre (4-connected, inside the ring)
make the label's half-maximum area A. A projected sphere of diameter d is at half its peak out
to a radius of (sqrt(3) / 2)(d / 2), so ``diameter = 2 sqrt(A / pi) / (sqrt(3) / 2)``. Clutter and
neighbours beyond the label's own half-maximum contour do not count, unlike a second moment of
the whole disk, which background structure pulls either way (on randomised simulated scenes the
moment put a third to most 6-nm labels outside 0.67-1.5x their size; the half-maximum area keeps
80-100 % of them inside, ``docs/detect.md``). The microscope blur is included: labels only a few
pixels across come out larger than they are (6-nm gold at 3 nm/px by about 1.4x).

**Intensity**: the sum of the signal within a disk of 1.3 label radii plus 1.5 px, in the image's
own units. Both rank labels by size (6, 12 and 18 nm gold fall apart); they are not a calibrated
particle size.

:func:`moment_diameter_nm` keeps the second-moment size, ``sqrt(10 m2)`` with
m2 = sum(s r^2) / sum(s) in a disk grown to the label: it is the width of the Gaussian with the
label's second moment, which is what the Gaussian-fit refinement starts from
(:mod:`her2net.detect.refine`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from her2net.detect.tiling import _reflect_index

__all__ = ["measure_labels", "moment_diameter_nm", "RING_NM"]

#: Radius of the background ring (nm): beyond the largest common label (18 nm gold) plus blur.
RING_NM = 16.0
_START_NM = 6.0
_PASSES = 5
_CHUNK_ELEMENTS = 2e6  # patch pixels per chunk (bounded memory)
_PEAK_RADIUS_PX = 1.0
_HALF_RADIUS_FACTOR = np.sqrt(3.0) / 2.0  # half-maximum radius of a projected sphere / its radius
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)  # 4-connected within each patch, never across
_STRUCTURE[1] = ndimage.generate_binary_structure(2, 1)


def _patch_chunks(image, points, *, pixel_size_nm, polarity, ring_nm):
    """Yield (slice, signal, r2, inner radius) per chunk of detections.

    ``signal`` (m, k, k) is the background-subtracted patch (labels positive), ``r2`` the squared
    distance of each pixel to the detection's sub-pixel centre, the inner radius the largest
    disk that stays inside the background ring.
    """
    image = np.asarray(image)
    sign = -1.0 if polarity == "dark" else 1.0
    outer = max(4.0, ring_nm / pixel_size_nm)
    outer = min(outer, 0.5 * max(image.shape) - 1, 64.0)
    width = max(1.5, 0.2 * outer)
    half = int(np.ceil(outer))
    offsets = np.arange(-half, half + 1)
    # The ring is laid on the integer pixel grid around the rounded centre (same for all labels).
    ring_r2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    ring = (ring_r2 >= (outer - width) ** 2) & (ring_r2 <= outer ** 2)
    step = max(64, int(_CHUNK_ELEMENTS // offsets.size ** 2))
    for start in range(0, len(points), step):
        chunk = points[start:start + step]
        cx = np.rint(chunk[:, 0]).astype(np.int64)
        cy = np.rint(chunk[:, 1]).astype(np.int64)
        rows = _reflect_index(cy[:, None] + offsets[None, :], image.shape[0])
        cols = _reflect_index(cx[:, None] + offsets[None, :], image.shape[1])
        patch = image[rows[:, :, None], cols[:, None, :]].astype(np.float32)  # (m, k, k)
        dy = ((cy - chunk[:, 1])[:, None, None] + offsets[None, :, None]).astype(np.float32)
        dx = ((cx - chunk[:, 0])[:, None, None] + offsets[None, None, :]).astype(np.float32)
        background = np.median(patch[:, ring], axis=1)
        signal = np.float32(sign) * (patch - background[:, None, None])
        yield slice(start, start + len(chunk)), signal, dx * dx + dy * dy, outer - width


def _half_maximum_radius_px(signal, r2, inner):
    """Radius (px) of the disk with the area of each label's half-maximum region, and the peak."""
    m = len(signal)
    near = r2 <= _PEAK_RADIUS_PX ** 2
    peak = np.sum(signal * near, axis=(1, 2)) / np.maximum(near.sum(axis=(1, 2)), 1)
    above = (signal > (0.5 * peak)[:, None, None]) & (r2 < inner * inner) & (peak > 0)[:, None, None]
    labels, _ = ndimage.label(above, structure=_STRUCTURE)
    # The region that holds the brightest pixel near the centre.
    near_signal = np.where(near, signal, -np.inf).reshape(m, -1)
    seed = labels.reshape(m, -1)[np.arange(m), np.argmax(near_signal, axis=1)]
    area = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1)[seed]
    area = np.where(seed > 0, area, 0)
    with np.errstate(invalid="ignore"):
        return np.where(area > 0, np.sqrt(area / np.pi), np.nan), peak


def measure_labels(image: np.ndarray, points: np.ndarray, *, pixel_size_nm: float,
                   polarity: str = "bright", ring_nm: float = RING_NM) -> tuple[np.ndarray, np.ndarray]:
    """Apparent diameter (nm) and integrated intensity of labels at ``points``.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The original image (raw values).
    points : ndarray, shape (N, 2)
        Label centres (x_px, y_px) in the image's pixel frame.
    pixel_size_nm : float
        Pixel size of ``image``.
    polarity : {'bright', 'dark'}
        Whether labels are brighter or darker than the background.
    ring_nm : float
        Outer radius of the background ring.

    Returns
    -------
    diameter_nm : ndarray, shape (N,)
        Diameter of the projected sphere with the label's half-maximum area (blur included);
        NaN where there is no positive signal at the centre.
    intensity : ndarray, shape (N,)
        Background-subtracted integrated signal (image units x pixels), positive for labels of
        the given polarity.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:64, :64]
    >>> r2 = (xx - 32.0) ** 2 + (yy - 30.0) ** 2
    >>> image = 10 + 5 * np.sqrt(np.clip(36 - r2, 0, None))  # a 12-px sphere
    >>> d, i = measure_labels(image, np.array([[32.0, 30.0]]), pixel_size_nm=1.0)
    >>> bool(11 < d[0] < 13)
    True
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    diameter = np.full(len(points), np.nan)
    intensity = np.zeros(len(points))
    for part, signal, r2, inner in _patch_chunks(image, points, pixel_size_nm=pixel_size_nm,
                                                 polarity=polarity, ring_nm=ring_nm):
        radius_half, _ = _half_maximum_radius_px(signal, r2, inner)
        sphere_radius = radius_half / _HALF_RADIUS_FACTOR
        diameter[part] = 2.0 * sphere_radius * pixel_size_nm
        disk = np.clip(1.3 * np.nan_to_num(sphere_radius, nan=0.0) + 1.5, 2.0, inner)
        inside = r2 <= (disk * disk).astype(np.float32)[:, None, None]
        intensity[part] = np.sum(signal * inside, axis=(1, 2), dtype=np.float64)
    return diameter, intensity


def moment_diameter_nm(image: np.ndarray, points: np.ndarray, *, pixel_size_nm: float,
                       polarity: str = "bright", ring_nm: float = RING_NM) -> np.ndarray:
    """Second-moment size of labels at ``points``: ``sqrt(10 m2)`` in nm.

    m2 = sum(s r^2) / sum(s) of the background-subtracted signal s about the centre, within a
    disk that adapts to the label (five passes, starting from 6 nm; it grows to about 1.3x the
    sphere radius plus 1.5 px). A projected sphere of radius a has m2 = 2 a^2 / 5, a Gaussian of
    width s has m2 = 2 s^2: this is the Gaussian width the refinement starts from. Background
    structure pulls it either way; :func:`measure_labels` gives the label's size. NaN where
    there is no positive signal.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    diameter = np.full(len(points), np.nan)
    for part, signal, r2, inner in _patch_chunks(image, points, pixel_size_nm=pixel_size_nm,
                                                 polarity=polarity, ring_nm=ring_nm):
        signal_r2 = signal * r2
        # Start small (less noise) and let the disk grow to the label.
        radius = np.full(len(signal), min(inner, max(2.0, _START_NM / pixel_size_nm)))
        for _ in range(_PASSES):
            inside = r2 <= (radius ** 2).astype(np.float32)[:, None, None]
            mass = np.sum(signal * inside, axis=(1, 2), dtype=np.float64)
            moment = np.sum(signal_r2 * inside, axis=(1, 2), dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                m2 = np.where(mass > 0, moment / mass, np.nan)
            radius = np.clip(2.0 * np.sqrt(np.clip(np.nan_to_num(m2, nan=1.0), 0, None)) + 1.5,
                             2.0, inner)
        diameter[part] = np.sqrt(10.0 * np.clip(m2, 0, None)) * pixel_size_nm
    return diameter
