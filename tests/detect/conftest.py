import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def toy_model():
    """A classical stand-in for the U-Net (see toynet.py) at 1 nm/px, threshold 0.5."""
    from toynet import ToyNet

    from her2net.model import Her2netModel

    return Her2netModel(net=ToyNet(), pixel_size_nm=1.0, threshold=0.5, min_distance_px=2)


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory):
    """A randomly initialised U-Net of the shipped configuration, saved as a checkpoint."""
    import torch

    from her2net.model import DEFAULT_MODEL_CONFIG, UNet, save_checkpoint

    torch.manual_seed(0)
    net = UNet(**DEFAULT_MODEL_CONFIG).eval()
    path = tmp_path_factory.mktemp("ckpt") / "random.pt"
    save_checkpoint(path, net, {"model_config": dict(DEFAULT_MODEL_CONFIG), "pixel_size_nm": 1.0,
                                "threshold": 0.5, "min_distance_px": 2})
    return path


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)
