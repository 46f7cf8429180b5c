"""PNG overlays of detections on their micrograph, for checking by eye."""

from __future__ import annotations

import numpy as np

__all__ = ["write_overlay", "MAX_OVERLAY_PX"]

#: Longest side of an overlay image in pixels (larger micrographs are binned down).
MAX_OVERLAY_PX = 1600
#: Images smaller than this are drawn enlarged by an integer factor.
MIN_OVERLAY_PX = 600


def _bin_down(image: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return np.asarray(image, dtype=np.float32)
    h = image.shape[0] // factor * factor
    w = image.shape[1] // factor * factor
    view = np.asarray(image[:h, :w], dtype=np.float32).reshape(h // factor, factor, w // factor, factor)
    return view.mean(axis=(1, 3))


def write_overlay(path, image: np.ndarray, detections, *, pixel_size_nm: float | None = None,
                  title: str | None = None, max_px: int = MAX_OVERLAY_PX,
                  vmin_score: float | None = None) -> None:
    """Draw detections as circles coloured by score over the image and save a PNG.

    Parameters
    ----------
    path : str or Path
        Output PNG (written as given: wrap in :func:`her2net.io.atomic_write` or an atomic
        folder for safety).
    image : ndarray, shape (H, W)
        The micrograph (raw values; shown with a 0.5-99.5 percentile stretch).
    detections : pandas.DataFrame
        Columns x_px, y_px, score and optionally diameter_nm.
    pixel_size_nm : float, optional
        Used to draw circles of the measured diameter and a scale bar.
    title : str, optional
    max_px : int
        Larger images are binned by an integer factor so their longest side is at most this.
    vmin_score : float, optional
        Lower end of the colour scale, usually the detection threshold (default: the smallest
        score, or 0).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.collections import EllipseCollection

    factor = max(1, int(np.ceil(max(image.shape) / max_px)))
    shown = _bin_down(image, factor)
    step = max(1, max(shown.shape) // 512)
    lo, hi = np.percentile(shown[::step, ::step], (0.5, 99.5))
    # Small images are drawn enlarged so that a person can see the labels.
    zoom = max(1, round(MIN_OVERLAY_PX / max(shown.shape)))
    dpi = 100
    height, width = shown.shape[0] * zoom, shown.shape[1] * zoom
    fig_w, fig_h = width + 110, height + 30
    fig = plt.figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
    ax = fig.add_axes([0.0, 0.0, width / fig_w, height / fig_h])
    ax.imshow(shown, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    ax.set_axis_off()
    width, height = shown.shape[1], shown.shape[0]  # data units from here on
    n = len(detections)
    scores = np.asarray(detections["score"], dtype=float) if n else np.zeros(0)
    if vmin_score is None:
        vmin_score = float(scores.min()) if n else 0.0
    norm = matplotlib.colors.Normalize(vmin=min(float(vmin_score), 0.999), vmax=1.0)
    cmap = matplotlib.colormaps["cool"]  # visible on grey
    if n:
        # Pixel-centre convention: binned pixel j covers input pixels j*f .. j*f+f-1.
        x = (np.asarray(detections["x_px"], dtype=float) + 0.5) / factor - 0.5
        y = (np.asarray(detections["y_px"], dtype=float) + 0.5) / factor - 0.5
        diameter = np.full(n, 8.0)
        if pixel_size_nm and "diameter_nm" in detections:
            measured = np.asarray(detections["diameter_nm"], dtype=float) / pixel_size_nm
            diameter = np.where(np.isfinite(measured), np.minimum(measured, 24.0 / pixel_size_nm), 8.0)
        diameter = np.maximum(diameter / factor * 1.4, 6.0 / zoom)
        circles = EllipseCollection(diameter, diameter, np.zeros(n), units="xy",
                                    offsets=np.column_stack([x, y]), offset_transform=ax.transData,
                                    facecolors="none", edgecolors=cmap(norm(scores)),
                                    linewidths=1.0)
        ax.add_collection(circles)
    if pixel_size_nm:
        bar_nm = _nice_length(0.2 * shown.shape[1] * factor * pixel_size_nm)
        bar_px = bar_nm / pixel_size_nm / factor
        ax.plot([0.04 * width, 0.04 * width + bar_px], [0.96 * height] * 2, color="white", lw=3)
        ax.text(0.04 * width, 0.94 * height, f"{bar_nm:g} nm", color="white", fontsize=9)
    cax = fig.add_axes([(width * zoom + 15) / fig_w, 0.1 * height * zoom / fig_h, 15 / fig_w,
                        0.8 * height * zoom / fig_h])
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, label="score")
    text = f"{title}: " if title else ""
    text += f"{n} labels" + (f" (binned {factor}x)" if factor > 1 else "")
    fig.text(5 / fig_w, 1 - 15 / fig_h, text, fontsize=9, va="center")
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)


def _nice_length(value: float) -> float:
    exponent = np.floor(np.log10(value))
    for step in (5, 2, 1):
        if step * 10**exponent <= value:
            return float(step * 10**exponent)
    return float(10**exponent)
