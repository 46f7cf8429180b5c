"""The library's docstring examples run (a stale example is a defect)."""

import doctest
import importlib
import pkgutil

import pytest

import her2net

MODULES = sorted(m.name for m in pkgutil.walk_packages(her2net.__path__, "her2net.")
                 if not m.name.endswith("__main__"))  # importing it runs the CLI


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
