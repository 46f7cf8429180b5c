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


def test_shipped_checkpoint_is_found_through_the_package_and_small():
    from her2net.model import shipped_checkpoint_path

    path = shipped_checkpoint_path()
    assert path.is_file(), f"{path} missing"
    assert path.stat().st_size < 20e6
    assert her2net.__version__
