"""``her2net.detect``: label detections of one micrograph as a DataFrame."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError

__all__ = ["detect", "detect_image", "resolve_model", "resolve_threshold", "threshold_rule",
           "DETECTION_COLUMNS"]

logger = logging.getLogger(__name__)

DETECTION_COLUMNS = ("image", "x_px", "y_px", "x_nm", "y_nm", "score", "diameter_nm", "intensity")

_MODELS: dict = {}


def resolve_model(model=None, *, device: str = "auto"):
    """A :class:`her2net.model.Her2netModel` from None, a path, the name of a shipped checkpoint
    ('default', 'replicas'), or a model.

    None (or 'auto') gives the default shipped checkpoint with the replica specialist beside it
    (``replica_model``), which :func:`detect_image` routes images between
    (:mod:`her2net.detect.routing`); a name or path gives that checkpoint alone. Loaded
    checkpoints are cached by (path, device).
    """
    from her2net.detect.inference import resolve_device
    from her2net.model import Her2netModel, checkpoint_path, load_model

    if isinstance(model, Her2netModel):
        return model
    if model is not None and not isinstance(model, (str, Path)):
        raise InputError(f"model must be None, a checkpoint path or a Her2netModel, got {type(model).__name__}")
    device = resolve_device(device)
    if model == "auto":
        model = None
    key = ("routed" if model is None else str(checkpoint_path(model).resolve()), device)
    if key not in _MODELS:
        if model is None:
            from dataclasses import replace

            default = resolve_model("default", device=device)
            specialist = (resolve_model("replicas", device=device)
                          if checkpoint_path("replicas").is_file() else None)
            if specialist is not None and specialist.pixel_size_nm != default.pixel_size_nm:
                specialist = None  # routing happens after the image is rescaled for the default
            _MODELS[key] = replace(default, replica_model=specialist)
        else:
            _MODELS[key] = load_model(model, device=device)
    return _MODELS[key]


def resolve_threshold(threshold, model) -> float:
    """'auto' -> the checkpoint's calibrated threshold; else a probability in (0, 1)."""
    if isinstance(threshold, str):
        if threshold == "auto":
            return float(model.threshold)
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(f"--threshold must be 'auto' or a number in (0, 1), got {threshold!r}") from None
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise InputError(f"--threshold must be in (0, 1) (a heatmap probability), got {threshold:g}")
    return threshold


def threshold_rule(threshold, model) -> tuple[float, float]:
    """(base threshold, relative threshold) for ``threshold`` 'auto' or a number.

    'auto' is the checkpoint's calibrated threshold, raised per image by its relative threshold
    (:func:`her2net.detect.postprocess.image_threshold`); a number is used as it is, in every
    image.
    """
    base = resolve_threshold(threshold, model)
    auto = isinstance(threshold, str) and threshold == "auto"
    return base, (float(getattr(model, "relative_threshold", 0.0)) if auto else 0.0)


def _as_image(image_or_array, pixel_size_nm, image_name):
    """(data float32 2-D, pixel size or None, name) from a path, a MicrographImage or an array."""
    from her2net.io import MicrographImage, check_pixel_size_nm, read_image

    if isinstance(image_or_array, (str, Path)):
        img = read_image(image_or_array, pixel_size_nm=pixel_size_nm)
        return img.data, img.pixel_size_nm, image_name or str(image_or_array)
    if isinstance(image_or_array, MicrographImage):
        size = image_or_array.pixel_size_nm
        if pixel_size_nm is not None:
            size = check_pixel_size_nm(pixel_size_nm)
        name = image_name or (str(image_or_array.path) if image_or_array.path else "array")
        return image_or_array.data, size, name
    name = image_name or "array"
    data = np.asarray(image_or_array)
    if data.ndim != 2 or not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise InputError(f"{name}: expected a 2-D numeric image, got shape {data.shape} dtype {data.dtype}")
    if np.iscomplexobj(data):
        raise InputError(f"{name}: complex-valued data is not a micrograph")
    if min(data.shape) < 8:
        raise InputError(f"{name}: image of shape {data.shape} is too small (at least 8x8 pixels)")
    data = np.asarray(data, dtype=np.float32)
    finite = np.isfinite(data)
    if not finite.all():
        if not finite.any():
            raise InputError(f"{name}: all pixels are NaN or infinite")
        data = np.where(finite, data, np.float32(np.median(data[finite])))
    if float(data.min()) == float(data.max()):
        raise InputError(f"{name}: image is constant: nothing to detect")
    size = check_pixel_size_nm(pixel_size_nm) if pixel_size_nm is not None else None
    return data, size, name


