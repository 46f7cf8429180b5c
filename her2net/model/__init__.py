"""The detector network (plain torch), its input preparation and its checkpoints."""

from her2net.model.checkpoint import (
    FORMAT_VERSION,
    Her2netModel,
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
    "FORMAT_VERSION",
    "normalize_image",
    "resample_image",
    "resampled_shape",
    "points_to_input_frame",
    "points_to_resampled_frame",
]
