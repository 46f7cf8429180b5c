"""Training tiles: on-the-fly simulated tiles and annotated real tiles, at the model's pixel size."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from her2net.errors import InputError
from her2net.io import read_image, read_manifest
from her2net.io.tables import not_a_number, read_csv_file
from her2net.model.preprocess import (
    normalize_image,
    points_to_resampled_frame,
    resample_image,
    resampled_shape,
)
from train.augment import apply_augmentation, build_augmentation, seed_pipeline
from train.targets import make_targets

__all__ = ["SyntheticTiles", "AnnotatedTiles", "MixedTiles", "annotated_image_names", "iter_annotated",
           "to_sample"]

logger = logging.getLogger(__name__)


def to_sample(image: np.ndarray, points: np.ndarray, *, sigma_px: float, offset_radius_px: float,
              max_points: int = 512, weights=None) -> dict:
    """Tensors for one tile: image (1, H, W), target maps, and the padded truth points (all
    labels, whatever their target ``weights``: validation scores against every label)."""
    heatmap, offsets, mask = make_targets(points, image.shape, sigma_px=sigma_px,
                                          offset_radius_px=offset_radius_px, weights=weights)
    h, w = image.shape
    inside = (points[:, 0] >= -0.5) & (points[:, 0] < w - 0.5) & (points[:, 1] >= -0.5) & (points[:, 1] < h - 0.5)
    pts = points[inside][:max_points]
    padded = np.full((max_points, 2), np.nan, np.float32)
    padded[: len(pts)] = pts
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image[None], dtype=np.float32)),
        "heatmap": torch.from_numpy(heatmap[None]),
        "offsets": torch.from_numpy(offsets),
        "offset_mask": torch.from_numpy(mask[None]),
        "points": torch.from_numpy(padded),
    }


def _augmented_sample(dataset, image, points, index: int, weights=None, *, stream: int = 0) -> dict:
    """Augment one tile reproducibly and encode it as training tensors.

    albumentations 2 draws from the pipeline's own generators (seeded from the OS when the
    pipeline is built), so they are set here for every tile from the dataset's seed, epoch,
    ``index`` and ``stream`` (one per kind of dataset): the same config gives the same tiles in
    any process and any worker.
    """
    if dataset._pipeline is None:
        dataset._pipeline = build_augmentation(dataset.augmentation)
    seed_pipeline(dataset._pipeline, (dataset.seed, dataset.epoch, index, stream))
    image, points, weights = apply_augmentation(dataset._pipeline, image, points, weights)
    return to_sample(image, points, sigma_px=dataset.sigma_px,
                     offset_radius_px=dataset.offset_radius_px, weights=weights)


def _crop(image, points, size, rng, weights=None):
    h, w = image.shape
    if h < size or w < size:
        pad_y, pad_x = max(0, size - h), max(0, size - w)
        image = np.pad(image, ((0, pad_y), (0, pad_x)), mode="reflect" if min(h, w) > 1 else "edge")
        h, w = image.shape
    y0 = int(rng.integers(0, h - size + 1))
    x0 = int(rng.integers(0, w - size + 1))
    crop = image[y0:y0 + size, x0:x0 + size]
    pts = points - np.array([x0, y0])
    keep = (pts[:, 0] > -3) & (pts[:, 0] < size + 2) & (pts[:, 1] > -3) & (pts[:, 1] < size + 2)
    return crop, pts[keep], None if weights is None else np.asarray(weights)[keep]


class SyntheticTiles(Dataset):
    """Simulated tiles drawn on the fly with wide domain randomisation.

    Each tile is simulated at a random pixel size in ``pixel_size_range_nm`` (log-uniform), then
    resampled to the model's ``pixel_size_nm`` exactly as inference does, normalised with the
    tile's own polarity and augmented. Tile ``i`` of epoch ``e`` is reproducible from
    ``(seed, e, i)``.
    """

    def __init__(self, *, length: int, tile_px: int, pixel_size_nm: float,
                 pixel_size_range_nm=(0.5, 3.0), seed: int = 0, augmentation: str = "synthetic",
                 sigma_px: float = 1.5, offset_radius_px: float = 2.0,
                 percentile_jitter: float = 0.5, simulator_overrides: dict | None = None,
                 simulator_mixture: list[dict] | None = None, faint_snr=None):
        self.length = int(length)
        self.tile_px = int(tile_px)
        self.pixel_size_nm = float(pixel_size_nm)
        self.pixel_size_range_nm = tuple(float(v) for v in pixel_size_range_nm)
        self.seed = int(seed)
        self.epoch = 0
        self.augmentation = augmentation
        self.sigma_px = sigma_px
        self.offset_radius_px = offset_radius_px
        self.percentile_jitter = percentile_jitter
        self.simulator_overrides = dict(simulator_overrides or {})
        # Optional mixture of kinds of images: [{"weight": w, "overrides": {...}}, ...]; each
        # tile draws one component (its overrides on top of simulator_overrides).
        self.simulator_mixture = list(simulator_mixture or [])
        # (low, high): a label's target peak rises from 0 at matched SNR `low` to 1 at `high`
        # (labels too faint to see are not taught as labels); None: every label is a full target.
        self.faint_snr = None if faint_snr is None else tuple(float(v) for v in faint_snr)
        self._pipeline = None

    def __len__(self) -> int:
        return self.length

    def tile(self, index: int):
        """(normalised image, points, metadata) of tile ``index`` at the model's pixel size;
        ``metadata['target_weights']`` holds each point's target peak (see ``faint_snr``)."""
        from her2net.simulate import simulate_tile

        rng = np.random.default_rng([self.seed, self.epoch, index])
        low, high = self.pixel_size_range_nm
        pixel_size = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        scale = pixel_size / self.pixel_size_nm
        sim_px = int(np.ceil(self.tile_px / scale)) + 2
        overrides = dict(self.simulator_overrides)
        wrong_polarity = False
        if self.simulator_mixture:
            weights = np.array([float(c.get("weight", 1.0)) for c in self.simulator_mixture])
            component = self.simulator_mixture[int(rng.choice(len(weights), p=weights / weights.sum()))]
            overrides.update(component.get("overrides", {}))
            wrong_polarity = bool(component.get("wrong_polarity", False))
        for attempt in range(3):
            try:
                raw, points, meta = simulate_tile(rng, sim_px, pixel_size, **overrides)
                break
            except (ValueError, FloatingPointError) as exc:
                # A long run must not die on one odd parameter draw; the draw is logged to be fixed.
                logger.warning("simulate_tile failed for tile (%d, %d, %d), attempt %d: %s",
                               self.seed, self.epoch, index, attempt, exc)
                if attempt == 2:
                    raise
                rng = np.random.default_rng([self.seed, self.epoch, index, attempt + 1])
        out_shape = resampled_shape(raw.shape, scale)
        image = resample_image(raw, scale=scale)
        points = points_to_resampled_frame(points, raw.shape, out_shape)
        lo = 1.0 + rng.uniform(-1, 1) * self.percentile_jitter
        hi = 99.8 + rng.uniform(-1, 0.15) * self.percentile_jitter
        polarity = meta["polarity"]
        if wrong_polarity:
            polarity = "dark" if polarity == "bright" else "bright"
        meta["wrong_polarity"] = wrong_polarity
        image = normalize_image(image, polarity=polarity, percentiles=(lo, hi))
        weights = np.ones(len(points))
        if self.faint_snr is not None:
            low_snr, high_snr = self.faint_snr
            weights = np.clip((np.asarray(meta["matched_snr_each"]) - low_snr)
                              / max(high_snr - low_snr, 1e-6), 0.0, 1.0)
        if wrong_polarity:
            # Shown the wrong way round (bright-field not inverted, ADF inverted): no labels to
            # find, so that the network stays silent on a wrongly oriented image.
            points, weights = points[:0], weights[:0]
        image, points, weights = _crop(image, points, self.tile_px, rng, weights)
        meta["target_weights"] = weights
        return image, points, meta

    def __getitem__(self, index: int) -> dict:
        image, points, meta = self.tile(index)
        return _augmented_sample(self, image, points, index, meta["target_weights"])


