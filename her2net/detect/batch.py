"""Detection over many images: inputs from files, folders or a manifest; parallel reading;
progress; unreadable images reported and skipped; overlays; the CSV and its JSON sidecar."""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError

__all__ = ["BatchItem", "BatchResult", "collect_inputs", "detect_batch", "write_detections",
           "sidecar_path"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchItem:
    """One image to process.

    Attributes
    ----------
    name : str
        The ``image`` value written to the CSV: the manifest's value, or the path as given.
    path : Path
    pixel_size_nm : float or None
        From the manifest (used when neither ``--pixel-size`` nor the file gives one).
    cell : str or None
        Manifest cell id.
    mask_path : Path or None
    """

    name: str
    path: Path
    pixel_size_nm: float | None = None
    cell: str | None = None
    mask_path: Path | None = None


@dataclass
class BatchResult:
    """Detections of all images that worked, and what failed.

    Attributes
    ----------
    detections : pandas.DataFrame
        Detections columns (+ cell, region with a manifest).
    images : list of dict
        Per processed image: shape, pixel size, polarity decided, count, seconds.
    failures : list of (str, str)
        (image name, one-line reason) of images that were skipped.
    run_polarity : dict or None
        With ``polarity='auto'``: the run's polarity, its pooled network evidence and the images
        detected again with it (None when the run has no clear polarity).
    """

    detections: pd.DataFrame
    images: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    run_polarity: dict | None = None


def _is_manifest(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def collect_inputs(inputs, *, manifest=None) -> tuple[list[BatchItem], pd.DataFrame | None]:
    """Expand image files, folders and manifests into a list of :class:`BatchItem`.

    Parameters
    ----------
    inputs : list of str or Path
        Image files, folders (their readable images, sorted, not recursive) or one manifest CSV.
    manifest : str or Path, optional
        A manifest ``cells.csv``; then ``inputs`` must be empty or that same manifest.

    Returns
    -------
    items : list of BatchItem
    manifest_table : pandas.DataFrame or None

    Raises
    ------
    InputError
        Missing paths, a folder without images, mixing a manifest with image paths, no input.
    """
    from her2net.io import SUPPORTED_EXTENSIONS, read_manifest

    inputs = [Path(p) for p in (inputs or [])]
    manifests = [p for p in inputs if _is_manifest(p)]
    if manifest is not None:
        manifests = [Path(manifest)] + [m for m in manifests if m.resolve() != Path(manifest).resolve()]
    if manifests:
        if len(manifests) > 1:
            raise InputError(f"{manifests[1]}: give one manifest at a time")
        others = [p for p in inputs if not _is_manifest(p)]
        if others:
            raise InputError(f"{others[0]}: give either image files/folders or a manifest, not both "
                             "(list every image in the manifest)")
        table = read_manifest(manifests[0])
        items = [BatchItem(name=str(row.image), path=Path(row.image_path),
                           pixel_size_nm=float(row.pixel_size_nm), cell=str(row.cell),
                           mask_path=_mask_path(row))
                 for row in table.itertuples(index=False)]
        return items, table
    if not inputs:
        raise InputError("no input: give image files, folders of images or a manifest cells.csv")
    items = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
                           and not p.name.startswith("."))
            if not found:
                raise InputError(f"{path}: folder holds no images "
                                 f"(looked for {', '.join(SUPPORTED_EXTENSIONS)})")
            items.extend(BatchItem(name=str(p), path=p) for p in found)
        elif not path.exists():
            raise InputError(f"{path}: no such file or folder")
        else:
            items.append(BatchItem(name=str(path), path=path))
    seen = set()
    for item in items:
        if item.name in seen:
            raise InputError(f"{item.name}: image given twice")
        seen.add(item.name)
    return items, None


def _mask_path(row) -> Path | None:
    value = getattr(row, "mask", None)
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        return None
    return Path(row.mask_path)


def _read_mask(path: Path, shape) -> np.ndarray:
    """A region mask (0 outside, 1 flat, 2 ruffles) of the image's shape."""
    if not path.is_file():
        raise InputError(f"{path}: no such mask file")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            mask = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as img:
                mask = np.asarray(img)
    except Exception as exc:  # corrupt files raise many types
        raise InputError(f"{path}: cannot read mask ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    mask = np.squeeze(mask)
    if mask.shape != tuple(shape):
        raise InputError(f"{path}: mask of shape {mask.shape} does not match its image {tuple(shape)}")
    return mask


def _read(item: BatchItem, pixel_size_nm, frame=None, channel=None):
    from her2net.io import read_image

    image = read_image(item.path, pixel_size_nm=pixel_size_nm, frame=frame, channel=channel)
    mask = _read_mask(item.mask_path, image.data.shape) if item.mask_path is not None else None
    return image, mask


def detect_batch(items, *, model, pixel_size_nm: float | None = None, polarity: str = "auto",
                 threshold="auto", tile_px: int | None = None, device: str = "auto",
                 batch_size: int | None = None, precision: str = "auto", workers: int = 2,
                 overlays_dir=None, with_manifest: bool = False,
                 progress: bool | None = None, frame: int | None = None,
                 channel: int | None = None, refine: bool = True) -> BatchResult:
    """Detect labels in every image of ``items``; skip and record the ones that fail.

    Images are read by ``workers`` threads ahead of the detection (one image at a time on the
    network, which uses every core). Options as in :func:`her2net.detect.detect`.

    With ``polarity='auto'`` each image decides on its own first. Images whose own evidence was
    not clear (:attr:`her2net.detect.polarity.PolarityDecision.confident`) then take the run's
    polarity where it has one (:func:`her2net.detect.polarity.run_polarity`: the network's
    evidence pooled over all images); those it flips are read and detected again.

    Parameters
    ----------
    items : list of BatchItem
    model : Her2netModel
    overlays_dir : Path, optional
        Write ``<image stem>.png`` overlays there (the folder must exist).
    with_manifest : bool
        Add ``cell`` and ``region`` columns (region from the mask, <NA> without a mask).
    progress : bool or None
        Show a progress bar (None: only on a terminal).

    Returns
    -------
    BatchResult
    """
    from tqdm import tqdm

    from her2net.detect.api import DETECTION_COLUMNS, detect_image
    from her2net.detect.polarity import check_polarity, run_polarity

    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    check_polarity(polarity)
    results: dict[int, tuple] = {}  # index -> (table, info) or (None, failure)
    overlay_stems: dict[int, str] = {}
    used_stems: set[str] = set()
    bar = tqdm(total=len(items), unit="image", disable=(None if progress is None else not progress),
               file=sys.stderr, dynamic_ncols=True)
    counts = {"found": 0, "failed": 0}

    def detect_one(index, item, future, image_polarity):
        try:
            image, mask = future.result()
            size = image.pixel_size_nm if image.pixel_size_nm is not None else item.pixel_size_nm
            if (image.pixel_size_nm is not None and item.pixel_size_nm is not None
                    and pixel_size_nm is None
                    and abs(image.pixel_size_nm / item.pixel_size_nm - 1) > 0.01
                    and index not in results):
                logger.warning("%s: the file says %.4g nm/px, the manifest %.4g nm/px; using "
                               "the file's (override with --pixel-size)", item.name,
                               image.pixel_size_nm, item.pixel_size_nm)
            table, info = detect_image(image, pixel_size_nm=size, model=model,
                                       polarity=image_polarity, threshold=threshold,
                                       tile_px=tile_px, device=device, batch_size=batch_size,
                                       precision=precision, image_name=item.name,
                                       refine=refine)
            if with_manifest:
                table["cell"] = item.cell
                table["region"] = _regions(table, mask)
            if overlays_dir is not None:
                from her2net.detect.overlay import write_overlay

                if index not in overlay_stems:
                    overlay_stems[index] = _unique_stem(Path(item.name).stem, used_stems)
                stem = overlay_stems[index]
                write_overlay(Path(overlays_dir) / f"{stem}.png", image.data, table,
                              pixel_size_nm=size, title=item.name,
                              vmin_score=info["threshold"])
                info["overlay"] = f"{stem}.png"
        except (InputError, OSError, ValueError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if item.name not in message and str(item.path) not in message:
                message = f"{item.name}: {message}"
            results[index] = (None, message)
            logger.debug("skipped %s", message)
            counts["failed"] += 1
        else:
            results[index] = (table, info)
            counts["found"] += len(table)
        bar.update(1)
        bar.set_postfix(labels=counts["found"], failed=counts["failed"], refresh=False)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, item, future in _read_ahead(pool, list(enumerate(items)), workers,
                                               pixel_size_nm, frame, channel):
            detect_one(index, item, future, polarity)
        run, redo = None, []
        if polarity == "auto":
            decisions = {i: _decision(info) for i, (table, info) in results.items()
                         if table is not None}
            run = run_polarity(decisions.values())
            if run is not None:
                redo = [(i, items[i]) for i, d in sorted(decisions.items())
                        if not d.confident and d.polarity != run.polarity]
                logger.info("polarity of the run: %s (network evidence over %d images: bright "
                            "%.3g vs dark %.3g); %d images whose own evidence was not clear are "
                            "detected again as %s", run.polarity, len(decisions),
                            run.score_bright, run.score_dark, len(redo), run.polarity)
            if redo:
                bar.reset(total=len(redo))
                bar.set_description(f"again as {run.polarity}")
                for i, _ in redo:
                    counts["found"] -= len(results[i][0])
                pending_redo = {i: replace(run, network_bright=decisions[i].network_bright,
                                           network_dark=decisions[i].network_dark)
                                for i, _ in redo}
                for index, item, future in _read_ahead(pool, redo, workers, pixel_size_nm,
                                                       frame, channel):
                    detect_one(index, item, future, pending_redo[index])
    bar.close()
    tables, infos, failures = [], [], []
    for index in sorted(results):
        table, outcome = results[index]
        if table is None:
            failures.append((items[index].name, outcome))
        else:
            tables.append(table)
            infos.append(outcome)
    columns = list(DETECTION_COLUMNS) + (["cell", "region"] if with_manifest else [])
    if tables:
        detections = pd.concat(tables, ignore_index=True)[columns]
    else:
        detections = pd.DataFrame({c: pd.Series(dtype=object if c in ("image", "cell") else float)
                                   for c in columns})
    if with_manifest:
        detections["region"] = detections["region"].astype("Int64")
    run_summary = None if run is None else {
        "polarity": run.polarity, "network_scores": {"bright": run.score_bright,
                                                     "dark": run.score_dark},
        "images_detected_again": [items[i].name for i, _ in redo]}
    return BatchResult(detections=detections, images=infos, failures=failures,
                       run_polarity=run_summary)


def _read_ahead(pool, indexed_items, workers, pixel_size_nm, frame, channel):
    """Yield (index, item, future of :func:`_read`), keeping ``workers + 1`` reads in flight."""
    pending: deque = deque()
    queue = iter(indexed_items)

    def refill():
        while len(pending) < workers + 1:
            entry = next(queue, None)
            if entry is None:
                return
            index, item = entry
            pending.append((index, item, pool.submit(_read, item, pixel_size_nm, frame, channel)))

    refill()
    while pending:
        entry = pending.popleft()
        refill()
        yield entry


def _decision(info):
    """The :class:`PolarityDecision` recorded in a :func:`detect_image` info dict."""
    from her2net.detect.polarity import PolarityDecision

    nan = float("nan")
    scores = info.get("polarity_scores", {})
    network = info.get("polarity_network_scores", {})
    return PolarityDecision(info["polarity"], info["polarity_method"],
                            scores.get("bright", nan), scores.get("dark", nan),
                            network.get("bright", nan), network.get("dark", nan))


def _regions(table: pd.DataFrame, mask) -> pd.Series:
    if mask is None:
        return pd.Series(pd.NA, index=table.index, dtype="Int64")
    rows = np.clip(np.rint(table["y_px"].to_numpy()), 0, mask.shape[0] - 1).astype(int)
    cols = np.clip(np.rint(table["x_px"].to_numpy()), 0, mask.shape[1] - 1).astype(int)
    return pd.Series(mask[rows, cols].astype(np.int64), index=table.index, dtype="Int64")


def _unique_stem(stem: str, used: set) -> str:
    candidate, k = stem, 2
    while candidate in used:
        candidate, k = f"{stem}_{k}", k + 1
    used.add(candidate)
    return candidate


def sidecar_path(csv_path) -> Path:
    """The JSON sidecar of a detections CSV: same name, ``.json`` suffix."""
    path = Path(csv_path)
    return path.with_suffix(".json") if path.suffix.lower() == ".csv" else path.with_name(path.name + ".json")


def write_detections(detections: pd.DataFrame, csv_path, sidecar: dict) -> tuple[Path, Path]:
    """Write the detections CSV and its JSON sidecar, each atomically.

    Returns
    -------
    (Path, Path)
        The CSV and the sidecar.
    """
    from her2net.io import atomic_write

    csv_path = Path(csv_path)
    json_path = sidecar_path(csv_path)
    with atomic_write(json_path) as handle_json, atomic_write(csv_path, newline="") as handle_csv:
        detections.to_csv(handle_csv, index=False, float_format="%.6g")
        json.dump(sidecar, handle_json, indent=2, default=str)
        handle_json.write("\n")
    return csv_path, json_path
