"""Figures of the analysis, rendered to PNG bytes (matplotlib, Agg backend)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd

__all__ = ["histogram_png", "curves_png", "overlay_png", "CALL_COLOURS", "KIND_COLOURS"]

logger = logging.getLogger(__name__)

CALL_COLOURS = {"dimer-depleted": "#1f77b4", "undetermined": "#9e9e9e", "dimer-rich": "#d62728",
                "too-few-labels": "#e0e0e0"}
KIND_COLOURS = {"monomer": "#00bcd4", "dimer": "#ffb300", "cluster": "#e53935"}


def _figure(width_in: float, height_in: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width_in, height_in), dpi=110)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def histogram_png(cells: pd.DataFrame, *, threshold: float) -> bytes:
    """Population histogram of the dimer fraction, stacked by call, threshold marked."""
    fig, ax = _figure(6.4, 3.6)
    bins = np.linspace(0, 1, 21)
    data, colours, names = [], [], []
    for call in ("dimer-depleted", "undetermined", "dimer-rich"):
        values = cells.loc[cells["call"] == call, "dimer_fraction"].dropna().to_numpy()
        data.append(values)
        colours.append(CALL_COLOURS[call])
        names.append(f"{call} ({len(values)})")
    ax.axvspan(0, threshold, color=CALL_COLOURS["dimer-depleted"], alpha=0.08, lw=0)
    ax.hist(data, bins=bins, stacked=True, color=colours, label=names, edgecolor="white")
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.text(threshold, ax.get_ylim()[1] * 0.97, f" threshold {threshold:g}", va="top", fontsize=8)
    ax.set_xlabel("dimer fraction (fraction of receptors in dimers, chance pairs removed)")
    ax.set_ylabel("cells")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, 1)
    ax.legend(frameon=False, fontsize=8, title="call", title_fontsize=8)
    ax.set_title("Dimer fraction per cell (dimer-depleted subpopulation shaded)", fontsize=10)
    return _png(fig)


def curves_png(curves: pd.DataFrame, *, title: str, dimer_distance_nm: float) -> bytes:
    """g(r) and L(r) - r of one cell or call, with the global 95% envelope of random placement."""
    import matplotlib.pyplot as plt

    _figure(1, 1)  # selects the Agg backend
    plt.close("all")
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.0), dpi=110)
    r = curves["r_nm"].to_numpy()
    ru = curves["r_upper_nm"].to_numpy()
    ax = axes[0]
    ax.fill_between(r, curves["g_low"], curves["g_high"], color="0.85", label="95% global envelope (random)")
    ax.plot(r, curves["g_mean_random"], color="0.5", lw=1, ls="--", label="random placement (mean)")
    ax.plot(r, curves["g"], color="#d62728", lw=1.5, label="observed")
    ax.axvline(dimer_distance_nm, color="k", lw=0.8, ls=":")
    ax.set_xlabel("r (nm)")
    ax.set_ylabel("g(r)")
    p = curves["g_envelope_p_value"].iloc[0]
    ax.set_title(f"pair correlation (envelope test p = {p:.3g})", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    ax = axes[1]
    ax.fill_between(ru, curves["l_low"], curves["l_high"], color="0.85")
    ax.plot(ru, curves["l_minus_r"], color="#d62728", lw=1.5)
    ax.axhline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("r (nm)")
    ax.set_ylabel("L(r) − r (nm)")
    p = curves["l_envelope_p_value"].iloc[0]
    ax.set_title(f"Besag's L(r) − r (envelope test p = {p:.3g})", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def overlay_png(labels: pd.DataFrame, *, region_map: np.ndarray, pixel_size_nm: float,
                image: np.ndarray | None = None, field_nm: float = 800.0, title: str = "") -> bytes:
    """Labels of one image coloured by group kind, on the micrograph or on the mask.

    A square field of ``field_nm`` is shown around the densest part of the analysed area so that
    dimers stay visible.
    """
    fig, ax = _figure(4.6, 4.6)
    h, w = region_map.shape
    inside = labels[labels["in_window"].astype(bool)]
    half_px = 0.5 * field_nm / pixel_size_nm
    if len(inside):
        xy = inside[["x_px", "y_px"]].to_numpy()
        hist, ye, xe = np.histogram2d(xy[:, 1], xy[:, 0], bins=(max(1, h // max(1, int(2 * half_px))) + 1,
                                                                max(1, w // max(1, int(2 * half_px))) + 1))
        iy, ix = np.unravel_index(np.argmax(hist), hist.shape)
        cy, cx = 0.5 * (ye[iy] + ye[iy + 1]), 0.5 * (xe[ix] + xe[ix + 1])
    else:
        cy, cx = h / 2, w / 2
    y0, y1 = int(max(0, cy - half_px)), int(min(h, cy + half_px))
    x0, x1 = int(max(0, cx - half_px)), int(min(w, cx + half_px))
    extent = (x0 - 0.5, x1 - 0.5, y1 - 0.5, y0 - 0.5)
    if image is not None and image.shape == region_map.shape:
        crop = image[y0:y1, x0:x1]
        lo, hi = np.percentile(crop, [1, 99.5]) if crop.size else (0, 1)
        ax.imshow(crop, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, extent=extent)
        outside = np.ma.masked_where(region_map[y0:y1, x0:x1] > 0, np.ones((y1 - y0, x1 - x0)))
        ax.imshow(outside, cmap="Greys", alpha=0.35, vmin=0, vmax=1, extent=extent)
    else:
        canvas = np.where(region_map[y0:y1, x0:x1] == 2, 0.80, np.where(region_map[y0:y1, x0:x1] == 1, 0.92, 1.0))
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, extent=extent)
    shown = labels[(labels["x_px"] >= x0) & (labels["x_px"] < x1) & (labels["y_px"] >= y0) & (labels["y_px"] < y1)]
    for kind, colour in KIND_COLOURS.items():
        sel = shown[shown["kind"] == kind]
        ax.scatter(sel["x_px"], sel["y_px"], s=14, c=colour, edgecolors="k", linewidths=0.4,
                   label=f"{kind} ({len(sel)})", zorder=3)
    out = shown[~shown["in_window"].astype(bool)]
    if len(out):
        ax.scatter(out["x_px"], out["y_px"], s=8, c="none", edgecolors="0.4", linewidths=0.5,
                   label="outside mask", zorder=2)
    bar_nm = 100.0
    ax.plot([x0 + 0.05 * (x1 - x0), x0 + 0.05 * (x1 - x0) + bar_nm / pixel_size_nm],
            [y1 - 0.05 * (y1 - y0)] * 2, color="k", lw=3)
    ax.text(x0 + 0.05 * (x1 - x0), y1 - 0.075 * (y1 - y0), "100 nm", fontsize=8, va="bottom",
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
    ax.set_xlim(x0 - 0.5, x1 - 0.5)
    ax.set_ylim(y1 - 0.5, y0 - 0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title(title, fontsize=9)
    return _png(fig)