class AnnotatedTiles(Dataset):
    """Random tiles from annotated micrographs (a points CSV as written by ``her2net detect``).

    Parameters
    ----------
    images_dir : str
        Folder the CSV's ``image`` paths are relative to (or holding files of those names).
    points_csv : str
        CSV with columns image, x_px, y_px (extra columns ignored).
    manifest : str, optional
        cells.csv giving pixel_size_nm per image (else the files' own pixel sizes). Its images
        without a row in ``points_csv`` are trained on as holding no labels.
    polarity : {'bright', 'dark'}
        Label contrast of these images (a 'polarity' column in the manifest overrides it).
    """

    def __init__(self, *, images_dir: str, points_csv: str, manifest: str | None = None,
                 polarity: str = "bright", length: int, tile_px: int, pixel_size_nm: float,
                 seed: int = 0, augmentation: str = "annotated", sigma_px: float = 1.5,
                 offset_radius_px: float = 2.0, images: list[str] | None = None):
        self.length = int(length)
        self.tile_px = int(tile_px)
        self.seed = int(seed)
        self.epoch = 0
        self.augmentation = augmentation
        self.sigma_px = sigma_px
        self.offset_radius_px = offset_radius_px
        self._pipeline = None
        self.items = _load_annotated(Path(images_dir), Path(points_csv), manifest, polarity,
                                     pixel_size_nm, images)
        if not self.items:
            raise InputError(f"{points_csv}: no annotated images found")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index, 7])
        image, points = self.items[int(rng.integers(len(self.items)))]
        image, points, _ = _crop(image, points, self.tile_px, rng)
        return _augmented_sample(self, image, points, index, stream=1)


