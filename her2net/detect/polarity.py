"""``--polarity auto``: are the labels brighter or darker than the background?

The network is asked first: up to three 256-px crops at the native pixel size (with 32 px of
context) are run in both polarities and the one with the larger sum of confident peak scores wins
by a factor of 1.5. Sparse labels can miss all three crops (less evidence than about 15
confident peaks); then a grid of crops over the whole
image (at most 16) is asked the same question. When neither polarity gives a clear answer (an
empty field, or an untrained network), a robust skewness of a band-passed image decides: compact
labels make a long tail on their own side of the intensity distribution.

A metal-shadowed replica (``shadowed``: :func:`her2net.detect.shadowing.shadowing_index` and a
textured background) is taken to have dark labels, as a replica is recorded in bright field
(metal and gold dark, the shadows bright): where its gold is sparse, the bright Pt shadows behind
hundreds of membrane particles outweigh the gold for the network, shown the image un-inverted.
A reversed print (shadows dark, gold white) needs ``polarity='bright'``.

Over a run of images (``her2net detect`` on a folder or a manifest), images whose own evidence is
not clear take the run's polarity (:func:`run_polarity`): the network's evidence pooled over all
images, when the images that decided clearly on their own agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from her2net.detect.postprocess import find_peaks
from her2net.detect.tiling import reflect_window
from her2net.errors import InputError

__all__ = ["PolarityDecision", "decide_polarity", "check_polarity", "run_polarity", "POLARITIES"]

logger = logging.getLogger(__name__)

POLARITIES = ("auto", "bright", "dark")
_CROP_PX = 256
_MAX_CROPS = 3
_MAX_GRID_CROPS = 16  # second look, when the first crops do not decide
_CONTEXT_PX = 32  # context around each crop: enough to decide, cheaper than half the field
_CLEAR_RATIO = 1.5
_FIRST_LOOK_EVIDENCE = 10.0  # summed score above threshold the first crops need (about 15
# confident peaks): the Pt shadows of a replica without gold in those crops can pass 1


@dataclass(frozen=True)
class PolarityDecision:
    """The polarity chosen for an image and why.

    Attributes
    ----------
    polarity : {'bright', 'dark'}
    method : {'given', 'network', 'skewness', 'run', 'shadowing'}
        'run': the image's own evidence was not clear and the run's pooled evidence decided
        (:func:`run_polarity`); 'shadowing': a metal-shadowed replica, dark labels.
    score_bright, score_dark : float
        Evidence for each polarity: summed peak scores above threshold for 'network', the
        band-passed tail asymmetry for 'skewness', the network's evidence summed over the run's
        images for 'run'.
    network_bright, network_dark : float
        The network's evidence in this image (its last look), whatever decided; NaN without a
        network.
    """

    polarity: str
    method: str
    score_bright: float = float("nan")
    score_dark: float = float("nan")
    network_bright: float = float("nan")
    network_dark: float = float("nan")

    @property
    def confident(self) -> bool:
        """Given, a shadowed replica, or called by the network on evidence of about 15 confident
        peaks or more."""
        if self.method in ("given", "shadowing"):
            return True
        return (self.method == "network"
                and max(self.score_bright, self.score_dark) >= _FIRST_LOOK_EVIDENCE)

    def describe(self) -> str:
        if self.method == "given":
            return f"polarity {self.polarity} (given)"
        if self.method == "shadowing":
            return (f"polarity {self.polarity} (auto, by shadowing: a metal-shadowed replica, "
                    "recorded in bright field; the network alone: bright "
                    f"{self.network_bright:.3g} vs dark {self.network_dark:.3g}; give --polarity "
                    "bright for a reversed print)")
        if self.method == "run":
            return (f"polarity {self.polarity} (auto, by the run: its network evidence bright "
                    f"{self.score_bright:.3g} vs dark {self.score_dark:.3g}; this image's own, "
                    f"bright {self.network_bright:.3g} vs dark {self.network_dark:.3g}, was not "
                    "clear)")
        return (f"polarity {self.polarity} (auto, by {self.method}: bright {self.score_bright:.3g}"
                f" vs dark {self.score_dark:.3g})")


def check_polarity(polarity: str) -> str:
    """Return ``polarity`` if valid, else raise :class:`InputError`."""
    if polarity not in POLARITIES:
        raise InputError(f"--polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    return polarity


def _crop_origins(shape, crop_px, *, grid: bool = False):
    """Top-left corners of the crops and the crop shape.

    By default up to three crops: the centre and two opposite quadrant centres. With ``grid``, a
    regular grid of crops covering the image (the grid is thinned to at most ``_MAX_GRID_CROPS``).
    """
    height, width = shape
    ch, cw = min(crop_px, height), min(crop_px, width)
    if grid:
        rows = np.linspace(0, height - ch, max(1, int(np.ceil(height / ch)))).round().astype(int)
        cols = np.linspace(0, width - cw, max(1, int(np.ceil(width / cw)))).round().astype(int)
        origins = [(int(r0), int(c0)) for r0 in rows for c0 in cols]
        if len(origins) > _MAX_GRID_CROPS:
            pick = np.linspace(0, len(origins) - 1, _MAX_GRID_CROPS).round().astype(int)
            origins = [origins[i] for i in pick]
        return origins, (ch, cw)
    centres = [(height / 2, width / 2)]
    if height >= 2 * ch and width >= 2 * cw:
        centres += [(height * 0.25, width * 0.25), (height * 0.75, width * 0.75)]
    origins = []
    for cy, cx in centres[:_MAX_CROPS]:
        r0 = int(np.clip(round(cy - ch / 2), 0, height - ch))
        c0 = int(np.clip(round(cx - cw / 2), 0, width - cw))
        origins.append((r0, c0))
    return origins, (ch, cw)


def _network_scores(native_bright: np.ndarray, runner, origins, crop_shape, *, threshold: float,
                    min_distance_px: int) -> tuple[float, float]:
    """Summed (score - threshold) of peaks over crops, for labels bright and for labels dark.

    ``native_bright`` is the image normalised as 'bright'; '1 - image' is its 'dark' version up
    to the percentile mapping, which is what the network sees after normalisation. ``origins``
    and ``crop_shape`` come from :func:`_crop_origins`.
    """
    multiple = runner.size_multiple
    ch, cw = crop_shape
    pad = _CONTEXT_PX
    windows = []
    for r0, c0 in origins:
        rows = (r0 - pad, r0 - pad + _round_up(ch + 2 * pad, multiple))
        cols = (c0 - pad, c0 - pad + _round_up(cw + 2 * pad, multiple))
        windows.append(reflect_window(native_bright, rows, cols))
    batch = np.stack(windows)
    # Dark normalisation maps p_low..p_high of the inverted image to 0..1: 1 - bright mapping
    # with the percentiles mirrored; close enough to decide which side the labels are on.
    scores = []
    for data in (batch, 1.0 - batch):
        total = 0.0
        maps = (m for start in range(0, len(data), _MAX_CROPS)
                for m in runner(data[start:start + _MAX_CROPS]))
        for m in maps:
            core = m[:, pad:pad + ch, pad:pad + cw]
            peaks = find_peaks(core[0], core[1:], threshold=threshold, min_distance_px=min_distance_px)
            total += float(np.sum(peaks[:, 2] - threshold)) if len(peaks) else 0.0
        scores.append(total)
    return scores[0], scores[1]


def _round_up(value, multiple):
    return int(-(-value // multiple) * multiple)


def _skewness_scores(native: np.ndarray, *, label_sigma_px: float = 2.0) -> tuple[float, float]:
    """Upper and lower tail lengths of a difference-of-Gaussians band-pass of ``native``."""
    step = max(1, int(np.ceil(np.sqrt(native.size / 4e6))))
    sample = np.asarray(native[::step, ::step], dtype=np.float32)
    sigma = max(label_sigma_px / step, 0.7)
    band = ndimage.gaussian_filter(sample, sigma) - ndimage.gaussian_filter(sample, 4 * sigma)
    low, median, high = np.percentile(band, (0.1, 50, 99.9))
    return float(high - median), float(median - low)


def decide_polarity(native: np.ndarray, *, polarity: str = "auto", runner=None,
                    threshold: float = 0.5, min_distance_px: int = 2,
                    normalized_bright: np.ndarray | None = None,
                    shadowed: bool = False) -> PolarityDecision:
    """Choose 'bright' or 'dark' labels for an image at the network's native pixel size.

    Parameters
    ----------
    native : ndarray, shape (H, W)
        The image at the model's native pixel size (raw values, any gain and offset).
    polarity : {'auto', 'bright', 'dark'}
        Anything but 'auto' is returned as given.
    runner : her2net.detect.inference.Runner, optional
        The network; without it only the skewness is used.
    threshold : float
        Detection threshold used to count confident peaks.
    min_distance_px : int
        Minimum peak distance in native pixels.
    normalized_bright : ndarray, optional
        ``normalize_image(native, polarity='bright')`` when the caller already has it.
    shadowed : bool
        The image is a metal-shadowed replica on a textured background (``her2net.detect.api``
        decides: :func:`her2net.detect.shadowing.shadowing_index` >= ``SHADOWED_INDEX`` and a
        white-noise index >= ``REPLICA_WHITE_INDEX``): with 'auto' its labels are dark (method
        'shadowing'); the network's evidence is still measured and kept.

    Returns
    -------
    PolarityDecision
    """
    check_polarity(polarity)
    if polarity != "auto":
        return PolarityDecision(polarity, "given")
    if shadowed:
        network = decide_polarity(native, runner=runner, threshold=threshold,
                                  min_distance_px=min_distance_px,
                                  normalized_bright=normalized_bright)
        return PolarityDecision("dark", "shadowing", network.network_bright,
                                network.network_dark, network.network_bright,
                                network.network_dark)
    if runner is not None:
        from her2net.model.preprocess import normalize_image

        if normalized_bright is None:
            normalized_bright = normalize_image(native, polarity="bright")
        multiple = runner.size_multiple
        crop = max(multiple, _CROP_PX // multiple * multiple)
        first, crop_shape = _crop_origins(native.shape, crop)
        grid, _ = _crop_origins(native.shape, crop, grid=True)
        for origins in (first, grid):
            if origins is grid and set(grid) <= set(first):
                break  # the first crops already covered the image
            bright, dark = _network_scores(normalized_bright, runner, origins, crop_shape,
                                           threshold=threshold, min_distance_px=min_distance_px)
            needed = _FIRST_LOOK_EVIDENCE if origins is first and grid != first else 0.0
            if max(bright, dark) > needed and max(bright, dark) >= _CLEAR_RATIO * min(bright, dark):
                return PolarityDecision("bright" if bright >= dark else "dark", "network", bright,
                                        dark, bright, dark)
    else:
        bright = dark = float("nan")
    up, down = _skewness_scores(native)
    return PolarityDecision("bright" if up >= down else "dark", "skewness", up, down, bright, dark)


def run_polarity(decisions) -> PolarityDecision | None:
    """The polarity a run of images shares, for the images whose own evidence is not clear.

    The network's evidence (``network_bright``, ``network_dark``) is summed over every image of
    the run decided with ``polarity='auto'``, the shadowed replicas' (method 'shadowing') left
    out; the run has a polarity when that sum holds about 15 confident peaks or more, is 1.5x
    larger on one side, and no image that decided clearly on its own
    (:attr:`PolarityDecision.confident`) says otherwise. A run that mixes clear
    bright and clear dark images (ADF STEM and bright-field TEM in one folder) has none.

    Parameters
    ----------
    decisions : iterable of PolarityDecision
        One per image of the run.

    Returns
    -------
    PolarityDecision or None
        Method 'run', with the summed evidence as ``score_bright`` and ``score_dark``; None when
        the run has no clear polarity.
    """
    auto = [d for d in decisions if d.method != "given"]
    clear = {d.polarity for d in auto if d.confident}
    # The network's evidence on shadowed replicas is what the shadowing rule overrules.
    pooled = [d for d in auto if d.method != "shadowing"]
    bright = float(np.nansum([d.network_bright for d in pooled])) if pooled else 0.0
    dark = float(np.nansum([d.network_dark for d in pooled])) if pooled else 0.0
    if len(clear) > 1 or max(bright, dark) < _FIRST_LOOK_EVIDENCE:
        return None
    if max(bright, dark) < _CLEAR_RATIO * min(bright, dark):
        return None
    polarity = "bright" if bright > dark else "dark"
    if clear and polarity not in clear:
        return None
    return PolarityDecision(polarity, "run", bright, dark)
