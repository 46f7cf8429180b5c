"""Reading and checking the analysis inputs: detections CSV, manifest, masks, image frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from her2net.errors import InputError
from her2net.io.tables import not_a_number

__all__ = ["ImageInfo", "read_detections", "check_detections", "image_table", "REGION_NAMES"]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image", "x_px", "y_px")
REGION_NAMES = {1: "flat", 2: "ruffle"}
NO_MASK_REGION = "whole"


@dataclass(frozen=True, eq=False)
class ImageInfo:
    """One image of the analysis.

    Attributes
    ----------
    image : str
        The image name as in the detections.
    cell : str
    pixel_size_nm : float
    region_map : ndarray of uint8, shape (H, W)
        0 outside the analysed area, 1 flat membrane, 2 ruffles; all ones without a mask.
    has_mask : bool
    image_path : Path or None
        The micrograph, when it can be found (for overlays).
    """

    image: str
    cell: str
    pixel_size_nm: float
    region_map: np.ndarray
    has_mask: bool
    image_path: Path | None


def read_detections(path) -> pd.DataFrame:
    """Read and check a detections CSV (see docs/architecture.md).

    Raises
    ------
    InputError
        Missing file or columns, non-numeric coordinates, empty image names.
    """
    from her2net.io.tables import read_csv_file

    table = read_csv_file(path, what="detections", dtype={"image": str, "cell": str, "region": str})
    return check_detections(table, source=str(path))


def check_detections(table: pd.DataFrame, *, source: str = "detections") -> pd.DataFrame:
    """Check columns and values of a detections table; return a clean copy."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)} "
                         f"(expected at least {', '.join(REQUIRED_COLUMNS)}; and x_nm, y_nm "
                         "without a manifest)")
    table = table.copy()
    for column in ("x_px", "y_px", "x_nm", "y_nm", "diameter_nm"):
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & (table[column].notna() if column in ("diameter_nm",) else True)
        if column in ("x_px", "y_px", "x_nm", "y_nm") and bad.any():
            i = int(bad.to_numpy().argmax())
            raise InputError(not_a_number(source, i + 2, column, table[column].iloc[i]))
        if not np.all(np.isfinite(values.dropna())):
            raise InputError(f"{source}: column {column} holds infinite values")
        table[column] = values.astype(float)
    if table["image"].isna().any():
        i = int(table["image"].isna().to_numpy().argmax())
        raise InputError(f"{source}: line {i + 2}: empty image name")
    table["image"] = table["image"].astype(str)
    return table.reset_index(drop=True)


