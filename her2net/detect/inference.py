"""Run the network over a whole (normalised, native-pixel-size) image in overlapping tiles.

Speed measures (see docs/detect.md): ``torch.inference_mode``, channels-last tensors, all CPU
cores for torch's intra-op threads (unless ``OMP_NUM_THREADS`` says otherwise), batch-norm folded
into the convolutions, bfloat16 on CPUs that run it natively, large tiles on CPU (less overlap),
batched tiles in bfloat16/float16 on CUDA, and peaks found per tile so that no full-size
probability map is ever held.
"""

from __future__ import annotations

import copy
import logging
import os
import weakref

import numpy as np

from her2net.detect.postprocess import find_peaks
from her2net.detect.tiling import plan_tiles, reflect_window, tile_margin_px
from her2net.errors import InputError

__all__ = [
    "Runner",
    "get_runner",
    "resolve_device",
    "check_tile_px",
    "detect_peaks_tiled",
    "predict_maps",
    "DEFAULT_TILE_PX",
    "DEFAULT_BATCH_SIZE",
]

logger = logging.getLogger(__name__)

#: Default network input (window) size per device type. On CPU a large window keeps the overlap
#: small (a 2048x2048 image is one window); on CUDA smaller windows are batched.
DEFAULT_TILE_PX = {"cpu": 2304, "cuda": 1024}
DEFAULT_BATCH_SIZE = {"cpu": 1, "cuda": 8}
_PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; check that a requested CUDA device exists."""
    import torch

    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA device is available here (use cpu or auto)")
        return device
    if device != "cpu":
        raise InputError(f"--device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def _set_cpu_threads() -> None:
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return  # the user (or a test harness) chose the thread count
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def _fold_batchnorm(net):
    """Fold every Conv2d followed by BatchNorm2d inside a Sequential into one convolution."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in net.modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        if not any(isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d)
                   for a, b in zip(layers, layers[1:])):
            continue
        fused, i = [], 0
        while i < len(layers):
            if (i + 1 < len(layers) and isinstance(layers[i], nn.Conv2d)
                    and isinstance(layers[i + 1], nn.BatchNorm2d)):
                fused.append(fuse_conv_bn_eval(layers[i], layers[i + 1]))
                i += 2
            else:
                fused.append(layers[i])
                i += 1
        module._modules.clear()
        for j, layer in enumerate(fused):
            module.add_module(str(j), layer)
    return net


