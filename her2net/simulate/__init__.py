"""Physics-based simulator of labelled liquid-STEM and bright-field TEM micrographs.

Public API (see docs/simulator.md)
----------------------------------
simulate_tile(rng, size, pixel_size_nm=None, **overrides) -> (image, points, metadata)
    One randomised image for on-the-fly training.
simulate_dataset(out_dir, *, cells, images_per_cell, size_px, pixel_size_nm=None,
                 pixel_size_range_nm=(0.8, 1.6), dose_e_per_A2=None, label="gold",
                 polarity="bright", dimer_fraction=None, dimer_fraction_range=(0.0, 0.5),
                 dimer_absent_fraction=0.2, labeling_efficiency=1.0, seed=0, workers=1,
                 float_output=False, overwrite=False, preview=False, **options) -> SimulatedDataset
    Whole cells written as images, masks, manifest and truth CSVs (what `her2net simulate` does).
simulate_cell_points(rng, *, size_px=1024, pixel_size_nm=1.0, density_per_um2=500.0, ...)
    -> CellPoints(mask, points, pixel_size_nm)
    Truth positions and mask of one image of one cell, without rendering (fast).
"""

from her2net.simulate.cell import CellPoints, simulate_cell_points
from her2net.simulate.dataset import SimulatedDataset, simulate_dataset
from her2net.simulate.labels import LabelSpec
from her2net.simulate.params import CLEAN_SCENE, PARAM_NAMES, VISIBLE_GOLD, draw_params
from her2net.simulate.tile import simulate_tile

__all__ = ["simulate_tile", "simulate_dataset", "simulate_cell_points", "SimulatedDataset", "CellPoints",
           "LabelSpec", "draw_params", "PARAM_NAMES", "CLEAN_SCENE", "VISIBLE_GOLD"]
