"""Inference checkpoints: weights plus the metadata needed to use them, in one file.

A checkpoint is a dict saved with ``torch.save``: ``format`` ("her2net-checkpoint"),
``format_version``, ``state_dict`` and ``metadata`` (plain JSON-like types only, so that it loads
with ``torch.load(..., weights_only=True)``). Metadata keys: model_config, pixel_size_nm,
polarity, threshold, relative_threshold (optional), noise_peak_rate (optional), min_distance_px,
training_config, data, validation, git_commit, date, her2net_version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from her2net.errors import InputError

__all__ = [
    "Her2netModel",
    "load_model",
    "save_checkpoint",
    "describe_checkpoint",
    "read_checkpoint",
    "shipped_checkpoint_path",
    "checkpoint_path",
    "FORMAT_VERSION",
    "SHIPPED_CHECKPOINT",
    "SHIPPED_CHECKPOINTS",
]

logger = logging.getLogger(__name__)

FORMAT = "her2net-checkpoint"
FORMAT_VERSION = 1
SHIPPED_CHECKPOINT = "her2net-v1.pt"
# Shipped checkpoints by the name ``--checkpoint`` takes: the general detector, and a specialist
# for bright-field TEM of freeze-fracture replicas (docs/training.md, "The replica checkpoint").
SHIPPED_CHECKPOINTS = {"default": SHIPPED_CHECKPOINT, "replicas": "her2net-v1-replicas.pt"}


@dataclass
class Her2netModel:
    """A loaded detector: the network and what is needed to use it.

    Attributes
    ----------
    net : torch.nn.Module
        The U-Net in eval mode.
    pixel_size_nm : float
        Native pixel size: inference rescales images to it.
    threshold : float
        Detection threshold on the heatmap probability, calibrated on validation data.
    relative_threshold : float
        Per-image raise of the threshold (see :func:`her2net.detect.postprocess.image_threshold`);
        0 when the checkpoint has none.
    min_distance_px : int
        Minimum distance between peaks in native pixels.
    noise_peak_rate : dict or None
        The network's null: ``thresholds`` and ``rate_per_um2``, peaks per square micrometre
        scoring at least each threshold in label-free noise (``python -m train calibrate``);
        None when the checkpoint has none (the threshold is then never lowered, see
        :mod:`her2net.detect.noise_floor`).
    sparse_threshold : dict or None
        The threshold where an image's labels are sparse among its clutter: ``threshold``,
        ``below_per_um2`` and ``confident_score`` (see
        :func:`her2net.detect.postprocess.auto_threshold`; ``python -m train calibrate
        --replicas``); None when the checkpoint has none.
    metadata : dict
        Everything stored with the weights.
    path : Path or None
    device : str
    replica_model : Her2netModel or None
        The shipped replica specialist that :func:`her2net.detect.detect` routes dark-label
        images on textured backgrounds to (:mod:`her2net.detect.routing`); set only on the
        default model loaded when no checkpoint was named.
    """

    net: object
    pixel_size_nm: float
    threshold: float
    relative_threshold: float = 0.0
    min_distance_px: int = 2
    noise_peak_rate: dict | None = None
    sparse_threshold: dict | None = None
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    device: str = "cpu"
    replica_model: Her2netModel | None = None


def shipped_checkpoint_path(name: str = "default") -> Path:
    """Path of a shipped checkpoint inside the installed package (no network, no cwd).

    Parameters
    ----------
    name : {'default', 'replicas'}
        A key of :data:`SHIPPED_CHECKPOINTS`.
    """
    if name not in SHIPPED_CHECKPOINTS:
        raise InputError(f"no shipped checkpoint named {name!r} (shipped: "
                         f"{', '.join(SHIPPED_CHECKPOINTS)})")
    return Path(str(resources.files("her2net.checkpoints") / SHIPPED_CHECKPOINTS[name]))


def checkpoint_path(path=None) -> Path:
    """The file ``--checkpoint`` means: None is the default shipped checkpoint, a shipped name
    ('replicas') that is not a file here is that shipped checkpoint, anything else a path.

    Examples
    --------
    >>> checkpoint_path().name, checkpoint_path("replicas").name
    ('her2net-v1.pt', 'her2net-v1-replicas.pt')
    """
    if path is None:
        return shipped_checkpoint_path()
    if isinstance(path, str) and path in SHIPPED_CHECKPOINTS and not Path(path).exists():
        return shipped_checkpoint_path(path)
    return Path(path)


def _read(path: Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "weights only load failed" in reason.lower():
            # torch's advice to load it with weights_only=False is not for users of a detector.
            detail = str(exc).split("WeightsUnpickler error:")[-1].strip().splitlines()
            detail = next((line.strip() for line in detail if line.strip()), "")[:120]
            raise InputError(f"{path}: not a her2net inference checkpoint (not loadable "
                             f"weights-only: {detail or 'unpickling failed'}; a Lightning run "
                             "checkpoint becomes one with `python -m train export`)") from None
        raise InputError(f"{path}: not a readable her2net checkpoint ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a her2net inference checkpoint (export one with "
                         "`python -m train export`)")
    version = int(payload.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise InputError(
            f"{path}: checkpoint format version {version} is newer than this her2net understands "
            f"({FORMAT_VERSION}); upgrade her2net"
        )
    return payload


def read_checkpoint(path) -> dict:
    """The stored checkpoint as saved: ``format``, ``format_version``, ``state_dict``, ``metadata``.

    Loaded weights-only; for tools that work on the weights themselves (``python -m train
    average``). :func:`load_model` is what inference uses.

    Raises
    ------
    InputError
        One line naming the file: missing, unreadable, not a her2net checkpoint, or of a newer
        format.
    """
    return _read(Path(path))


def load_model(path=None, *, device: str = "cpu") -> Her2netModel:
    """Load an inference checkpoint (the shipped one when ``path`` is None).

    Parameters
    ----------
    path : str or Path, optional
        Checkpoint written by ``python -m train export``, or the name of a shipped one
        ('default', 'replicas'; :func:`checkpoint_path`).
    device : {'cpu', 'cuda', 'cuda:N', 'auto'}
        Where to put the network.

    Returns
    -------
    Her2netModel
    """
    import torch

    from her2net.model.unet import UNet

    path = checkpoint_path(path)
    payload = _read(path)
    metadata = payload["metadata"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available here")
    net = UNet(**metadata["model_config"])
    net.load_state_dict(payload["state_dict"])
    net.eval().to(device)
    if str(device) == "cpu":
        net = net.to(memory_format=torch.channels_last)
    return Her2netModel(
        net=net,
        pixel_size_nm=float(metadata["pixel_size_nm"]),
        threshold=float(metadata["threshold"]),
        relative_threshold=float(metadata.get("relative_threshold", 0.0)),
        min_distance_px=int(metadata.get("min_distance_px", 2)),
        noise_peak_rate=metadata.get("noise_peak_rate"),
        sparse_threshold=metadata.get("sparse_threshold"),
        metadata=metadata,
        path=path,
        device=str(device),
    )


def save_checkpoint(path, net, metadata: dict) -> Path:
    """Write an inference checkpoint (weights + metadata) that :func:`load_model` reads.

    ``metadata`` must hold model_config, pixel_size_nm and threshold, in plain types.
    """
    import torch

    from her2net.io.atomic import atomic_write

    for key in ("model_config", "pixel_size_nm", "threshold"):
        if key not in metadata:
            raise ValueError(f"checkpoint metadata lacks {key!r}")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "state_dict": state,
               "metadata": metadata}
    path = Path(path)
    with atomic_write(path, mode="wb") as handle:
        torch.save(payload, handle)
    return path


def describe_checkpoint(path=None) -> dict:
    """Metadata of a checkpoint (default: the shipped one) as a dict, with 'status' when it is
    missing or unreadable."""
    path = checkpoint_path(path)
    if not path.is_file():
        return {"path": str(path), "status": "no such checkpoint file"}
    try:
        payload = _read(path)
    except InputError as exc:
        return {"path": str(path), "status": str(exc)}
    info = {"path": str(path), "size_MB": round(path.stat().st_size / 1e6, 2),
            "format_version": payload["format_version"]}
    info.update(payload["metadata"])
    return info