def annotated_image_names(points_csv, manifest=None) -> list[str]:
    """Names of the annotated images: those of the points CSV, then those only in ``manifest``.

    An image listed in the manifest without a row in the points CSV is annotated as holding no
    labels (a field the user checked and found empty, or whose detections were all false): it
    trains the network to stay silent there.
    """
    table = _read_points(points_csv, ("image",))
    return _image_names(table, read_manifest(manifest) if manifest else None)


def _read_points(points_csv, columns) -> pd.DataFrame:
    """The points CSV with ``columns`` checked (x_px and y_px, where asked for, as numbers).

    Raises
    ------
    InputError
        One line naming the file: missing or unreadable, lacking a column, or a coordinate that
        is not a number (with its line).
    """
    table = read_csv_file(points_csv, what="points")
    missing = set(columns) - set(table.columns)
    if missing:
        raise InputError(f"{points_csv}: lacks column(s) {', '.join(sorted(missing))}")
    for column in {"x_px", "y_px"} & set(columns):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(float))
        if bad.any():
            i = int(bad.argmax())
            raise InputError(not_a_number(points_csv, i + 2, column, table[column].iloc[i]))
        table[column] = values.astype(float)
    return table


def _image_names(table: pd.DataFrame, manifest_table: pd.DataFrame | None) -> list[str]:
    names = list(dict.fromkeys(table["image"].astype(str)))
    if manifest_table is not None:
        seen = set(names) | {Path(n).name for n in names}
        for name in manifest_table["image"].astype(str):
            if name not in seen and Path(name).name not in seen:
                names.append(name)
                seen.add(name)
    return names