def image_table(detections: pd.DataFrame, manifest: pd.DataFrame | None, *,
                detections_source: str = "detections", search_dirs=()) -> list[ImageInfo]:
    """Resolve, for every image, its cell, pixel size and analysed area.

    With a manifest, every image of the detections must be listed there (images listed without
    detections count as images with no labels); masks are read from it and the frame without a
    mask is the whole image. The pixel size is the one the detections were made at (x_nm / x_px:
    ``her2net detect`` takes the file's or ``--pixel-size`` before the manifest's), with a warning
    where it differs from the manifest's by more than 1 %; the manifest's where the detections
    have no x_nm (or no labels in that image). Without a manifest each image is a cell (or the
    detections' ``cell`` column groups them), the pixel size is x_nm / x_px, and the window is the
    whole image when the image file can be read, otherwise the bounding box of its labels (with a
    warning).
    """
    infos: list[ImageInfo] = []
    if manifest is not None:
        known = set(manifest["image"].astype(str))
        unknown = sorted(set(detections["image"]) - known)
        if unknown:
            raise InputError(f"{detections_source}: image {unknown[0]!r} is not in the manifest"
                             + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        for row in manifest.itertuples(index=False):
            image = str(row.image)
            image_path = Path(row.image_path) if row.image_path is not None else None
            rows = detections[detections["image"] == image]
            size = _detected_pixel_size(rows, image, float(row.pixel_size_nm))
            if getattr(row, "mask_path", None) is not None:
                region_map = _read_mask(Path(row.mask_path))
                has_mask = True
            else:
                shape = _frame_shape(image_path, rows, size)
                region_map = np.ones(shape, dtype=np.uint8)
                has_mask = False
            infos.append(ImageInfo(image, str(row.cell), size, region_map, has_mask,
                                   image_path if image_path is not None and image_path.is_file() else None))
        return infos
    if "x_nm" not in detections.columns:
        raise InputError(f"{detections_source}: without --manifest the detections need x_nm and y_nm "
                         "columns (for the pixel size)")
    for image, rows in detections.groupby("image", sort=False):
        size = _pixel_size_from(rows, image, detections_source)
        path = _find_image(image, search_dirs)
        shape = _frame_shape(path, rows, size)
        cell = str(rows["cell"].iloc[0]) if "cell" in rows.columns and rows["cell"].notna().all() else Path(image).stem
        infos.append(ImageInfo(str(image), cell, size, np.ones(shape, dtype=np.uint8), False, path))
    return infos


def _read_mask(path: Path) -> np.ndarray:
    # tifffile directly: read_image refuses constant images, and an all-ones mask is valid.
    if not path.is_file():
        raise InputError(f"{path}: no such mask file")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            data = np.squeeze(tifffile.imread(path)).astype(float)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: cannot read the mask ({str(exc).splitlines()[0]})") from None
        if data.ndim != 2:
            raise InputError(f"{path}: a mask must be a 2-D image, got shape {data.shape}")
    else:
        from her2net.io import read_image

        data = read_image(path).data
    values = np.rint(data)
    if not np.allclose(values, data) or values.min() < 0 or values.max() > 2:
        raise InputError(f"{path}: a mask must hold 0 (outside), 1 (flat) and 2 (ruffles) only")
    return values.astype(np.uint8)


def _detected_pixel_size(rows: pd.DataFrame, image: str, manifest_nm: float) -> float:
    """The pixel size the detections of ``image`` were made at, else the manifest's."""
    if "x_nm" not in rows.columns:
        return manifest_nm
    usable = rows[(rows["x_px"].abs() > 1) & rows["x_nm"].notna()]
    if usable.empty:
        return manifest_nm
    size = float(np.median(usable["x_nm"] / usable["x_px"]))
    if not size > 0:
        return manifest_nm
    if abs(size / manifest_nm - 1) > 0.01:
        logger.warning("%s: the detections were made at %.4g nm/px (x_nm / x_px), the manifest "
                       "says %.4g nm/px; using the detections'", image, size, manifest_nm)
        return size
    return manifest_nm


def _pixel_size_from(rows: pd.DataFrame, image: str, source: str) -> float:
    usable = rows[(rows["x_px"].abs() > 1) & rows["x_nm"].notna()]
    if usable.empty:
        raise InputError(f"{source}: cannot work out the pixel size of image {image!r} "
                         "(give --manifest with pixel_size_nm)")
    size = float(np.median(usable["x_nm"] / usable["x_px"]))
    if not size > 0:
        raise InputError(f"{source}: image {image!r}: x_nm / x_px gives a pixel size of {size:g} nm")
    return size


def _find_image(image: str, search_dirs) -> Path | None:
    for base in [Path.cwd(), *map(Path, search_dirs)]:
        candidate = Path(image) if Path(image).is_absolute() else base / image
        if candidate.is_file():
            return candidate
    return None


def _frame_shape(path: Path | None, rows: pd.DataFrame, pixel_size_nm: float) -> tuple[int, int]:
    from her2net.io import read_image

    if path is not None and Path(path).is_file():
        try:
            return read_image(path).data.shape
        except (ValueError, OSError) as exc:
            logger.warning("%s: cannot read the image (%s); using the labels' bounding box", path, exc)
    if rows.empty:
        return (1, 1)
    logger.warning("image %s: no image file or mask; the window is the bounding box of its labels",
                   rows["image"].iloc[0])
    pad = 1
    return (int(np.ceil(rows["y_px"].max())) + pad + 1, int(np.ceil(rows["x_px"].max())) + pad + 1)
