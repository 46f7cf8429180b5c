"""Is an image a metal-shadowed replica? A directional asymmetry no other kind of image has.

Platinum evaporated from one side coats the slopes of every membrane particle that face the
source and leaves a shadow behind it: each particle becomes a dark-bright pair, and on a replica
all of these pairs point the same way. An asymmetric pair is what a third moment sees and a
second moment (an autocorrelation, a power spectrum) cannot: with ``b`` the band-passed image,
``mean(b(x)^2 (b(x + d) - b(x - d)))`` is zero for anything that looks the same turned by 180
degrees (round labels, noise, membranes seen edge-on, edges running every way) and builds up over
the particles of a replica along the shadow's direction ``d``. It is measured in blocks of the
image, and :func:`shadowing_index` is the largest t-statistic of the blocks' values over
directions and lags: pairs that happen to lean one way in one block do not repeat in the others.
Only directions along which the structures pair with their opposite (a negative second moment at
the lag) count: a streak that trails each label in a scanned image (detector lag) is asymmetric
as well, but of the label's own sign.

``her2net.detect.api`` uses it to send the polarity question of a shadowed image to the replica
specialist (``docs/detect.md``, step 2).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["shadowing_index", "SHADOWED_INDEX"]

#: Images at or above this index are treated as shadowed replicas: the simulated replicas of
#: both renderers reach it, liquid STEM and sections do not (``python -m
#: benchmarks.bench_polarity --shadowing`` prints the index per kind of image).
SHADOWED_INDEX = 6.0

_LAGS_NM = (3.0, 5.0, 8.0)
_ANGLES_DEG = tuple(range(0, 180, 15))
_BLOCK_NM = 96.0
_MAX_BLOCKS = 36


def _block_origins(shape, block_px: int):
    """Top-left corners of non-overlapping blocks over the image, thinned to _MAX_BLOCKS."""
    rows = range(0, shape[0] - block_px + 1, block_px)
    cols = range(0, shape[1] - block_px + 1, block_px)
    origins = [(r, c) for r in rows for c in cols]
    if len(origins) > _MAX_BLOCKS:
        pick = np.linspace(0, len(origins) - 1, _MAX_BLOCKS).round().astype(int)
        origins = [origins[i] for i in pick]
    return origins


def shadowing_index(image: np.ndarray, pixel_size_nm: float) -> float:
    """How strongly and consistently the image's small structures are shadowed from one side.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The micrograph (raw values, any gain and offset, either polarity: the index does not
        change when the image is inverted).
    pixel_size_nm : float
        Its pixel size.

    Returns
    -------
    float
        The largest ``|t|`` over 12 directions and lags of 3, 5 and 8 nm of the blocks' (96 nm
        square, up to 36) antisymmetric third moments, over the directions and lags where the
        structures pair with their opposite; 0 for an image of fewer than 4 blocks.
        Physically shadowed replicas mostly score above :data:`SHADOWED_INDEX` (the second
        renderer's: medians 10-13, a few with dense gold under it), liquid STEM and sections
        below it; of her2net's own simulated replicas, whose caps and shadows are drawn apart,
        about half reach it.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(size=(512, 512))
    >>> bool(shadowing_index(noise, 1.0) < SHADOWED_INDEX)
    True
    >>> bumps = np.zeros((512, 512))
    >>> bumps[rng.integers(8, 504, 800), rng.integers(8, 504, 800)] = 1.0
    >>> shadowed = ndimage.gaussian_filter(bumps, 1.5) - ndimage.shift(
    ...     ndimage.gaussian_filter(bumps, 2.5), (0, 4))  # a cap and its shadow, 4 px away
    >>> bool(shadowing_index(shadowed + 0.002 * noise, 1.0) > SHADOWED_INDEX)
    True
    """
    data = np.asarray(image, dtype=np.float32)
    sigma_px = max(1.0 / pixel_size_nm, 0.7)
    lags = [(r / pixel_size_nm, np.deg2rad(a)) for r in _LAGS_NM for a in _ANGLES_DEG]
    margin = int(np.ceil(max(r for r, _ in lags))) + 1
    block = int(round(_BLOCK_NM / pixel_size_nm))
    inner_shape = (data.shape[0] - 2 * margin, data.shape[1] - 2 * margin)
    origins = _block_origins(inner_shape, block) if min(inner_shape) >= block else []
    if len(origins) < 4:
        return 0.0
    # Each block is band-passed on its own with room for the wider Gaussian (4 sd, as
    # ndimage truncates it): as the whole image band-passed, at a cost bounded by _MAX_BLOCKS.
    reach = int(np.ceil(4 * 3.0 * sigma_px))
    size = block + 2 * margin
    values = np.empty((len(origins), len(lags)))
    pairing = np.empty_like(values)  # second moment at the lag: < 0 for pairs of opposite sign
    for i, (r0, c0) in enumerate(origins):
        top, left = max(r0 - reach, 0), max(c0 - reach, 0)
        patch = data[top:r0 + size + reach, left:c0 + size + reach]
        band = (ndimage.gaussian_filter(patch, sigma_px)
                - ndimage.gaussian_filter(patch, 3.0 * sigma_px))
        window = band[r0 - top:r0 - top + size, c0 - left:c0 - left + size]
        window = window - window.mean()
        core = window[margin:-margin, margin:-margin]
        squared = core * core
        scale = float(np.mean(np.abs(core) ** 3)) or 1.0
        power = float(np.mean(squared)) or 1.0
        for j, (r, angle) in enumerate(lags):
            dy, dx = int(round(r * np.sin(angle))), int(round(r * np.cos(angle)))
            ahead = window[margin + dy:margin + dy + block, margin + dx:margin + dx + block]
            behind = window[margin - dy:margin - dy + block, margin - dx:margin - dx + block]
            values[i, j] = float(np.mean(squared * (ahead - behind))) / scale
            pairing[i, j] = float(np.mean(core * ahead)) / power
    mean = values.mean(axis=0)
    sd = values.std(axis=0, ddof=1)
    t = np.abs(mean) / np.maximum(sd / np.sqrt(len(origins)), 1e-12)
    # A cap and its shadow are of opposite sign; a streak trailing a label (detector lag in a
    # scanned image) is asymmetric too, but of the label's own sign: such directions do not count.
    t[pairing.mean(axis=0) >= 0] = 0.0
    return float(np.max(t))
