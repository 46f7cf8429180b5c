"""Detectors compared with her2net, behind one interface, and the calibration protocol.

Every method sees the same input: the raw simulated image and its pixel size and polarity (what a
user knows). Classical peers get the image with labels made bright and scaled to units of its
pixel noise (:func:`_normalized`), and their size parameters are given in nm and converted to
pixels per image, so that one frozen parameter set can serve every image of a kind:

* ``trackpy``: ``trackpy.locate(image, diameter, minmass, separation)``; free: ``diameter_nm``,
  ``separation`` (trackpy's default ``diameter + 1`` or half of it) and ``minmass``, thresholded
  on the mass (in noise units) times the pixel size in nm (at a fixed matched-filter SNR the mass
  of a label in noise units scales as 1 / pixel size). Score: that product.
* ``blob_log``: ``skimage.feature.blob_log(image, min_sigma, max_sigma, num_sigma=5,
  threshold)``; free: the sigma range in nm and ``threshold`` (on the scale-normalised LoG, which
  does not depend on the pixel size). Score: the scale-normalised LoG response at the blob.
* ``matched_filter``: a reference rather than a tool users pick: the image correlated with a
  Gaussian spot (the detector that is optimal for isolated Gaussian spots in white noise), minus a
  local background (median over 6 spot widths), in units of the filtered noise; local maxima above
  a threshold. Free: the Gaussian sd in nm and the threshold. Score: the filtered value.
* ``her2net``: :func:`her2net.detect.detect` with the shipped checkpoint and
  ``threshold='auto'`` (its calibrated threshold: nothing tuned here).

Calibration (:func:`calibrate`), the same for each peer: for each size setting, run the peer with a
permissive threshold on the calibration set, sweep the score threshold (exact re-matching at each)
and keep the best F1; freeze the best size setting and threshold; where the threshold acts inside
the method (blob_log prunes overlapping blobs before thresholding) re-run it at thresholds from
0.5x to 2x the swept best and keep the best exact F1. Test sets are never seen during calibration.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from benchmarks.common import Sample, score, to_detections_frame

__all__ = ["Trackpy", "BlobLog", "MatchedFilter", "Her2net", "calibrate", "detect_set", "PEERS"]

logger = logging.getLogger(__name__)


def _normalized(sample: Sample) -> np.ndarray:
    """The image in units of its pixel noise, labels bright, background median at 0.

    The noise sd is estimated from differences of horizontally adjacent pixels (robust MAD), so
    that thresholds mean the same on every image whatever its gain, offset, background gradient
    or dose.
    """
    image = np.asarray(sample.image, dtype=np.float64)
    if sample.polarity == "dark":
        image = -image
    diff = np.diff(image, axis=1).ravel()
    noise = 1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0)
    if not noise > 0:
        noise = float(np.std(image)) or 1.0
    return ((image - np.median(image)) / noise).astype(np.float32)


class Trackpy:
    """``trackpy.locate`` with sizes in nm."""

    name = "trackpy"
    size_grid = tuple({"diameter_nm": d, "separation": s}
                      for d in (7.0, 11.0) for s in ("default", "half"))
    threshold_acts_inside = False

    @staticmethod
    def _diameter_px(diameter_nm: float, pixel_size_nm: float) -> int:
        d = max(3, int(round(diameter_nm / pixel_size_nm)))
        return d if d % 2 == 1 else d + 1

    def detect(self, sample: Sample, params: dict, *, image=None):
        """(xy_px (N, 2), score (N,)) with ``params['threshold']`` (None: keep all)."""
        import trackpy

        trackpy.quiet()
        image = _normalized(sample) if image is None else image
        px = sample.pixel_size_nm
        diameter = self._diameter_px(params["diameter_nm"], px)
        separation = None if params["separation"] == "default" else max(1.0, diameter / 2)
        threshold = params.get("threshold")
        minmass = None if threshold is None else threshold / px
        found = trackpy.locate(image, diameter, minmass=minmass, separation=separation,
                               characterize=False, engine="auto")
        xy = found[["x", "y"]].to_numpy(float) if len(found) else np.zeros((0, 2))
        mass = found["mass"].to_numpy(float) * px if len(found) else np.zeros(0)
        return xy, mass


class BlobLog:
    """``skimage.feature.blob_log`` with sigmas in nm."""

    name = "blob_log"
    size_grid = tuple({"min_sigma_nm": lo, "max_sigma_nm": hi}
                      for lo, hi in ((1.5, 5.0), (2.5, 7.0)))
    threshold_acts_inside = True
    permissive_threshold = 0.5

    def detect(self, sample: Sample, params: dict, *, image=None):
        from scipy.ndimage import gaussian_laplace
        from skimage.feature import blob_log

        image = _normalized(sample) if image is None else image
        px = sample.pixel_size_nm
        lo = max(0.5, params["min_sigma_nm"] / px)
        hi = max(lo * 1.01, params["max_sigma_nm"] / px)
        threshold = params.get("threshold")
        threshold = self.permissive_threshold if threshold is None else threshold
        blobs = blob_log(image, min_sigma=lo, max_sigma=hi, num_sigma=5, threshold=threshold,
                         exclude_border=False)
        if len(blobs) == 0:
            return np.zeros((0, 2)), np.zeros(0)
        rows, cols, sigmas = blobs[:, 0].astype(int), blobs[:, 1].astype(int), blobs[:, 2]
        response = np.zeros(len(blobs))
        for sigma in np.unique(sigmas):
            sel = sigmas == sigma
            log = -gaussian_laplace(image.astype(np.float64), sigma) * sigma**2
            response[sel] = log[rows[sel], cols[sel]]
        return blobs[:, [1, 0]].astype(float), response


class MatchedFilter:
    """Correlation with a Gaussian spot of sd in nm, background-subtracted, in noise units."""

    name = "matched_filter"
    size_grid = tuple({"sigma_nm": s} for s in (2.0, 3.0, 4.0, 5.5))
    threshold_acts_inside = False

    def detect(self, sample: Sample, params: dict, *, image=None):
        from scipy import ndimage
        from skimage.feature import peak_local_max

        image = _normalized(sample) if image is None else image
        sigma = max(0.5, params["sigma_nm"] / sample.pixel_size_nm)
        width = max(3, int(round(6 * sigma)))
        background = ndimage.uniform_filter(ndimage.median_filter(image, size=width), width)
        # Gaussian smoothing is the correlation with a unit-sum Gaussian: white noise of sd 1
        # becomes noise of sd 1 / (2 sqrt(pi) sigma).
        z = ndimage.gaussian_filter(image - background, sigma) * (2 * np.sqrt(np.pi) * sigma)
        threshold = params.get("threshold")
        peaks = peak_local_max(z, min_distance=max(1, int(sigma)), exclude_border=False,
                               threshold_abs=2.0 if threshold is None else threshold)
        return peaks[:, ::-1].astype(float), z[peaks[:, 0], peaks[:, 1]].astype(float)


class Her2net:
    """her2net's own detector with its calibrated threshold (no tuning here)."""

    name = "her2net"
    size_grid = ({},)
    threshold_acts_inside = True

    def __init__(self, *, device: str = "cpu", checkpoint=None):
        from her2net.detect.api import resolve_model

        # None: her2net-v1.pt alone; 'auto': both shipped checkpoints, routed per image as
        # `her2net detect` does without --checkpoint.
        self.model = resolve_model("default" if checkpoint is None else str(checkpoint),
                                   device=device)

    def detect(self, sample: Sample, params: dict, *, image=None):
        from her2net.detect import detect

        found = detect(sample.image, pixel_size_nm=sample.pixel_size_nm, model=self.model,
                       polarity=sample.polarity, threshold=params.get("threshold", "auto"))
        return found[["x_px", "y_px"]].to_numpy(float), found["score"].to_numpy(float)


