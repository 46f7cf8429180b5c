"""Contact sheet of simulated images with the truth overlaid, to judge realism at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_preview"]

_KIND_COLOURS = {"monomer": "#ffcc00", "dimer": "#ff3355", "cluster": "#33ccff"}


def write_preview(root: Path, manifest: pd.DataFrame, truth: pd.DataFrame, path: Path, *,
                  max_images: int = 8) -> None:
    """Write a PNG contact sheet of up to ``max_images`` images of a simulated data set.

    Each panel shows an image (1–99.5 percentile stretch) and, on its right half only, the truth
    (yellow monomers, red dimers, blue clusters) and the mask outline, so that the labels can be
    judged with and without the overlay.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import tifffile

    rows = manifest.head(max_images)
    n = len(rows)
    ncols = min(4, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (_, row) in zip(axes.ravel(), rows.iterrows()):
        # tifffile directly: read_image rightly refuses constant images, and a mask can be constant.
        image = tifffile.imread(Path(root) / row["image"]).astype(np.float32)
        mask = tifffile.imread(Path(root) / row["mask"]).astype(np.float32)
        lo, hi = np.percentile(image, [1, 99.5])
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        w = image.shape[1]
        ax.contour(np.where(np.arange(w)[None, :] >= w / 2, mask, np.nan), levels=[0.5, 1.5],
                   colors=["#00ff88", "#ff8800"], linewidths=0.6)
        pts = truth[(truth["image"] == row["image"]) & (truth["x_px"] >= w / 2)]
        for kind, colour in _KIND_COLOURS.items():
            sel = pts[pts["kind"] == kind]
            ax.scatter(sel["x_px"], sel["y_px"], s=14, facecolors="none", edgecolors=colour, linewidths=0.6)
        ax.axvline(w / 2 - 0.5, color="white", lw=0.4, alpha=0.5)
        ax.set_title(f"{row['image']}  {row['pixel_size_nm']:.2f} nm/px  "
                     f"{int((truth['image'] == row['image']).sum())} labels", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
