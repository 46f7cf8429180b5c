"""A second, deliberately simple simulator for cross-checks (not her2net's simulator).

her2net is scored on images from a simulator it never saw. This module stands in for one: it
shares no code with :mod:`her2net.simulate` and makes other choices on purpose:

* labels are Gaussian spots (FWHM = ``fwhm_fraction`` x diameter) instead of blurred projected
  spheres, all of one size per image;
* positions are drawn only inside the image (no labels centred outside it), as a hard-core
  pattern at ``1.3`` diameters with a fraction of labels in pairs at ``N(1.8 d, 0.25 d)``;
* the background is flat plus one smooth ramp, with pure Poisson counts (no read noise, no
  clutter, no scan lines); the dose is the background count per pixel.

``dose_scale`` multiplies every count, so 0.3x and 0.12x are the same scenes with fewer
electrons. Used by ``benchmarks/bench_independent.py``.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import Sample

__all__ = ["independent_image", "independent_set", "crlb_rmse_nm"]


def _positions(rng, n, shape, d_px, pair_fraction):
    h, w = shape
    pts = []
    tries = 0
    min_sep = 1.3 * d_px
    while len(pts) < n and tries < 50 * n:
        tries += 1
        x, y = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        group = [(x, y)]
        if rng.random() < pair_fraction:
            r = max(1.35 * d_px, rng.normal(1.8 * d_px, 0.25 * d_px))
            a = rng.uniform(0, 2 * np.pi)
            group.append((x + r * np.cos(a), y + r * np.sin(a)))
        ok = all(0 <= gx <= w - 1 and 0 <= gy <= h - 1 for gx, gy in group)
        if ok and pts:
            arr = np.asarray(pts)
            ok = all(np.min(np.hypot(arr[:, 0] - gx, arr[:, 1] - gy)) >= min_sep for gx, gy in group)
        if ok:
            pts.extend(group)
    return np.asarray(pts, dtype=float).reshape(-1, 2)


def independent_image(seed, *, size_px=256, pixel_size_nm=1.5, diameter_nm=10.0,
                      density_per_um2=400.0, pair_fraction=0.3, background_counts=20.0,
                      contrast=0.5, fwhm_fraction=0.8, dose_scale=1.0, polarity="bright"):
    """One image (float counts) and its truth (x_px, y_px).

    ``contrast`` is the peak label signal relative to the background (bright: added; dark:
    removed, clipped at zero).
    """
    rng = np.random.default_rng(seed)
    shape = (size_px, size_px)
    d_px = diameter_nm / pixel_size_nm
    area_um2 = (size_px * pixel_size_nm / 1000.0) ** 2
    n = rng.poisson(density_per_um2 * area_um2)
    pts = _positions(rng, n, shape, d_px, pair_fraction)
    yy, xx = np.mgrid[:size_px, :size_px].astype(float)
    ramp = 1.0 + 0.2 * (xx / size_px - 0.5) * np.cos(rng.uniform(0, np.pi)) \
        + 0.2 * (yy / size_px - 0.5) * np.sin(rng.uniform(0, np.pi))
    sigma = fwhm_fraction * d_px / 2.3548
    spots = np.zeros(shape)
    r = int(np.ceil(4 * sigma))
    for x, y in pts:
        c0, c1 = max(0, int(x) - r), min(size_px, int(x) + r + 2)
        r0, r1 = max(0, int(y) - r), min(size_px, int(y) + r + 2)
        spots[r0:r1, c0:c1] += np.exp(-((xx[r0:r1, c0:c1] - x) ** 2 + (yy[r0:r1, c0:c1] - y) ** 2)
                                      / (2 * sigma**2))
    sign = 1.0 if polarity == "bright" else -1.0
    expected = background_counts * dose_scale * ramp * np.clip(1 + sign * contrast * spots, 0, None)
    image = rng.poisson(expected).astype(np.float32)
    return image, pts


def independent_set(n_images, seed, *, dose_scale=1.0, name="independent", **options):
    """``n_images`` :class:`Sample` objects; the scenes depend only on ``seed`` and the index."""
    samples = []
    px = options.get("pixel_size_nm", 1.5)
    polarity = options.get("polarity", "bright")
    for i in range(n_images):
        image, pts = independent_image([seed, i], dose_scale=dose_scale, **options)
        meta = {"kind": np.array(["label"] * len(pts)), "region": np.array(["flat"] * len(pts))}
        samples.append(Sample(f"{name}-{dose_scale:g}x/{seed}-{i}", image, pts, px, polarity, meta))
    return samples


def crlb_rmse_nm(*, pixel_size_nm=1.5, diameter_nm=10.0, background_counts=20.0, contrast=0.5,
                 fwhm_fraction=0.8, dose_scale=1.0, polarity="bright", **_ignored) -> float:
    """Cramer-Rao bound on the 2-D localisation RMSE (nm) of one isolated label of this model.

    The lowest RMSE any unbiased estimator can reach for a lone label of
    :func:`independent_image` (flat background, no ramp), with background, amplitude and the two
    coordinates unknown: the inverse of the Fisher information of Poisson counts, averaged over
    sub-pixel positions. Pairs and the ramp only raise it, so it is a floor for the RMSE tables.
    Takes the options of :func:`independent_image` (others are ignored).
    """
    sigma = fwhm_fraction * diameter_nm / pixel_size_nm / 2.3548
    background = background_counts * dose_scale
    sign = 1.0 if polarity == "bright" else -1.0
    half = int(np.ceil(5 * sigma)) + 2
    grid = np.arange(-half, half + 1, dtype=float)
    variances = []
    for dx in (0.0, 0.25, 0.5):
        for dy in (0.0, 0.25, 0.5):
            yy, xx = np.meshgrid(grid - dy, grid - dx, indexing="ij")
            g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
            mu = background * np.clip(1 + sign * contrast * g, 1e-9, None)
            a = background * sign * contrast  # the label's peak signal in counts
            jac = np.stack([1 + sign * contrast * g, g, a * g * xx / sigma**2,
                            a * g * yy / sigma**2]).reshape(4, -1)
            fisher = (jac / mu.ravel()) @ jac.T
            cov = np.linalg.inv(fisher)
            variances.append(cov[2, 2] + cov[3, 3])
    return float(np.sqrt(np.mean(variances)) * pixel_size_nm)
