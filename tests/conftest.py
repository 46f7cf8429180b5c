import os

import pytest

# Keep the test suite friendly to small machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped checkpoint (or $HER2NET_TEST_CHECKPOINT), loaded once."""
    from pathlib import Path

    from her2net.model import load_model, shipped_checkpoint_path

    path = Path(os.environ.get("HER2NET_TEST_CHECKPOINT") or shipped_checkpoint_path())
    return load_model(path, device="cpu")