def detect_image(image_or_array, *, pixel_size_nm: float | None = None, model=None,
                 polarity: str = "auto", threshold="auto", tile_px: int | None = None,
                 device: str = "auto", batch_size: int | None = None, precision: str = "auto",
                 image_name: str | None = None, refine: bool = True) -> tuple[pd.DataFrame, dict]:
    """Like :func:`detect`, also returning what was decided (polarity, threshold, timings).

    ``polarity`` may also be a :class:`her2net.detect.polarity.PolarityDecision` made elsewhere
    (:func:`her2net.detect.batch.detect_batch` passes the run's polarity that way).
    """
    from her2net.detect.inference import detect_peaks_tiled, get_runner
    from her2net.detect.measure import measure_labels, moment_diameter_nm
    from her2net.detect.noise_floor import white_noise_index
    from her2net.detect.polarity import PolarityDecision, check_polarity, decide_polarity
    from her2net.detect.postprocess import (EDGE_NM, auto_threshold, edge_distance_nm,
                                            image_threshold, passes_threshold)
    from her2net.detect.refine import background_fit_weight, refine_centres
    from her2net.detect.routing import REPLICA_WHITE_INDEX, route_model
    from her2net.detect.shadowing import SHADOWED_INDEX, shadowing_index
    from her2net.detect.spikes import remove_spikes
    from her2net.model.preprocess import normalize_image, points_to_input_frame, resample_image

    decided = polarity if isinstance(polarity, PolarityDecision) else None
    if decided is not None:
        polarity = decided.polarity
    check_polarity(polarity)
    started = time.perf_counter()
    data, size_nm, name = _as_image(image_or_array, pixel_size_nm, image_name)
    if size_nm is None:
        raise InputError(
            f"{name}: pixel size unknown (the file does not store it); give it with "
            "--pixel-size NM (pixel_size_nm=... in Python) or a manifest's pixel_size_nm column"
        )
    data, n_spikes = remove_spikes(data)
    if n_spikes:
        logger.info("%s: %d isolated hot pixels replaced by their neighbours' mean", name, n_spikes)
    model = resolve_model(model, device=device)
    thr, relative = threshold_rule(threshold, model)
    runner = get_runner(model.net, device=device, precision=precision)
    min_distance = int(getattr(model, "min_distance_px", 2))
    scale = size_nm / float(model.pixel_size_nm)
    native = resample_image(data, scale=scale)
    native_shape = native.shape

    normalized = None
    shadow_index = shadow_white_index = float("nan")
    if decided is not None:
        decision = decided
    elif polarity == "auto":
        bright = normalize_image(native, polarity="bright")
        # A metal-shadowed replica with a textured background: recorded in bright field, its
        # labels are dark whatever the network makes of the bright Pt shadows (step 2a).
        shadow_index = shadowing_index(data, size_nm)
        if shadow_index >= SHADOWED_INDEX:
            shadow_white_index = white_noise_index(data, size_nm)
        decision = decide_polarity(native, polarity="auto", runner=runner, threshold=thr,
                                   min_distance_px=min_distance, normalized_bright=bright,
                                   shadowed=bool(shadow_index >= SHADOWED_INDEX
                                                 and shadow_white_index >= REPLICA_WHITE_INDEX))
        if decision.polarity == "bright":
            normalized = bright
        del bright
    else:
        decision = decide_polarity(native, polarity=polarity)
    logger.info("%s: %s", name, decision.describe())
    white_index = float("nan")
    if decision.polarity == "dark" and getattr(model, "replica_model", None) is not None:
        white_index = (shadow_white_index if math.isfinite(shadow_white_index)
                       else white_noise_index(data, size_nm))
    routed, route = route_model(model, polarity=decision.polarity, white_index=white_index)
    if routed is not model:  # the specialist: its own network and threshold
        logger.info("%s: %s", name, route)
        model = routed
        thr, relative = threshold_rule(threshold, model)
        runner = get_runner(model.net, device=device, precision=precision)
        min_distance = int(getattr(model, "min_distance_px", 2))
    if normalized is None:
        normalized = normalize_image(native, polarity=decision.polarity)
    del native
    null = getattr(model, "noise_peak_rate", None) if threshold == "auto" else None
    floor = min(thr, min(null["thresholds"])) if null else thr  # the lowest it may go
    peaks = detect_peaks_tiled(normalized, runner, threshold=floor, min_distance_px=min_distance,
                               tile_px=tile_px, batch_size=batch_size)
    del normalized
    points = points_to_input_frame(peaks[:, :2], data.shape, native_shape)
    edge_nm = edge_distance_nm(points, data.shape, pixel_size_nm=size_nm)
    # The white-noise index decides how far the threshold may be lowered (only where it was not
    # raised), whether peaks at the edge are held to a raised threshold, and how much the
    # Gaussian fit is trusted (only where there is something to refine).
    raised = image_threshold(peaks[:, 2], threshold=thr, relative_threshold=relative) > thr
    may_lower = bool(null) and not raised
    edge_peaks = raised and bool(np.any(edge_nm <= EDGE_NM))  # raised only with 'auto'
    if (may_lower or edge_peaks or (refine and len(peaks))) and not math.isfinite(white_index):
        white_index = white_noise_index(data, size_nm)
    if threshold == "auto":
        image_thr, rule = auto_threshold(peaks[:, 2], threshold=thr, relative_threshold=relative,
                                         white_index=white_index,
                                         area_um2=data.size * size_nm * size_nm / 1e6,
                                         noise_peak_rate=null,
                                         sparse_threshold=getattr(model, "sparse_threshold", None))
    else:
        image_thr, rule = thr, "given"
    if rule == "noise-limited":
        logger.info("%s: threshold lowered to %.3f (background is white noise: index %.2f)", name,
                    image_thr, white_index)
    elif rule == "sparse":
        band = model.sparse_threshold.get("band_min_per_um2")
        logger.info("%s: threshold %.3f: labels sparse among clutter (under %g per um^2 score "
                    "%g or more%s)", name, image_thr, model.sparse_threshold["below_per_um2"],
                    model.sparse_threshold["confident_score"],
                    f", {band:g} per um^2 or more score {thr:g}-{image_thr:g}" if band else "")
    keep = passes_threshold(peaks[:, 2], edge_nm, image_threshold=image_thr, threshold=thr,
                            white_index=white_index)
    points, peaks = points[keep], peaks[keep]
    height, width = data.shape
    # A label belongs to the image when its centre lies inside it; peaks at the border of labels
    # centred just outside (their tails are visible) are dropped, not clipped onto the border.
    def inside(xy):
        return ((xy[:, 0] >= -0.5) & (xy[:, 0] < width - 0.5)
                & (xy[:, 1] >= -0.5) & (xy[:, 1] < height - 0.5))

    keep = inside(points)
    points, peaks = points[keep], peaks[keep]
    diameter_nm, intensity = measure_labels(data, points, pixel_size_nm=size_nm,
                                            polarity=decision.polarity)
    n_refined = 0
    fit_weight = background_fit_weight(white_index) if refine else 0.0
    if fit_weight > 0 and len(points):
        start_nm = moment_diameter_nm(data, points, pixel_size_nm=size_nm,
                                      polarity=decision.polarity)
        refined, fitted = refine_centres(data, points, pixel_size_nm=size_nm,
                                         polarity=decision.polarity, diameter_nm=start_nm,
                                         fit_weight=fit_weight)
        fitted &= inside(refined)  # refinement never moves a label out of the image
        points = np.where(fitted[:, None], refined, points)
        n_refined = int(fitted.sum())
    table = pd.DataFrame({
        "image": pd.Series([name] * len(points), dtype=object),
        "x_px": points[:, 0],
        "y_px": points[:, 1],
        "x_nm": points[:, 0] * size_nm,
        "y_nm": points[:, 1] * size_nm,
        "score": peaks[:, 2],
        "diameter_nm": diameter_nm,
        "intensity": intensity,
    }, columns=list(DETECTION_COLUMNS))
    info = {
        "image": name,
        "shape": [int(height), int(width)],
        "pixel_size_nm": float(size_nm),
        "model_pixel_size_nm": float(model.pixel_size_nm),
        "scale": float(scale),
        "polarity": decision.polarity,
        "polarity_method": decision.method,
        "checkpoint": model.path.name if model.path is not None else None,
        "checkpoint_choice": route,
        "threshold": image_thr,
        "threshold_rule": rule,
        "base_threshold": thr,
        "relative_threshold": relative,
        "device": runner.device,
        "precision": runner.precision,
        "detections": int(len(table)),
        "refined": n_refined,
        "hot_pixels_replaced": n_spikes,
        "refine_fit_weight": round(fit_weight, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if math.isfinite(white_index):
        info["white_noise_index"] = round(white_index, 3)
    if math.isfinite(shadow_index):
        info["shadowing_index"] = round(shadow_index, 2)
    if math.isfinite(decision.score_bright):
        info["polarity_scores"] = {"bright": decision.score_bright, "dark": decision.score_dark}
    if math.isfinite(decision.network_bright):
        info["polarity_network_scores"] = {"bright": decision.network_bright,
                                           "dark": decision.network_dark}
    return table, info


def detect(image_or_array, *, pixel_size_nm: float | None = None, model=None,
           polarity: str = "auto", threshold="auto", tile_px: int | None = None,
           device: str = "auto", batch_size: int | None = None,
           precision: str = "auto", refine: bool = True) -> pd.DataFrame:
    """Find labels in one micrograph.

    The image is rescaled to the model's native pixel size, normalised (labels bright), run
    through the network in overlapping tiles, and the peaks are mapped back to the input image's
    own pixels. Size and intensity are measured on the original image.

    Parameters
    ----------
    image_or_array : str, Path, MicrographImage or ndarray
        An image file (any format :func:`her2net.io.read_image` reads), a read image, or a 2-D
        array.
    pixel_size_nm : float, optional
        Pixel size of the image; overrides the file's. Required for arrays and files without one.
    model : None, str, Path or Her2netModel
        The detector. None (or 'auto') loads both shipped checkpoints (cached) and routes the
        image after its polarity is decided: dark labels on a textured background (white-noise
        index >= 2.2) to the replica specialist, everything else to the default
        (:mod:`her2net.detect.routing`). 'default', 'replicas' or a path: that checkpoint alone.
    polarity : {'auto', 'bright', 'dark'}
        Labels brighter (ADF STEM) or darker (bright-field TEM) than the background; 'auto'
        decides from the image: the network's evidence, or dark for a metal-shadowed replica
        (:mod:`her2net.detect.shadowing`; give 'bright' for a reversed print).
    threshold : 'auto' or float
        Heatmap probability threshold. 'auto' uses the checkpoint's calibrated one, raised in
        images whose labels score high (a peak must reach the checkpoint's
        ``relative_threshold`` times the 75th percentile of the image's confident scores, see
        :func:`her2net.detect.postprocess.image_threshold`), or lowered in images whose only
        clutter is white noise, down to where the expected noise peaks (the checkpoint's
        ``noise_peak_rate``) are at most a quarter of the detections
        (:mod:`her2net.detect.noise_floor`); a raise does not apply to peaks within 3 nm of the
        image's edge on a smooth background
        (:func:`her2net.detect.postprocess.passes_threshold`); a number is used as it is.
    tile_px : int, optional
        Network input size per tile (default 2304 on CPU, 1024 on CUDA).
    device : {'auto', 'cpu', 'cuda', 'cuda:N'}
    batch_size : int, optional
        Tiles per forward pass (default 1 on CPU, 8 on CUDA).
    precision : {'auto', 'float32', 'bfloat16', 'float16'}
        'auto': bfloat16 on CPUs that run it natively (AVX512-BF16/AMX), else float32;
        bfloat16 (or float16) on CUDA.
    refine : bool
        Average the network's centres with a local Gaussian fit on the original image
        (:func:`her2net.detect.refine.refine_centres`), the fit weighted by how close the
        background is to white noise (:func:`her2net.detect.refine.background_fit_weight`: 0.75
        on a smooth background, none among strong clutter); False keeps the network's centres.

    Returns
    -------
    pandas.DataFrame
        Columns image, x_px, y_px, x_nm, y_nm, score, diameter_nm, intensity; one row per label,
        by decreasing score. ``x_px`` is the column, ``y_px`` the row, the centre of pixel (0, 0)
        is (0, 0). ``.attrs['her2net']`` holds what was decided (polarity, threshold, ...).

    Raises
    ------
    InputError
        Unreadable image, unknown pixel size, bad option values.

    Examples
    --------
    >>> import her2net
    >>> table = her2net.detect("cell01.tif", pixel_size_nm=1.2)  # doctest: +SKIP
    >>> table[["x_nm", "y_nm", "score"]].head()  # doctest: +SKIP
    """
    table, info = detect_image(image_or_array, pixel_size_nm=pixel_size_nm, model=model,
                               polarity=polarity, threshold=threshold, tile_px=tile_px,
                               device=device, batch_size=batch_size, precision=precision,
                               refine=refine)
    table.attrs["her2net"] = info
    return table