def iter_annotated(images_dir, points_csv, manifest=None, polarity: str = "bright", only=None):
    """Yield ``(name, micrograph, polarity, points_px)`` for each annotated image.

    ``micrograph`` is the :class:`her2net.io.MicrographImage` as read (its own pixels and pixel
    size: from the manifest where it lists the image, else from the file); ``points_px`` the
    annotated ``x_px, y_px`` in those pixels (empty for images the manifest lists without points).
    ``only``: image names to keep (as in the CSV or the manifest, or their file names).

    An image is looked for at its path in the CSV (relative to ``images_dir`` unless absolute),
    then as ``images_dir/<file name>`` (images moved since ``her2net detect`` wrote absolute
    paths), then at the manifest's path.

    Raises
    ------
    InputError
        One line naming the file: a missing or malformed points CSV or manifest, a missing
        ``images_dir``, names in ``only`` that are not annotated, an image not found.
    """
    images_dir, points_csv = Path(images_dir), Path(points_csv)
    table = _read_points(points_csv, ("image", "x_px", "y_px"))
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: no such images folder")
    table["image"] = table["image"].astype(str)
    sizes, polarities, paths = {}, {}, {}
    man = read_manifest(manifest) if manifest else None
    if man is not None:
        for _, row in man.iterrows():
            for key in (str(row["image"]), Path(str(row["image"])).name):
                sizes[key] = float(row["pixel_size_nm"])
                paths[key] = Path(row["image_path"])
                if "polarity" in man.columns:
                    polarities[key] = str(row["polarity"])
    names = sorted(_image_names(table, man))
    if only is not None:
        _check_known(only, names, points_csv, manifest)
    groups = dict(tuple(table.groupby("image", sort=False)))
    for name in names:
        if only is not None and name not in only and Path(name).name not in only:
            continue
        path = _image_path(name, images_dir, paths, points_csv)
        micrograph = read_image(path, pixel_size_nm=sizes.get(name, sizes.get(path.name)))
        if micrograph.pixel_size_nm is None:
            raise InputError(f"{path}: no pixel size (give a manifest with pixel_size_nm)")
        group = groups.get(name)
        xy = np.zeros((0, 2)) if group is None else group[["x_px", "y_px"]].to_numpy(float)
        yield name, micrograph, polarities.get(name, polarities.get(path.name, polarity)), xy


def _check_known(only, names, points_csv, manifest) -> None:
    """Refuse names in ``only`` that match no annotated image (a typo'd held-out image)."""
    known = set(names) | {Path(n).name for n in names}
    unknown = [str(v) for v in only if str(v) not in known]
    if unknown:
        where = "the points CSV" + (f" or {manifest}" if manifest else "")
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(f"{points_csv}: unknown image(s) {', '.join(unknown)}: not in {where} "
                         f"(its images: {shown})")


def _image_path(name: str, images_dir: Path, manifest_paths: dict, points_csv: Path) -> Path:
    """Where image ``name`` of the points CSV is (see :func:`iter_annotated`)."""
    path = Path(name)
    candidates = [path if path.is_absolute() else images_dir / path, images_dir / path.name]
    if name in manifest_paths:
        candidates.append(manifest_paths[name])
    for candidate in candidates:
        if candidate.exists():
            return candidate
    tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise InputError(f"{points_csv}: image {name!r} not found (looked for {tried})")


def _load_annotated(images_dir: Path, points_csv: Path, manifest, polarity, pixel_size_nm, only):
    items, n_empty = [], 0
    for _, micrograph, image_polarity, xy in iter_annotated(images_dir, points_csv, manifest,
                                                            polarity, only):
        scale = micrograph.pixel_size_nm / pixel_size_nm
        out_shape = resampled_shape(micrograph.data.shape, scale)
        image = resample_image(micrograph.data, scale=scale)
        image = normalize_image(image, polarity=image_polarity)
        n_empty += len(xy) == 0
        pts = points_to_resampled_frame(xy, micrograph.data.shape, out_shape)
        items.append((image, pts))
    logger.info("annotated: %d images (%d without labels), %d labels", len(items), n_empty,
                sum(len(p) for _, p in items))
    return items


class MixedTiles(Dataset):
    """Synthetic and annotated tiles mixed by ``synthetic_weight`` (a reproducible draw per index)."""

    def __init__(self, synthetic: Dataset, annotated: Dataset | None, *, synthetic_weight: float,
                 seed: int = 0):
        self.synthetic = synthetic
        self.annotated = annotated
        self.synthetic_weight = 1.0 if annotated is None else float(synthetic_weight)
        self.seed = seed
        self.length = len(synthetic) if annotated is None else max(len(synthetic), len(annotated))

    def set_epoch(self, epoch: int) -> None:
        for part in (self.synthetic, self.annotated):
            if part is not None:
                part.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        if self.annotated is None:
            return self.synthetic[index % len(self.synthetic)]
        rng = np.random.default_rng([self.seed, self.synthetic.epoch, index, 3])
        if rng.uniform() < self.synthetic_weight:
            return self.synthetic[index % len(self.synthetic)]
        return self.annotated[index % len(self.annotated)]
