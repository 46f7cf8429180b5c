"""Read micrographs into a :class:`MicrographImage`, whatever the file format."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from her2net.errors import InputError
from her2net.io.pixel_size import check_pixel_size_nm, to_nm

__all__ = ["MicrographImage", "read_image", "SUPPORTED_EXTENSIONS"]

logger = logging.getLogger(__name__)

_TIFF = (".tif", ".tiff")
_PIL = (".png", ".jpg", ".jpeg")
_VENDOR = (".dm3", ".dm4", ".emd", ".mrc", ".mrcs", ".map")
SUPPORTED_EXTENSIONS = _TIFF + _PIL + _VENDOR


@dataclass(frozen=True)
class MicrographImage:
    """A 2-D micrograph.

    Attributes
    ----------
    data : ndarray of float32, shape (H, W)
        Pixel values; rows are y_px, columns x_px.
    pixel_size_nm : float or None
        Pixel size in nm, from the file's metadata or given by the user; None when unknown.
    path : Path or None
        The file it was read from.
    original_dtype : str
        The dtype stored in the file (for example 'uint16').
    """

    data: np.ndarray
    pixel_size_nm: float | None
    path: Path | None
    original_dtype: str

    def with_pixel_size(self, pixel_size_nm: float) -> "MicrographImage":
        """Return a copy with ``pixel_size_nm`` replaced (validated)."""
        return replace(self, pixel_size_nm=check_pixel_size_nm(pixel_size_nm))


def read_image(path, *, pixel_size_nm: float | None = None, frame: int | None = None,
               channel: int | None = None) -> MicrographImage:
    """Read a micrograph from TIFF, PNG, JPEG, DM3/DM4, Velox EMD or MRC.

    Parameters
    ----------
    path : str or Path
        Image file.
    pixel_size_nm : float, optional
        Overrides the pixel size stored in the file.
    frame : int, optional
        Frame to take from a stack (a time series or z-stack). Without it a stack is an error.
    channel : int, optional
        Channel to take from a multi-channel image (RGB is converted to grey when no channel is
        given).

    Returns
    -------
    MicrographImage
        float32 2-D data, the pixel size in nm (None when the file has none and none was given).

    Raises
    ------
    InputError
        One line naming the file and the problem: missing, a folder, empty, unsupported, corrupt,
        not 2-D, all-NaN or constant, or an impossible pixel size.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from her2net.io import write_tiff
    >>> tmp = os.path.join(tempfile.mkdtemp(), "a.tif")
    >>> write_tiff(tmp, np.arange(64, dtype=np.uint16).reshape(8, 8), pixel_size_nm=1.25)
    >>> read_image(tmp).pixel_size_nm
    1.25
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    if suffix in _TIFF:
        from her2net.io._tiff import read_tiff

        data, axes, file_pixel_size_nm, is_rgb = read_tiff(path)
    elif suffix in _PIL:
        data, axes, file_pixel_size_nm, is_rgb = _read_pil(path)
    elif suffix in _VENDOR:
        from her2net.io._vendor import read_vendor

        data, axes, file_pixel_size_nm, is_rgb = read_vendor(path)
    else:
        raise InputError(
            f"{path}: unsupported file type '{path.suffix or '(none)'}' "
            f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})"
        )
    original_dtype = str(data.dtype)
    if not is_rgb:
        # Samples that are not RGB colour (tifffile's planar 'S' axis of a shaped stack) are
        # frames or channels, never averaged into grey.
        axes = axes.replace("S", "C" if channel is not None else "Q")
    plane = _select_plane(path, np.asarray(data), axes, frame=frame, channel=channel)
    plane = _check_values(path, plane)
    if pixel_size_nm is not None:
        size = check_pixel_size_nm(pixel_size_nm)
    elif file_pixel_size_nm is not None:
        size = check_pixel_size_nm(file_pixel_size_nm, source=f"{path}: stored")
    else:
        size = None
    return MicrographImage(data=plane, pixel_size_nm=size, path=path, original_dtype=original_dtype)


