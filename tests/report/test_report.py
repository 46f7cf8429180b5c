"""Figures and the report page."""

import numpy as np
import pandas as pd

from her2net.report import histogram_png, overlay_png

PNG = b"\x89PNG"


def test_histogram_is_a_png():
    cells = pd.DataFrame({"dimer_fraction": [0.02, 0.05, 0.3, 0.6],
                          "call": ["dimer-depleted", "dimer-depleted", "undetermined", "dimer-rich"]})
    assert histogram_png(cells, threshold=0.1).startswith(PNG)


def test_overlay_draws_on_a_blank_mask_canvas():
    region_map = np.ones((100, 120), np.uint8)
    region_map[:, 60:] = 2
    labels = pd.DataFrame({"x_px": [10.0, 12.0, 50.0, 80.0], "y_px": [10.0, 10.0, 50.0, 20.0],
                           "kind": ["dimer", "dimer", "monomer", "monomer"], "in_window": [True] * 4})
    png = overlay_png(labels, region_map=region_map, pixel_size_nm=2.0, image=None, title="t")
    assert png.startswith(PNG) and len(png) > 2000
