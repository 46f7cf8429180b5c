"""Per-detection size and integrated intensity, measured on the original image.

For each detection a square patch around it is taken from the input image (not the resampled
or normalised one). The local background is the median of a ring of radius ``ring_nm``; the label
signal is the background-subtracted patch (sign-flipped for dark labels). Within a disk whose radius
adapts to the label (three passes, starting from the ring's inner radius), the second moment of
the signal about the detected centre, m2 = sum(s r^2) / sum(s), gives the diameter of the projected
sphere with that moment: ``diameter = sqrt(10 * m2)`` (a projected sphere of radius a has
m2 = 2 a^2 / 5). The integrated intensity is the sum of the signal within the disk, in the image's
own units. Both include the microscope blur: they rank labels by size (6, 12 and 18 nm gold fall
apart), they are not a calibrated particle size.
"""

from __future__ import annotations

import numpy as np

from her2net.detect.tiling import _reflect_index

__all__ = ["measure_labels", "RING_NM"]

#: Radius of the background ring (nm): beyond the largest common label (18 nm gold) plus blur.
RING_NM = 16.0
_START_NM = 6.0
_PASSES = 5
_CHUNK_ELEMENTS = 2e6  # patch pixels per chunk (bounded memory)


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
        Diameter of the projected sphere with the measured second moment (blur included);
        NaN where there is no positive signal.
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
    start_nm = _START_NM
    n = len(points)
    diameter = np.full(n, np.nan)
    intensity = np.zeros(n)
    if n == 0:
        return diameter, intensity
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
    for start in range(0, n, step):
        chunk = points[start:start + step]
        cx = np.rint(chunk[:, 0]).astype(np.int64)
        cy = np.rint(chunk[:, 1]).astype(np.int64)
        rows = _reflect_index(cy[:, None] + offsets[None, :], image.shape[0])
        cols = _reflect_index(cx[:, None] + offsets[None, :], image.shape[1])
        patch = image[rows[:, :, None], cols[:, None, :]].astype(np.float32)  # (m, k, k)
        dy = ((cy - chunk[:, 1])[:, None, None] + offsets[None, :, None]).astype(np.float32)
        dx = ((cx - chunk[:, 0])[:, None, None] + offsets[None, None, :]).astype(np.float32)
        r2 = dx * dx + dy * dy
        background = np.median(patch[:, ring], axis=1)
        signal = np.float32(sign) * (patch - background[:, None, None])
        signal_r2 = signal * r2
        # Start small (less noise) and let the disk grow to the label.
        radius = np.full(len(chunk), min(outer - width, max(2.0, start_nm / pixel_size_nm)))
        for _ in range(_PASSES):
            inside = r2 <= (radius ** 2).astype(np.float32)[:, None, None]
            mass = np.sum(signal * inside, axis=(1, 2), dtype=np.float64)
            moment = np.sum(signal_r2 * inside, axis=(1, 2), dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                m2 = np.where(mass > 0, moment / mass, np.nan)
            # The disk grows to about 1.3x the sphere radius plus 1.5 px of blur.
            radius = np.clip(2.0 * np.sqrt(np.clip(np.nan_to_num(m2, nan=1.0), 0, None)) + 1.5,
                             2.0, outer - width)
        diameter[start:start + len(chunk)] = np.sqrt(10.0 * np.clip(m2, 0, None)) * pixel_size_nm
        intensity[start:start + len(chunk)] = mass
    return diameter, intensity