def _read_pil(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L"):
                data = np.asarray(img, dtype=np.uint16)
            elif mode in ("P", "PA", "LA", "CMYK", "YCbCr", "1"):
                data = np.asarray(img.convert("RGB" if mode != "LA" else "L"))
            else:
                data = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: cannot read image ({_short(exc)}); the file may be truncated or corrupt") from None
    axes = "YXS" if data.ndim == 3 else "YX"
    return data, axes, None, data.ndim == 3


def _select_plane(path: Path, data: np.ndarray, axes: str, *, frame, channel) -> np.ndarray:
    """Reduce ``data`` to one 2-D plane, or raise naming the shape."""
    if data.ndim < 2:
        raise InputError(f"{path}: expected a 2-D image, got data of shape {data.shape}")
    axes = axes if len(axes) == data.ndim else ("Q" * (data.ndim - 2) + "YX")
    # Colour samples: RGB(A) -> grey unless a channel is chosen.
    if "S" in axes:
        s = axes.index("S")
        if channel is not None:
            data = _take(path, data, s, channel, "channel")
        else:
            samples = np.moveaxis(data, s, -1).astype(np.float32)
            if samples.shape[-1] >= 3:
                data = samples[..., 0] * 0.299 + samples[..., 1] * 0.587 + samples[..., 2] * 0.114
            else:
                data = samples[..., 0]
            axes = axes.replace("S", "")
            axes = axes if len(axes) == data.ndim else ("Q" * (data.ndim - 2) + "YX")
        if "S" in axes:
            axes = axes.replace("S", "")
        channel = None
    # Drop singleton axes other than Y and X.
    keep = [i for i, a in enumerate(axes) if a in "YX" or data.shape[i] != 1]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if "C" in axes and data.shape[axes.index("C")] > 1:
        if channel is None:
            raise InputError(
                f"{path}: multi-channel image of shape {data.shape} (axes {axes}); "
                "choose one channel with --channel N"
            )
        data = _take(path, data, axes.index("C"), channel, "channel")
        axes = axes.replace("C", "")
    elif channel is not None and data.ndim > 2 and frame is None:
        data = _take(path, data, 0, channel, "channel")
        axes = axes[1:]
    if data.ndim > 2:
        if frame is None:
            raise InputError(
                f"{path}: is a stack of shape {data.shape} (axes {axes}), not a 2-D image; "
                "choose one frame with --frame N"
            )
        data = _take(path, data.reshape((-1,) + data.shape[-2:]), 0, frame, "frame")
    elif frame is not None and not -1 <= frame < 1:
        raise InputError(f"{path}: --frame {frame}: the image has one frame (0)")
    if data.ndim != 2:
        raise InputError(f"{path}: expected a 2-D image, got data of shape {data.shape}")
    return data


def _take(path, data, axis, index, what):
    n = data.shape[axis]
    if not -n <= index < n:
        raise InputError(f"{path}: --{what} {index} is out of range (the file has {n})")
    return np.take(data, index, axis=axis)


def _check_values(path: Path, plane: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(plane):
        raise InputError(f"{path}: complex-valued data is not a micrograph")
    plane = np.asarray(plane, dtype=np.float32)
    finite = np.isfinite(plane)
    if not finite.any():
        raise InputError(f"{path}: all pixels are NaN or infinite")
    if not finite.all():
        fill = float(np.median(plane[finite]))
        logger.warning("%s: %d non-finite pixels replaced by the median %.4g", path,
                       int((~finite).sum()), fill)
        plane = np.where(finite, plane, fill).astype(np.float32)
    if min(plane.shape) < 8:
        raise InputError(f"{path}: image of shape {plane.shape} is too small (at least 8x8 pixels)")
    lo, hi = float(plane.min()), float(plane.max())
    if lo == hi:
        raise InputError(f"{path}: image is constant (every pixel is {lo:g}): nothing to detect")
    return np.ascontiguousarray(plane)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _json_pixel_size_nm(description: str) -> float | None:
    """Pixel size from a JSON image description with ``pixel_size_nm`` (her2net, tifffile)."""
    text = (description or "").strip()
    if not text.startswith("{"):
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    if "pixel_size_nm" in meta:
        value = meta["pixel_size_nm"]
        return float(value) if value is not None else None
    for key in ("pixel_size", "PixelSize", "pixelsize"):
        if key in meta:
            unit = meta.get("pixel_size_unit", meta.get("unit", "nm"))
            return to_nm(float(meta[key]), unit)
    return None
