"""Heatmap to sub-pixel detections: local maxima, threshold, offset refinement."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["find_peaks", "image_threshold", "relative_level", "auto_threshold", "sparse_labels",
           "edge_distance_nm", "passes_threshold", "RELATIVE_THRESHOLD_QUANTILE", "EDGE_NM",
           "EDGE_MAX_WHITE_INDEX"]

#: Percentile of an image's confident peak scores that ``relative_threshold`` multiplies.
RELATIVE_THRESHOLD_QUANTILE = 75.0
#: Peaks centred this close to the image's edge (nm) are not held to a raised threshold...
EDGE_NM = 3.0
#: ... in images whose white-noise index is at most this (a smooth background).
EDGE_MAX_WHITE_INDEX = 2.0


def find_peaks(probability: np.ndarray, offsets: np.ndarray, *, threshold: float,
               min_distance_px: int = 2, max_offset_px: float = 1.5) -> np.ndarray:
    """Find label centres in a heatmap and refine them with the predicted offsets.

    A peak is a pixel whose probability is the maximum of its
    ``(2 * min_distance_px + 1)``-pixel square neighbourhood and at least ``threshold``. Its
    position is the pixel centre plus the predicted offset (clipped to ``max_offset_px``).
    Plateaus (equal neighbouring maxima) give one peak.

    Parameters
    ----------
    probability : ndarray, shape (H, W)
        Heatmap probabilities in [0, 1].
    offsets : ndarray, shape (2, H, W)
        Predicted (dx, dy) in pixels from each pixel centre to the label centre.
    threshold : float
        Minimum probability of a peak.
    min_distance_px : int
        Peaks closer than this (Chebyshev distance, pixels) are suppressed; keep it well below
        the dimer spacing (two labels 1.3 diameters apart must stay two peaks).
    max_offset_px : float
        Offsets are clipped to this magnitude per axis.

    Returns
    -------
    ndarray, shape (N, 3)
        Columns x_px, y_px, score, in the heatmap's pixel frame (x = column, pixel centres at
        integers), sorted by decreasing score. (0, 3) when nothing is found.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.zeros((9, 9)); p[4, 6] = 0.75
    >>> off = np.zeros((2, 9, 9)); off[0, 4, 6] = 0.25
    >>> find_peaks(p, off, threshold=0.5)
    array([[6.25, 4.  , 0.75]])
    """
    probability = np.asarray(probability, dtype=np.float32)
    if probability.ndim != 2:
        raise ValueError(f"probability must be 2-D, got shape {probability.shape}")
    offsets = np.asarray(offsets)
    if offsets.shape != (2,) + probability.shape:
        raise ValueError(f"offsets must have shape (2, H, W) = {(2,) + probability.shape}, got {offsets.shape}")
    size = 2 * max(int(min_distance_px), 0) + 1
    local_max = ndimage.maximum_filter(probability, size=size, mode="constant", cval=-1.0)
    candidates = (probability >= local_max) & (probability >= threshold)
    if not candidates.any():
        return np.zeros((0, 3))
    # One peak per plateau: keep the first pixel of each connected group of equal maxima.
    labels, count = ndimage.label(candidates, structure=np.ones((3, 3), bool))
    rows, cols = np.nonzero(candidates)
    group = labels[rows, cols]
    _, first = np.unique(group, return_index=True)
    rows, cols = rows[first], cols[first]
    score = probability[rows, cols]
    dx = np.clip(offsets[0, rows, cols], -max_offset_px, max_offset_px)
    dy = np.clip(offsets[1, rows, cols], -max_offset_px, max_offset_px)
    out = np.column_stack([cols + dx, rows + dy, score]).astype(np.float64)
    return out[np.argsort(-out[:, 2], kind="stable")]


def image_threshold(scores, *, threshold: float, relative_threshold: float = 0.0,
                    quantile: float = RELATIVE_THRESHOLD_QUANTILE, min_count: int = 5) -> float:
    """The detection threshold for one image, raised where its labels score high.

    In an image whose labels are clearly above the noise, they score near 1, while the best
    noise blobs still reach 0.3-0.4 (the network cannot know how bright this image's labels
    are). A peak scoring less than ``relative_threshold`` times the ``quantile``-th percentile
    of the image's confident scores (those at least ``threshold``) is dropped. The threshold is
    never lowered: in faint images the percentile is low and ``threshold`` holds.

    Parameters
    ----------
    scores : array_like
        Peak scores of the whole image.
    threshold : float
        The base threshold (the checkpoint's calibrated one).
    relative_threshold : float
        Fraction of the percentile; 0 keeps ``threshold``.
    quantile : float
        Percentile (0-100) of the confident scores.
    min_count : int
        With fewer confident peaks than this, ``threshold`` is kept.

    Returns
    -------
    float

    Examples
    --------
    >>> image_threshold([0.98, 0.97, 0.95, 0.99, 0.96, 0.35], threshold=0.3, relative_threshold=0.45)
    0.4398750066757202
    >>> image_threshold([0.5, 0.4, 0.45, 0.42, 0.38, 0.35], threshold=0.3, relative_threshold=0.45)
    0.3
    """
    return float(max(threshold, relative_level(scores, threshold=threshold,
                                               relative_threshold=relative_threshold,
                                               quantile=quantile, min_count=min_count)))


def relative_level(scores, *, threshold: float, relative_threshold: float,
                   quantile: float = RELATIVE_THRESHOLD_QUANTILE, min_count: int = 5) -> float:
    """``relative_threshold`` times the ``quantile``-th percentile of the scores >= ``threshold``.

    0 when ``relative_threshold`` is 0 or fewer than ``min_count`` scores reach ``threshold``.
    :func:`image_threshold` is the larger of this and ``threshold``.
    """
    scores = np.asarray(scores, dtype=np.float32).ravel()
    confident = scores[scores >= threshold]
    if relative_threshold <= 0 or confident.size < max(int(min_count), 1):
        return 0.0
    return float(relative_threshold * np.percentile(confident, quantile))


def sparse_labels(scores, *, area_um2: float, sparse_threshold: dict | None,
                  threshold: float | None = None) -> bool:
    """Whether an image's labels are sparse among its clutter, by ``sparse_threshold``'s rule.

    True where fewer than ``sparse_threshold['below_per_um2']`` peaks per um^2 score at least
    ``sparse_threshold['confident_score']`` (almost only labels score that high) and, where the
    rule has a ``band_min_per_um2``, at least that many peaks per um^2 score between the base
    ``threshold`` and the rule's own: the clutter the higher threshold is there to drop (without
    it, raising the threshold only loses the faintest labels; the condition needs ``threshold``).
    False without a rule or an area.

    Examples
    --------
    >>> rule = {"threshold": 0.5, "below_per_um2": 100.0, "confident_score": 0.6}
    >>> sparse_labels([0.9, 0.8, 0.4, 0.35], area_um2=1.0, sparse_threshold=rule)
    True
    >>> sparse_labels([0.9, 0.8, 0.4, 0.35], area_um2=0.01, sparse_threshold=rule)
    False
    >>> banded = dict(rule, band_min_per_um2=5.0)
    >>> sparse_labels([0.9, 0.8, 0.4, 0.35], area_um2=1.0, sparse_threshold=banded, threshold=0.3)
    False
    >>> sparse_labels([0.9] + [0.4] * 6, area_um2=1.0, sparse_threshold=banded, threshold=0.3)
    True
    """
    if not sparse_threshold or not np.isfinite(area_um2) or area_um2 <= 0:
        return False
    scores = np.asarray(scores, dtype=np.float32).ravel()
    confident = np.count_nonzero(scores >= float(sparse_threshold["confident_score"]))
    if confident / area_um2 >= float(sparse_threshold["below_per_um2"]):
        return False
    band_min = float(sparse_threshold.get("band_min_per_um2", 0.0))
    if band_min > 0 and threshold is not None:
        band = np.count_nonzero((scores >= threshold) & (scores < float(sparse_threshold["threshold"])))
        return bool(band / area_um2 >= band_min)
    return True


def auto_threshold(scores, *, threshold: float, relative_threshold: float = 0.0,
                   white_index: float = float("nan"), area_um2: float = float("nan"),
                   noise_peak_rate: dict | None = None,
                   sparse_threshold: dict | None = None) -> tuple[float, str]:
    """The threshold ``threshold='auto'`` applies to one image, and the rule that set it.

    Where the checkpoint has a ``sparse_threshold`` rule and the image's labels are sparse
    (:func:`sparse_labels`: few peaks score high per um^2), the base threshold is
    ``sparse_threshold['threshold']`` instead: among thousands of membrane particles per um^2
    on a replica, the particles that score like a faint label outnumber sparse gold, while
    where labels are many the lower threshold finds the faint ones at little cost.
    Then :func:`image_threshold` (raised where the labels score high). If it was not raised, the
    image's :func:`~her2net.detect.noise_floor.white_noise_index` is below
    ``WHITE_NOISE_MAX_INDEX`` and the checkpoint has a ``noise_peak_rate``, the threshold is
    lowered to :func:`~her2net.detect.noise_floor.noise_limited_threshold`, but not below
    :func:`relative_level`.

    Parameters
    ----------
    scores : array_like
        Peak scores of the whole image, down to the lowest threshold of ``noise_peak_rate``
        where the image may be lowered.
    threshold, relative_threshold : float
        The checkpoint's calibrated threshold and relative threshold.
    white_index : float
        The image's white-noise index (NaN: unknown, never lowered).
    area_um2 : float
        The image's area.
    noise_peak_rate : dict, optional
        ``thresholds`` and ``rate_per_um2`` of the checkpoint.
    sparse_threshold : dict, optional
        ``threshold``, ``below_per_um2``, ``confident_score`` and optionally
        ``band_min_per_um2`` of the checkpoint (:func:`sparse_labels`).

    Returns
    -------
    threshold : float
    rule : {'raised', 'sparse', 'noise-limited', 'calibrated'}
    """
    from her2net.detect.noise_floor import WHITE_NOISE_MAX_INDEX, noise_limited_threshold

    sparse = sparse_labels(scores, area_um2=area_um2, sparse_threshold=sparse_threshold,
                           threshold=threshold)
    if sparse:
        threshold = max(float(threshold), float(sparse_threshold["threshold"]))
    raised = image_threshold(scores, threshold=threshold, relative_threshold=relative_threshold)
    if raised > threshold:
        return raised, "raised"
    if sparse:
        return float(threshold), "sparse"
    if noise_peak_rate and white_index < WHITE_NOISE_MAX_INDEX:
        lowered = noise_limited_threshold(scores, area_um2=area_um2,
                                          thresholds=noise_peak_rate["thresholds"],
                                          noise_peak_rate_per_um2=noise_peak_rate["rate_per_um2"])
        if lowered is not None:
            # The relative raise still holds where it is above the lowered threshold: a faint
            # image whose labels score 0.5-0.6 keeps its noise peaks out.
            lowered = max(lowered, relative_level(scores, threshold=threshold,
                                                  relative_threshold=relative_threshold))
            if lowered < threshold:
                return float(lowered), "noise-limited"
    return float(threshold), "calibrated"


def edge_distance_nm(points_px, shape, *, pixel_size_nm: float) -> np.ndarray:
    """Distance (nm) from each point to the nearest edge of an image of ``shape``.

    The image covers -0.5 to ``width - 0.5`` in x_px (pixel centres at integers), likewise in y.

    Examples
    --------
    >>> edge_distance_nm(np.array([[0.0, 5.0], [9.0, 4.0]]), (10, 10), pixel_size_nm=2.0)
    array([1., 1.])
    """
    points = np.asarray(points_px, dtype=float).reshape(-1, 2)
    height, width = shape
    return np.minimum.reduce([points[:, 0] + 0.5, points[:, 1] + 0.5, width - 0.5 - points[:, 0],
                              height - 0.5 - points[:, 1]]) * pixel_size_nm


def passes_threshold(scores, edge_nm, *, image_threshold: float, threshold: float,
                     white_index: float = float("nan")) -> np.ndarray:
    """Which peaks an image keeps: at or above its threshold, edge peaks against the lower one.

    A label centred within :data:`EDGE_NM` of the image's edge is partly outside it, and the
    network, seeing part of the disc, scores it lower: on the second simulator's images at the
    standard dose such labels scored 0.42 (median) against 0.82 inside. Where an image's
    threshold was raised (:func:`image_threshold`) they were lost, while no noise peak above
    the calibrated threshold lay that close to the edge. So, in images whose background is close
    to white noise (``white_index`` at most :data:`EDGE_MAX_WHITE_INDEX`), peaks within
    :data:`EDGE_NM` of the edge are held to the smaller of ``image_threshold`` and ``threshold``
    (the calibrated one): the raise, a guard against noise blobs in images whose labels score
    high, does not apply to labels it cannot see whole. Among clutter (cells in liquid: index
    2-12) clutter peaks at the edge would pass too, so there, as with a lowered or given
    threshold, one threshold applies everywhere.

    Parameters
    ----------
    scores : array_like, shape (N,)
        Peak scores.
    edge_nm : array_like, shape (N,)
        Each peak's distance to the image's edge (:func:`edge_distance_nm`).
    image_threshold : float
        The image's threshold (:func:`auto_threshold`, or the given one).
    threshold : float
        The calibrated threshold it was raised from.
    white_index : float
        The image's :func:`~her2net.detect.noise_floor.white_noise_index` (NaN: unknown, no
        exemption).

    Returns
    -------
    ndarray of bool, shape (N,)

    Examples
    --------
    >>> passes_threshold([0.9, 0.4, 0.4], [50.0, 50.0, 1.0], image_threshold=0.5, threshold=0.3,
    ...                  white_index=1.1)
    array([ True, False,  True])
    """
    scores = np.asarray(scores, dtype=float)
    edge_nm = np.asarray(edge_nm, dtype=float)
    if not white_index <= EDGE_MAX_WHITE_INDEX:  # NaN too
        return scores >= image_threshold
    bar = np.where(edge_nm <= EDGE_NM, min(image_threshold, threshold), image_threshold)
    return scores >= bar
