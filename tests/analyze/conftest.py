import numpy as np
import pandas as pd
import pytest

from her2net.analyze import Window, dimer_pattern
from her2net.io import write_tiff


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """Three cells with masks (flat + ruffle): A random (2 images), B half dimers, C all dimers."""
    folder = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    rows, manifest, truth = [], [], {}
    for i, (cell, fraction) in enumerate([("A", 0.0), ("A", 0.0), ("B", 0.5), ("C", 1.0)]):
        mask = np.zeros((300, 400), np.uint8)
        mask[10:290, 10:390] = 1
        mask[150:290, 200:390] = 2
        write_tiff(folder / f"mask{i}.tif", mask, pixel_size_nm=2.0)
        write_tiff(folder / f"img{i}.tif", rng.normal(0, 1, mask.shape).astype(np.float32), pixel_size_nm=2.0)
        window = Window(mask > 0, 2.0)
        pattern = dimer_pattern(window, n_receptors=int(350 * window.area_um2), dimer_fraction=fraction, rng=rng)
        truth[cell] = pattern.label_dimer_fraction
        xy = pattern.points_nm
        rows.append(pd.DataFrame({"image": f"img{i}.tif", "x_px": xy[:, 0] / 2, "y_px": xy[:, 1] / 2,
                                  "x_nm": xy[:, 0], "y_nm": xy[:, 1], "score": 0.9, "diameter_nm": 10.0,
                                  "intensity": 1.0}))
        manifest.append({"image": f"img{i}.tif", "cell": cell, "pixel_size_nm": 2.0, "mask": f"mask{i}.tif"})
    pd.concat(rows).to_csv(folder / "detections.csv", index=False)
    pd.DataFrame(manifest).to_csv(folder / "cells.csv", index=False)
    return folder, truth