PEERS = {"trackpy": Trackpy, "blob_log": BlobLog, "matched_filter": MatchedFilter}


def detect_set(method, samples, params: dict, *, images=None) -> pd.DataFrame:
    """Run ``method`` with ``params`` on every sample; one detections frame."""
    frames = []
    for k, sample in enumerate(samples):
        xy, s = method.detect(sample, params, image=None if images is None else images[k])
        frames.append(to_detections_frame(sample, xy, s))
    return pd.concat(frames, ignore_index=True)


def calibrate(method, samples) -> tuple[dict, float]:
    """Tune ``method``'s free parameters on ``samples``; return (frozen params, calibration F1)."""
    images = [_normalized(s) for s in samples]
    best = (None, -1.0)
    for size in method.size_grid:
        dets = detect_set(method, samples, size, images=images)
        if dets.empty:
            continue
        ev = score(dets, samples, n_thresholds=60)
        f1, threshold = ev.summary["best_f1"], ev.summary["best_threshold"]
        logger.debug("%s %s: best F1 %.4f at %.4g", method.name, size, f1, threshold)
        if f1 > best[1]:
            best = ({**size, "threshold": threshold}, f1)
    params, f1 = best
    if params is None:
        raise RuntimeError(f"{method.name}: found nothing on the calibration set")
    if method.threshold_acts_inside:
        f1 = score(detect_set(method, samples, params, images=images), samples,
                   n_thresholds=2).summary["f1"]
        for factor in (0.5, 0.75, 1.4, 2.0):
            trial = {**params, "threshold": params["threshold"] * factor}
            ev = score(detect_set(method, samples, trial, images=images), samples, n_thresholds=2)
            if ev.summary["f1"] > f1:
                params, f1 = trial, ev.summary["f1"]
    return params, float(f1)
