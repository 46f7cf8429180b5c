"""The detector network (plain torch), its input preparation and its checkpoints."""

from her2net.model.checkpoint import (
    FORMAT_VERSION,
    SHIPPED_CHECKPOINTS,
    Her2netModel,
    checkpoint_path,
    describe_checkpoint,
    load_model,
    read_checkpoint,
    save_checkpoint,
    shipped_checkpoint_path,
)
from her2net.model.preprocess import (
    normalize_image,
    points_to_input_frame,
    points_to_resampled_frame,
    resample_image,
    resampled_shape,
)
from her2net.model.unet import DEFAULT_MODEL_CONFIG, UNet

__all__ = [
    "UNet",
    "DEFAULT_MODEL_CONFIG",
    "Her2netModel",
    "load_model",
    "save_checkpoint",
    "describe_checkpoint",
    "read_checkpoint",
    "shipped_checkpoint_path",
    "checkpoint_path",
    "SHIPPED_CHECKPOINTS",
    "FORMAT_VERSION",
    "normalize_image",
    "resample_image",
    "resampled_shape",
    "points_to_input_frame",
    "points_to_resampled_frame",
]
