"""Whole-cell geometry: outline, fields of view, region masks and labelled receptors.

A cell is a closed outline ``r(theta)`` (a radius with random harmonics, so the edge wiggles at
all scales). Each image is a square field of view inside it; some fields of view are placed across
the edge. Per image, ruffles are the upper tail of a smooth random field inside the cell. Receptor
complexes are placed in a window larger than the image (so that density does not drop at the image
border) and thinned by the labelling efficiency; only labels whose centres fall in the image and
inside the cell are reported.

:func:`simulate_cell_points` gives the truth of one image of one cell without rendering, fast
enough for thousands of cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from her2net.errors import InputError
from her2net.simulate.fields import sample_grid, smooth_field
from her2net.simulate.geometry import ComplexSpec, RegionMap, place_labels
from her2net.simulate.labels import LabelSpec

__all__ = ["CellOutline", "CellPoints", "draw_outline", "place_fields_of_view", "region_codes",
           "labelled_points", "region_complexes", "simulate_cell_points", "TRUTH_COLUMNS"]

TRUTH_COLUMNS = ("x_px", "y_px", "x_nm", "y_nm", "kind", "group", "region", "label", "diameter_nm",
                 "receptor_kind")

_N_THETA = 4096


@dataclass(frozen=True)
class CellOutline:
    """A cell outline centred at the origin: radius (nm) tabulated on ``_N_THETA`` angles."""

    radius_nm: np.ndarray

    def radius_at(self, theta: np.ndarray) -> np.ndarray:
        """Outline radius (nm) at angles ``theta`` (radians)."""
        t = np.mod(theta, 2 * np.pi) / (2 * np.pi) * _N_THETA
        r = np.append(self.radius_nm, self.radius_nm[0])
        return np.interp(t, np.arange(_N_THETA + 1), r)

    def inside(self, x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
        """Boolean: positions inside the outline."""
        return np.hypot(x_nm, y_nm) < self.radius_at(np.arctan2(y_nm, x_nm))


def draw_outline(rng: np.random.Generator, *, mean_radius_nm: float) -> CellOutline:
    """Random outline: radius ``R (1 + sum_k a_k cos(k theta + phi_k))``, ``a_k ~ N(0, 0.25/k)``."""
    k = np.arange(2, 121)
    amp = rng.normal(0, 0.25 / k) * np.where(k < 8, 1.0, 0.5)
    phase = rng.uniform(0, 2 * np.pi, k.size)
    theta = np.arange(_N_THETA) / _N_THETA * 2 * np.pi
    rel = 1 + (amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    return CellOutline(mean_radius_nm * np.clip(rel, 0.4, None))


def place_fields_of_view(rng, outline: CellOutline, n: int, fov_nm: float, *,
                         edge_fraction: float = 0.3) -> np.ndarray:
    """Centres (nm) of ``n`` non-overlapping square fields of view; about ``edge_fraction`` of
    them cross the cell edge, the rest lie inside the cell."""
    centres: list = []
    for i in range(n):
        for attempt in range(500):
            theta = rng.uniform(0, 2 * np.pi)
            r_edge = float(outline.radius_at(theta))
            if rng.random() < edge_fraction:
                r = r_edge + rng.uniform(-0.35, 0.2) * fov_nm
            else:
                r = np.sqrt(rng.random()) * max(r_edge - 0.8 * fov_nm, 0.0)
            c = np.array([r * np.cos(theta), r * np.sin(theta)])
            if all(np.max(np.abs(c - o)) >= fov_nm for o in centres) or attempt == 499:
                break
        centres.append(c)
    return np.array(centres).reshape(n, 2)


def region_codes(rng, outline: CellOutline, centre_nm, shape, pixel_size_nm, *,
                 ruffle_fraction: float, margin_px: int, ruffle_corr_nm: float = 150.0) -> np.ndarray:
    """Region codes (0 outside, 1 flat, 2 ruffles) of an image plus ``margin_px`` on each side.

    Pixel (i, j) of the result is image pixel (i - margin_px, j - margin_px); image pixel (0, 0)
    sits at ``centre_nm - (shape - 1) / 2 * pixel_size_nm`` in cell coordinates.
    """
    h, w = shape[0] + 2 * margin_px, shape[1] + 2 * margin_px
    px = pixel_size_nm
    x0 = centre_nm[0] - ((shape[1] - 1) / 2 + margin_px) * px
    y0 = centre_nm[1] - ((shape[0] - 1) / 2 + margin_px) * px
    xs = x0 + np.arange(w) * px
    ys = y0 + np.arange(h) * px
    inside = outline.inside(xs[None, :], ys[:, None])
    codes = inside.astype(np.uint8)
    if ruffle_fraction > 0:
        step = 4
        field = smooth_field(rng, (h // step + 2, w // step + 2), corr_px=max(ruffle_corr_nm / px / step, 0.7))
        field = sample_grid(field, np.arange(h) / step, np.arange(w) / step)
        codes[inside & (field > norm.ppf(1 - ruffle_fraction))] = 2
    return codes


def labelled_points(rng, codes: np.ndarray, pixel_size_nm: float, margin_px: int, complexes: dict,
                    label_spec: LabelSpec, *, labeling_efficiency: float = 1.0):
    """Place receptors in ``codes`` (with margin), label them, return the labels inside the image.

    Returns
    -------
    points : pandas.DataFrame
        Labels whose centres lie in the image, columns :data:`TRUTH_COLUMNS` plus shape columns
        starting with ``_`` (for rendering). ``kind``/``group`` describe the labels as seen (after
        labelling efficiency), ``receptor_kind`` the receptor complex. Coordinates are those of the
        image without margin (x_nm = x_px * pixel_size_nm).
    outside : dict of numpy.ndarray
        Labelled receptors in the margin (rendered, partly visible, not reported).
    receptors : dict
        Receptors (labelled or not) whose centres lie in the image: ``n`` and ``n_paired`` per
        region code, as ``{region: (n, n_paired)}``.
    """
    px = pixel_size_nm
    regions = RegionMap(codes, cell_nm=px, x0_nm=(-0.5 - margin_px) * px, y0_nm=(-0.5 - margin_px) * px)
    lab = place_labels(rng, regions, complexes, label_spec)
    n = lab["x_nm"].size
    labelled = rng.random(n) < labeling_efficiency
    group = lab["group"]
    visible = np.bincount(group[labelled], minlength=int(group.max()) + 1) if n else np.zeros(0, int)
    n_vis = visible[group] if n else np.zeros(0, int)
    kind = np.where(n_vis >= 3, "cluster", np.where(n_vis == 2, "dimer", "monomer"))
    h, w = codes.shape[0] - 2 * margin_px, codes.shape[1] - 2 * margin_px
    x_px, y_px = lab["x_nm"] / px, lab["y_nm"] / px
    in_image = (x_px >= -0.5) & (x_px < w - 0.5) & (y_px >= -0.5) & (y_px < h - 0.5)
    keep = labelled & in_image
    receptors = {int(r): (int(np.sum(in_image & (lab["region"] == r))),
                          int(np.sum(in_image & (lab["region"] == r) & (lab["kind"] != "monomer"))))
                 for r in complexes}
    points = pd.DataFrame({
        "x_px": x_px[keep], "y_px": y_px[keep], "x_nm": lab["x_nm"][keep], "y_nm": lab["y_nm"][keep],
        "kind": kind[keep], "group": group[keep], "region": lab["region"][keep].astype(int),
        "label": lab["label"][keep], "diameter_nm": lab["diameter_nm"][keep],
        "receptor_kind": lab["kind"][keep],
        "_a_nm": lab["a_nm"][keep], "_b_nm": lab["b_nm"][keep], "_angle": lab["angle"][keep],
        "_thickness_nm": lab["thickness_nm"][keep],
    })
    outside = {k: v[labelled & ~in_image] for k, v in lab.items()}
    return points, outside, receptors


@dataclass(frozen=True)
class CellPoints:
    """Truth of one simulated image of a cell (no rendering).

    Attributes
    ----------
    mask : numpy.ndarray
        uint8 (H, W): 0 outside the cell, 1 flat membrane, 2 ruffles.
    points : pandas.DataFrame
        Labels inside the image, columns :data:`TRUTH_COLUMNS`.
    pixel_size_nm : float
    """

    mask: np.ndarray
    points: pd.DataFrame
    pixel_size_nm: float


def simulate_cell_points(
    rng: np.random.Generator,
    *,
    size_px: int = 1024,
    pixel_size_nm: float = 1.0,
    density_per_um2: float = 500.0,
    ruffle_fraction: float = 0.25,
    ruffle_density_factor: float = 2.0,
    dimer_fraction: float = 0.3,
    ruffle_dimer_fraction: float | None = None,
    cluster_fraction: float = 0.0,
    dimer_distance_nm: tuple = (20.0, 4.0),
    labeling_efficiency: float = 1.0,
    label_spec: LabelSpec | None = None,
    cell_edge: bool = False,
) -> CellPoints:
    """Truth positions and mask of one image of one cell, without rendering.

    Parameters
    ----------
    rng : numpy.random.Generator
    size_px : int
        Image size (square).
    pixel_size_nm : float
    density_per_um2 : float
        Receptor density on flat membrane (labels per µm² before labelling efficiency).
    ruffle_fraction : float
        Expected fraction of the cell area in ruffles.
    ruffle_density_factor : float
        Receptor density in ruffles relative to flat membrane.
    dimer_fraction : float
        Fraction of receptors in dimers on flat membrane.
    ruffle_dimer_fraction : float, optional
        The same in ruffles (default: ``dimer_fraction``).
    cluster_fraction : float
        Fraction of receptors in clusters of 3–6, in ruffles only.
    dimer_distance_nm : (float, float)
        Mean and sd of the label–label distance in a dimer.
    labeling_efficiency : float
        Probability that a receptor carries a label.
    label_spec : LabelSpec, optional
        Labels (default 10 nm gold).
    cell_edge : bool
        Place the image across the cell edge (part of the mask is 0).

    Returns
    -------
    CellPoints

    Examples
    --------
    >>> import numpy as np
    >>> cp = simulate_cell_points(np.random.default_rng(0), size_px=256, dimer_fraction=0.5)
    >>> cp.mask.shape, list(cp.points.columns[:2])
    ((256, 256), ['x_px', 'y_px'])
    """
    for name, value in (("ruffle_fraction", ruffle_fraction), ("dimer_fraction", dimer_fraction),
                        ("cluster_fraction", cluster_fraction), ("labeling_efficiency", labeling_efficiency)):
        if not 0 <= value <= 1:
            raise InputError(f"{name}: must be in [0, 1], got {value}")
    if size_px <= 0 or pixel_size_nm <= 0 or density_per_um2 < 0:
        raise InputError("size_px and pixel_size_nm must be positive, density_per_um2 non-negative")
    label_spec = label_spec or LabelSpec(label="gold", gold_diameters_nm=(10.0,))
    fov = size_px * pixel_size_nm
    outline = draw_outline(rng, mean_radius_nm=max(8000.0, 3 * fov))
    centre = place_fields_of_view(rng, outline, 1, fov, edge_fraction=1.0 if cell_edge else 0.0)[0]
    margin = int(np.ceil(60 / pixel_size_nm))
    codes = region_codes(rng, outline, centre, (size_px, size_px), pixel_size_nm,
                         ruffle_fraction=ruffle_fraction, margin_px=margin)
    complexes = region_complexes(density_per_um2, ruffle_density_factor, dimer_fraction,
                                 dimer_fraction if ruffle_dimer_fraction is None else ruffle_dimer_fraction,
                                 cluster_fraction, dimer_distance_nm)
    points, _, _ = labelled_points(rng, codes, pixel_size_nm, margin, complexes, label_spec,
                                labeling_efficiency=labeling_efficiency)
    points = points[list(TRUTH_COLUMNS)].reset_index(drop=True)
    return CellPoints(codes[margin:-margin, margin:-margin].copy(), points, float(pixel_size_nm))


def region_complexes(density_per_um2, ruffle_density_factor, dimer_fraction, ruffle_dimer_fraction,
                     cluster_fraction, dimer_distance_nm) -> dict:
    """:class:`ComplexSpec` for flat membrane (1) and ruffles (2)."""
    flat = ComplexSpec(density_per_um2=density_per_um2, dimer_fraction=dimer_fraction,
                       dimer_distance_nm=tuple(dimer_distance_nm))
    ruffle = ComplexSpec(density_per_um2=density_per_um2 * ruffle_density_factor,
                         dimer_fraction=min(ruffle_dimer_fraction, 1 - cluster_fraction),
                         cluster_fraction=cluster_fraction, dimer_distance_nm=tuple(dimer_distance_nm))
    return {1: flat, 2: ruffle}
