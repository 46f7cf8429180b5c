"""her2net: find nanoparticle labels on HER2 receptors in electron micrographs and call
monomers, dimers and clusters per cell.

Heavy dependencies (torch) are imported lazily: ``import her2net`` and ``her2net --help`` stay fast.
"""

from her2net._version import __version__

__all__ = ["__version__", "read_image", "detect", "load_model", "simulate_tile", "analyze_cells"]


def __getattr__(name):
    # Lazy entry points so that importing the package does not import torch.
    if name == "read_image":
        from her2net.io import read_image

        return read_image
    if name == "detect":
        from her2net.detect import detect

        return detect
    if name == "load_model":
        from her2net.model import load_model

        return load_model
    if name == "simulate_tile":
        from her2net.simulate import simulate_tile

        return simulate_tile
    if name == "analyze_cells":
        from her2net.analyze import analyze_cells

        return analyze_cells
    raise AttributeError(f"module 'her2net' has no attribute {name!r}")