def cpu_has_native_bfloat16() -> bool:
    """True when oneDNN runs bfloat16 convolutions natively on this CPU (AVX512-BF16 or AMX);
    elsewhere bfloat16 is emulated and slower than float32."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch builds without oneDNN
        return False


class Runner:
    """A network prepared for inference on one device in one precision.

    Parameters
    ----------
    net : torch.nn.Module
        The trained network (not modified: a folded copy is made).
    device : str
        'cpu' or 'cuda[:N]' (already resolved).
    precision : {'auto', 'float32', 'bfloat16', 'float16'}
        'auto': bfloat16 on CPUs with native bfloat16 support (AVX512-BF16/AMX: about twice as
        fast as float32), float32 on other CPUs; bfloat16 on CUDA (float16 where bfloat16 is
        not supported).
    """

    def __init__(self, net, *, device: str, precision: str = "auto"):
        import torch

        if precision not in _PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
        self.device = device
        is_cuda = device.startswith("cuda")
        if precision == "auto":
            if is_cuda:
                precision = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
            else:
                precision = "bfloat16" if cpu_has_native_bfloat16() else "float32"
        if precision == "float16" and not is_cuda:
            raise InputError("--precision float16 needs --device cuda (use bfloat16 or float32 on CPU)")
        self.precision = precision
        self.dtype = getattr(torch, precision)
        prepared = _fold_batchnorm(copy.deepcopy(net).eval().float())
        prepared = prepared.to(device=device, dtype=self.dtype, memory_format=torch.channels_last)
        self.net = prepared
        self.size_multiple = int(getattr(net, "size_multiple", 16))
        self.receptive_field_px = int(getattr(net, "receptive_field_px", 128))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run a batch (B, H, W) of normalised windows; return (B, 3, H, W) float32 numpy maps:
        probability, dx, dy."""
        import torch

        if not self.device.startswith("cuda"):
            _set_cpu_threads()
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))[:, None]
            x = x.to(device=self.device, non_blocking=True).to(self.dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            out = self.net(x).float()
            out[:, 0] = torch.sigmoid(out[:, 0])
            return out.cpu().numpy()


_RUNNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def get_runner(net, *, device: str = "auto", precision: str = "auto") -> Runner:
    """A cached :class:`Runner` for ``net`` on ``device`` in ``precision``."""
    device = resolve_device(device)
    per_net = _RUNNERS.setdefault(net, {})
    key = (device, precision)
    if key not in per_net:
        per_net[key] = Runner(net, device=device, precision=precision)
    return per_net[key]


def _halo_px(min_distance_px: int, max_offset_px: float = 1.5) -> int:
    # A peak owned by a core is found from pixels at most max_offset away; its local-maximum test
    # looks min_distance further.
    return int(min_distance_px + np.ceil(max_offset_px) + 2)


def check_tile_px(runner: Runner, tile_px: int | None, min_distance_px: int) -> int:
    """The network input size per tile: ``tile_px``, or the device's default when None.

    Raises
    ------
    InputError
        When ``tile_px`` leaves no core inside the margin the receptive field needs.
    """
    kind = "cuda" if runner.device.startswith("cuda") else "cpu"
    tile_px = DEFAULT_TILE_PX[kind] if tile_px is None else int(tile_px)
    margin = tile_margin_px(runner.receptive_field_px, size_multiple=runner.size_multiple,
                            halo_px=_halo_px(min_distance_px))
    if tile_px < 2 * margin + runner.size_multiple:
        raise InputError(
            f"--tile {tile_px}: too small for this network; use at least "
            f"{2 * margin + runner.size_multiple} pixels (receptive field "
            f"{runner.receptive_field_px} px)"
        )
    return tile_px


def _tiles_and_margin(shape, runner: Runner, tile_px: int | None, min_distance_px: int):
    tile_px = check_tile_px(runner, tile_px, min_distance_px)
    halo = _halo_px(min_distance_px)
    margin = tile_margin_px(runner.receptive_field_px, size_multiple=runner.size_multiple,
                            halo_px=halo)
    tiles = plan_tiles(shape, tile_px=tile_px, margin_px=margin, size_multiple=runner.size_multiple)
    return tiles, margin, halo


def _batches(tiles, batch_size: int):
    """Consecutive tiles grouped into batches of equal window shape (edge tiles may be smaller)."""
    group = []
    for tile in tiles:
        if group and (len(group) == batch_size or tile.window_shape != group[0].window_shape):
            yield group
            group = []
        group.append(tile)
    if group:
        yield group


def _iter_outputs(image: np.ndarray, runner: Runner, tiles, *, batch_size: int, keep_px: int):
    """Yield (tile, (r0, c0), maps) with maps (3, h, w) for the tile's core grown by ``keep_px``
    and clipped to the image; (r0, c0) is the image position of maps[:, 0, 0]."""
    height, width = image.shape
    batch_size = max(1, int(batch_size))
    for group in _batches(tiles, batch_size):
        windows = np.stack([reflect_window(image, t.window_rows, t.window_cols) for t in group])
        out = runner(windows)
        del windows
        for tile, maps in zip(group, out):
            r0 = max(0, tile.core_rows[0] - keep_px)
            r1 = min(height, tile.core_rows[1] + keep_px)
            c0 = max(0, tile.core_cols[0] - keep_px)
            c1 = min(width, tile.core_cols[1] + keep_px)
            wr, wc = tile.window_rows[0], tile.window_cols[0]
            yield tile, (r0, c0), maps[:, r0 - wr:r1 - wr, c0 - wc:c1 - wc]  # a view
        del out


def detect_peaks_tiled(image: np.ndarray, runner: Runner, *, threshold: float,
                       min_distance_px: int = 2, tile_px: int | None = None,
                       batch_size: int | None = None) -> np.ndarray:
    """Detections on a normalised image at the model's native pixel size, tile by tile.

    Each tile's peaks are searched on its core plus a halo (clipped to the image) and kept only
    when the refined position falls in the core, so every label is reported once, exactly as an
    untiled run would report it.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Normalised image (labels bright), at the network's native pixel size.
    runner : Runner
    threshold : float
        Probability threshold of a peak.
    min_distance_px : int
        Minimum peak distance (native pixels).
    tile_px : int, optional
        Network input size; default per device (:data:`DEFAULT_TILE_PX`).
    batch_size : int, optional
        Tiles per forward pass; default per device (:data:`DEFAULT_BATCH_SIZE`).

    Returns
    -------
    ndarray, shape (N, 3)
        x_px, y_px, score in the image's pixel frame, sorted by decreasing score.
    """
    height, width = image.shape
    tiles, _, halo = _tiles_and_margin(image.shape, runner, tile_px, min_distance_px)
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE["cuda" if runner.device.startswith("cuda") else "cpu"]
    found = []
    for tile, (r0, c0), maps in _iter_outputs(image, runner, tiles, batch_size=batch_size,
                                              keep_px=halo):
        peaks = find_peaks(maps[0], maps[1:], threshold=threshold, min_distance_px=min_distance_px)
        if not len(peaks):
            continue
        peaks[:, 0] += c0
        peaks[:, 1] += r0
        # Owner: the tile whose core holds the pixel nearest to the refined position.
        col = np.clip(np.floor(peaks[:, 0] + 0.5), 0, width - 1)
        row = np.clip(np.floor(peaks[:, 1] + 0.5), 0, height - 1)
        own = ((row >= tile.core_rows[0]) & (row < tile.core_rows[1])
               & (col >= tile.core_cols[0]) & (col < tile.core_cols[1]))
        found.append(peaks[own])
    if not found:
        return np.zeros((0, 3))
    out = np.concatenate(found)
    return out[np.argsort(-out[:, 2], kind="stable")]


def predict_maps(image: np.ndarray, runner: Runner, *, tile_px: int | None = None,
                 batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full probability and offset maps of a normalised image (for inspection and tests).

    Holds full-size maps: for large images prefer :func:`detect_peaks_tiled`.

    Returns
    -------
    probability : ndarray of float32, shape (H, W)
    offsets : ndarray of float32, shape (2, H, W)
        (dx, dy) in pixels.
    """
    tiles, _, _ = _tiles_and_margin(image.shape, runner, tile_px, 2)
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE["cuda" if runner.device.startswith("cuda") else "cpu"]
    maps = np.zeros((3,) + image.shape, dtype=np.float32)
    for tile, (r0, c0), part in _iter_outputs(image, runner, tiles, batch_size=batch_size,
                                              keep_px=0):
        maps[:, r0:r0 + part.shape[1], c0:c0 + part.shape[2]] = part
    return maps[0], maps[1:]
