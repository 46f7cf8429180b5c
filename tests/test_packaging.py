"""The installed package holds every subpackage and finds the shipped checkpoint."""

import tomllib
from pathlib import Path

import her2net

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "her2net").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"
    assert "her2net.checkpoints" in listed


def test_shipped_checkpoints_are_found_through_the_package_and_small():
    from her2net.model import SHIPPED_CHECKPOINTS, shipped_checkpoint_path

    paths = [shipped_checkpoint_path(name) for name in SHIPPED_CHECKPOINTS]
    assert shipped_checkpoint_path() == paths[0]
    for path in paths:
        assert path.is_file(), f"{path} missing"
    assert sum(path.stat().st_size for path in paths) < 20e6
    assert her2net.__version__
