"""A second, independently modelled freeze-fracture replica renderer (not her2net's simulator).

Every replica figure before this module came from her2net's own simulator, whose membrane
particles are drawn as a dark cap plus a bright shadow of given contrasts. This module shares no
code with :mod:`her2net.simulate` and renders a replica from its physics instead:

* a **surface** (height in nm): a gently undulating fracture face, in some images a fracture step
  across it, and intramembrane particles as spherical caps 5-14 nm across;
* **platinum** evaporated from one direction (elevation 30-60 degrees above the surface, azimuth at
  random): the projected Pt thickness is ``t_pt (s_z - grad h . s_xy) / s_z`` where the surface
  faces the source and zero where it faces away or lies in the geometric shadow of a higher point
  (found by marching towards the source); the Pt film is granular (grains of 1-2.5 nm);
* a **carbon** backing of slowly varying thickness;
* **gold** spheres of 6 and 12 nm (labelled after replication, so unshadowed), a third of them in
  clusters and pairs;
* bright-field transmission ``exp(-sum t / mean free path)``, a Gaussian objective blur, area
  integration into pixels, Poisson counts, camera gain and offset, and in half the images an 8-bit
  export stretched between two percentiles.

The scene is drawn on a grid ``OVERSAMPLE`` times finer than the pixels and binned, so that
sub-pixel positions are exact. Truth: the gold centres (``x_px`` = column, pixel centres at
integers), with ``metadata['diameter_nm']`` per label; every gold label is dark enough to be
seen, as in a hand-annotated micrograph. Used by ``benchmarks/bench_independent_replicas.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, special

from benchmarks.common import Sample

__all__ = ["replica_image", "replica_set"]

#: Fine grid cells per pixel along each axis.
OVERSAMPLE = 3


def _draw(rng, options: dict, name: str, low, high, *, log=False):
    """An image's parameter: ``options[name]`` if given, else uniform (or log-uniform) in range.

    The draw is made either way, so that fixing one parameter leaves the others' draws (and the
    scene) unchanged.
    """
    u = rng.uniform()
    if options.get(name) is not None:
        return float(options[name])
    if log:
        return float(np.exp(np.log(low) + u * (np.log(high) - np.log(low))))
    return float(low + u * (high - low))


def _smooth_field(rng, shape, sigma_cells: float) -> np.ndarray:
    """Gaussian random field of unit sd, correlation length ``sigma_cells`` grid cells."""
    spectrum = ndimage.fourier_gaussian(np.fft.rfft2(rng.standard_normal(shape)), sigma_cells,
                                        n=shape[1])
    field = np.fft.irfft2(spectrum, s=shape)
    sd = field.std()
    return field / sd if sd > 0 else field


def _gold_positions(rng, n: int, field_nm: float, diameters_nm: np.ndarray):
    """Centres (nm) of ``n`` gold labels: two thirds at random, a third in clusters and pairs.

    No two spheres overlap (centre distance at least 1.05 x the sum of radii).
    """
    xy, kept = [], []
    tries = 0
    while len(kept) < n and tries < 60 * max(n, 1):
        tries += 1
        d = diameters_nm[len(kept)]
        if kept and rng.random() < 0.35:
            # Next to an earlier label: a pair or a growing cluster (20-45 nm between centres).
            anchor = xy[rng.integers(len(xy))]
            r = rng.uniform(0.5 * (d + 12.0) * 1.05, 45.0)
            a = rng.uniform(0, 2 * np.pi)
            p = (anchor[0] + r * np.cos(a), anchor[1] + r * np.sin(a))
        else:
            p = tuple(rng.uniform(0, field_nm, 2))
        if not (0 <= p[0] < field_nm and 0 <= p[1] < field_nm):
            continue
        if xy:
            arr = np.asarray(xy)
            gap = np.hypot(arr[:, 0] - p[0], arr[:, 1] - p[1])
            if np.any(gap < 1.05 * 0.5 * (diameters_nm[kept] + d)):
                continue
        xy.append(p)
        kept.append(len(kept))
    return np.asarray(xy, dtype=float).reshape(-1, 2), diameters_nm[:len(xy)]


def _stamp(canvas: np.ndarray, cx: float, cy: float, radius: float, profile, *, combine=np.maximum):
    """Write ``profile(r2)`` (r2: squared distance in cells) into a window of ``canvas``."""
    h, w = canvas.shape
    r = int(np.ceil(radius)) + 1
    x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 2)
    y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 2)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    canvas[y0:y1, x0:x1] = combine(canvas[y0:y1, x0:x1], profile(r2))


def _parameters(rng, options: dict) -> dict:
    """Every scalar of one image, drawn in a fixed order (given ``options`` override draws)."""
    p = {}
    for name, low, high, log in (("particles_per_um2", 500, 4000, False),
                                 ("gold_per_um2", 50, 600, False),
                                 ("elevation_deg", 30, 60, False),
                                 ("pt_nm", 1.5, 3.0, False),
                                 ("pt_mfp_nm", 3.0, 6.0, False),
                                 ("grain", 0.15, 0.4, False),
                                 ("blur_nm", 0.3, 1.0, False),
                                 ("counts", 100, 2000, True)):
        p[name] = _draw(rng, options, name, low, high, log=log)
    # Gold and platinum are neighbours in the periodic table and nearly as dense: gold's mean free
    # path is the platinum film's, shortened by diffraction contrast in the gold crystals.
    p["gold_mfp_nm"] = _draw(rng, options, "gold_mfp_nm", 0.6 * p["pt_mfp_nm"],
                             1.2 * p["pt_mfp_nm"])
    sizes = str(rng.choice(["6+12", "6", "12"], p=[0.5, 0.25, 0.25]))
    p["sizes"] = str(options.get("sizes") or sizes)
    bit_depth = int(rng.choice([8, 16]))
    p["bit_depth"] = int(options.get("bit_depth") or bit_depth)
    p["shadow_azimuth_deg"] = float(rng.uniform(0, 360))
    unknown = set(options) - set(p)
    if unknown:
        raise TypeError(f"replica_image: unknown options {sorted(unknown)}")
    return p


def replica_image(seed, *, size_px: int = 320, pixel_size_nm: float = 1.2, **options):
    """One replica micrograph, its gold centres (x_px, y_px) and what was drawn.

    Options (each drawn per image unless given): ``particles_per_um2`` (500-4000),
    ``gold_per_um2`` (50-600), ``elevation_deg`` (30-60, of the Pt source above the surface),
    ``pt_nm`` (1.5-3, Pt thickness on a flat surface), ``pt_mfp_nm`` (3-6), ``grain`` (0.15-0.4,
    relative sd of the Pt film), ``blur_nm`` (0.3-1.0, sd), ``counts`` (100-2000 electrons per
    pixel through flat Pt, log-uniform), ``gold_mfp_nm`` (0.6-1.2 x ``pt_mfp_nm``), ``sizes``
    ('6+12' half the images, '6' or '12'), ``bit_depth`` (8 or 16, half each). The parameters,
    the surface, the gold and the noise draw from separate streams of ``seed``: fixing one option
    leaves the rest of the scene as it was.
    Returns ``(image float32, points (N, 2), metadata dict)``.
    """
    rng_params, rng_surface, rng_gold, rng_noise = np.random.default_rng(seed).spawn(4)
    p = _parameters(rng_params, options)
    f = OVERSAMPLE
    cell_nm = pixel_size_nm / f
    n_cells = size_px * f
    field_nm = size_px * pixel_size_nm
    area_um2 = (field_nm / 1000.0) ** 2
    shape = (n_cells, n_cells)

    # Surface: undulating face, maybe a fracture step, intramembrane particles.
    rng = rng_surface
    height = rng.uniform(0.5, 3.0) * _smooth_field(rng, shape, rng.uniform(40, 150) / cell_nm)
    step = bool(rng.random() < 0.3)
    angle, step_nm, shift = rng.uniform(0, np.pi), rng.uniform(5, 20), rng.uniform(-0.3, 0.3)
    if step:
        yy, xx = np.mgrid[:n_cells, :n_cells] * cell_nm
        offset = (xx - field_nm / 2) * np.cos(angle) + (yy - field_nm / 2) * np.sin(angle)
        wiggle = 8.0 * _smooth_field(rng, shape, 30 / cell_nm)
        height += step_nm * special.expit((offset - shift * field_nm + wiggle) / 1.5)
    n_particles = rng.poisson(p["particles_per_um2"] * area_um2)
    bumps = np.zeros(shape)
    for _ in range(n_particles):
        cx, cy = rng.uniform(-0.5, n_cells - 0.5, 2)
        radius = 0.5 * rng.uniform(5, 14) / cell_nm
        cap = rng.uniform(0.3, 0.6) * 2 * radius  # cap height, in cells
        # Spherical cap of base radius `radius` and height `cap`: sphere radius R.
        big_r = (radius ** 2 + cap ** 2) / (2 * cap)
        _stamp(bumps, cx, cy, radius,
               lambda r2: np.where(r2 < radius ** 2,
                                   np.sqrt(np.clip(big_r ** 2 - r2, 0, None)) - (big_r - cap), 0))
    height += bumps * cell_nm

    # Platinum from the source: facing slopes get more, the geometric shadow none.
    elevation = np.deg2rad(p["elevation_deg"])
    azimuth = np.deg2rad(p["shadow_azimuth_deg"])
    ux, uy = np.cos(azimuth), np.sin(azimuth)  # horizontal direction towards the source
    s_z = np.sin(elevation)
    gy, gx = np.gradient(height, cell_nm)
    facing = np.clip(s_z - (gx * ux + gy * uy) * np.cos(elevation), 0, None) / s_z
    lit = np.ones(shape, dtype=bool)
    rise = np.tan(elevation)
    reach_nm = (height.max() - height.min()) / rise
    for d_nm in np.arange(cell_nm, min(reach_nm, 30.0) + cell_nm, cell_nm):
        # Height of the surface d_nm towards the source, above the ray from the point.
        ahead = ndimage.shift(height, (-uy * d_nm / cell_nm, -ux * d_nm / cell_nm), order=1,
                              mode="nearest")
        lit &= ahead <= height + d_nm * rise
    granular = 1 + p["grain"] * _smooth_field(rng, shape, rng.uniform(0.5, 1.2) / cell_nm)
    pt = p["pt_nm"] * facing * lit * np.clip(granular, 0, None)
    # Centred: at a 200-nm correlation length a small field's random field is mostly its mean,
    # and scaled to unit sd that mean sent the carbon to +-1e6 nm (overflowing exp). A constant
    # carbon offset cancels against `flat` below, so the counts are as they were.
    carbon_nm = rng.uniform(15, 30)
    thickness = _smooth_field(rng, shape, 200 / cell_nm)
    carbon = carbon_nm * (1 + 0.1 * (thickness - thickness.mean()))

    # Gold: unshadowed spheres, 6 and/or 12 nm.
    rng = rng_gold
    nominal = {"6+12": (6.0, 12.0), "6": (6.0,), "12": (12.0,)}[p["sizes"]]
    n_gold = rng.poisson(p["gold_per_um2"] * area_um2)
    diameters = rng.choice(nominal, n_gold) * (1 + rng.normal(0, 0.06, n_gold))
    centres_nm, diameters = _gold_positions(rng, n_gold, field_nm, diameters)
    gold = np.zeros(shape)
    for (x_nm, y_nm), d in zip(centres_nm, diameters):
        radius = 0.5 * d / cell_nm
        # Fine cell j covers nm [j, j+1) * cell_nm: its centre is at (j + 0.5) cells.
        _stamp(gold, x_nm / cell_nm - 0.5, y_nm / cell_nm - 0.5, radius,
               lambda r2: 2 * np.sqrt(np.clip(radius ** 2 - r2, 0, None)), combine=np.add)
    gold *= cell_nm

    # Bright-field transmission, blur, pixels, counts.
    rng = rng_noise
    transmission = np.exp(-(pt / p["pt_mfp_nm"] + carbon / 200.0 + gold / p["gold_mfp_nm"]))
    transmission = ndimage.gaussian_filter(transmission, p["blur_nm"] / cell_nm, mode="nearest")
    pixels = transmission.reshape(size_px, f, size_px, f).mean(axis=(1, 3))
    flat = np.exp(-(p["pt_nm"] / p["pt_mfp_nm"] + carbon.mean() / 200.0))
    electrons = rng.poisson(pixels * p["counts"] / flat).astype(np.float64)
    gain, offset = rng.uniform(0.5, 20), rng.uniform(0, 2000)
    image = electrons * gain + offset + rng.normal(0, 0.5 * gain, electrons.shape)
    stretch = rng.uniform(0, 0.3, 2)  # % of the pixels clipped at each end of an 8-bit export
    if p["bit_depth"] == 8:
        lo, hi = np.percentile(image, [stretch[0], 100 - stretch[1]])
        image = np.round(np.clip((image - lo) / (hi - lo), 0, 1) * 255)
    else:
        image = np.round(np.clip(image, 0, 65535))

    # Truth in pixels: the centre of pixel (0, 0) is at (0, 0), pixel j covers nm [j, j+1) * px.
    points = centres_nm / pixel_size_nm - 0.5
    meta = {"diameter_nm": diameters, "kind": np.array(["label"] * len(points)),
            "region": np.ones(len(points), dtype=int), "fracture_step": step, **p}
    return image.astype(np.float32), points, meta


def replica_set(n_images: int, seed: int, *, name: str = "independent-replica", **options):
    """``n_images`` :class:`Sample` objects; image ``i`` depends only on ``seed`` and ``i``."""
    samples = []
    for i in range(n_images):
        image, points, meta = replica_image([seed, i], **options)
        samples.append(Sample(f"{name}/{seed}-{i}", image, points,
                              options.get("pixel_size_nm", 1.2), "dark", meta))
    return samples
