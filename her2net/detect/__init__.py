"""Label detection: tiled network inference, peaks, size and intensity, batches and overlays.

``detect`` finds the labels of one micrograph; ``load_model`` loads a checkpoint (the shipped one
by default, re-exported from :mod:`her2net.model`). torch is imported when first needed.
"""

from her2net.detect.api import DETECTION_COLUMNS, detect, detect_image
from her2net.detect.postprocess import find_peaks

__all__ = ["detect", "detect_image", "load_model", "find_peaks", "DETECTION_COLUMNS"]


def __getattr__(name):
    if name == "load_model":
        from her2net.model import load_model

        return load_model
    raise AttributeError(f"module 'her2net.detect' has no attribute {name!r}")


class _CallableModule(__import__("types").ModuleType):
    """Lets ``her2net.detect(...)`` call :func:`detect` even after the subpackage
    ``her2net.detect`` was imported (which replaces the lazy top-level function by this module)."""

    def __call__(self, *args, **kwargs):
        return detect(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
