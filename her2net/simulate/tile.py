"""`simulate_tile`: one randomised image with its label positions, for training on the fly.

Pipeline for one image: draw parameters (:mod:`~her2net.simulate.params`), coarse maps (cell
edge, ruffles, thickness), place labelled receptor complexes (:mod:`~her2net.simulate.geometry`),
splat labels and clutter into an object layer (:mod:`~her2net.simulate.splat`,
:mod:`~her2net.simulate.clutter`), blur with the PSF and add texture in one FFT pass
(:mod:`~her2net.simulate.optics`), form the ADF or bright-field signal
(:mod:`~her2net.simulate.render_stem`, :mod:`~her2net.simulate.render_tem`), and record it with
shot noise and a detector (:mod:`~her2net.simulate.noise`).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from her2net.errors import InputError
from her2net.simulate import clutter
from her2net.simulate.fields import radial_frequency_sq
from her2net.simulate.geometry import ComplexSpec, place_labels
from her2net.simulate.labels import LabelSpec
from her2net.simulate.noise import dose_for_snr, electrons_per_pixel, record, snr_for_dose
from her2net.simulate.optics import blur_with_texture, psf_transfer
from her2net.simulate.params import draw_params
from her2net.simulate.render_stem import adf_signal
from her2net.simulate.render_tem import bf_signal
from her2net.simulate.scene_maps import tile_maps
from her2net.simulate.splat import splat

__all__ = ["simulate_tile", "resolve_signal", "render_scene", "label_spec_from", "complexes_from"]

def label_spec_from(p: dict) -> LabelSpec:
    """The :class:`LabelSpec` described by parameters ``p``."""
    return LabelSpec(label=p["label"], gold_diameters_nm=tuple(p["gold_diameters_nm"]),
                     size_jitter=p["size_jitter"], qd_fraction=p["qd_fraction"])


def complexes_from(p: dict, *, flat_cluster_share: float = 0.25) -> dict:
    """Per-region :class:`ComplexSpec` for flat membrane (1) and ruffles (2) from parameters ``p``."""
    common = dict(dimer_distance_nm=(p["dimer_distance_mean_nm"], p["dimer_distance_sd_nm"]),
                  close_pair_fraction=p["close_pair_fraction"])
    dimer = p["dimer_fraction"]
    cluster = min(p["cluster_fraction"], 1 - dimer)
    flat = ComplexSpec(density_per_um2=p["density_per_um2"], dimer_fraction=dimer,
                       cluster_fraction=cluster * flat_cluster_share, **common)
    ruffle = ComplexSpec(density_per_um2=p["density_per_um2"] * p["ruffle_density_factor"],
                         dimer_fraction=dimer, cluster_fraction=cluster, **common)
    return {1: flat, 2: ruffle}


def resolve_signal(p: dict) -> dict:
    """Absolute background level, label contrast and dose for parameters ``p``.

    Returns a copy of ``p`` with ``background_level`` absolute (for 'bright' it is drawn relative to
    the label's scattered fraction), ``dose_e_per_A2`` set (from ``matched_snr`` unless given) and
    the keys ``label_amp``, ``label_contrast`` (peak, after blur), ``label_energy`` (effective area
    in pixels), ``label_snr`` and ``matched_snr`` added.
    """
    q = dict(p)
    px = p["pixel_size_nm"]
    label_amp, _ = _reference_peak(p, blurred=False)
    peak, energy = _reference_peak(p, blurred=True)
    bright = p["polarity"] == "bright"
    bg = p["background_level"] * label_amp if bright else p["background_level"]
    contrast = peak if bright else peak * bg
    rn = p["read_noise"]
    dose = p["dose_e_per_A2"]
    if dose is None:
        dose = dose_for_snr(p["matched_snr"], label_contrast=contrast * np.sqrt(energy),
                            background=bg, pixel_size_nm=px, read_noise=rn)
        n_bg = electrons_per_pixel(dose, px) * bg
        if bright and n_bg < p["min_background_counts"]:
            # Background electrons grow with the square of the level at a fixed SNR.
            bg *= np.sqrt(p["min_background_counts"] / n_bg)
            dose = dose_for_snr(p["matched_snr"], label_contrast=contrast * np.sqrt(energy),
                                background=bg, pixel_size_nm=px, read_noise=rn)
    snr = snr_for_dose(dose, label_contrast=contrast, background=bg, pixel_size_nm=px, read_noise=rn)
    q.update(background_level=float(bg), dose_e_per_A2=float(dose), label_amp=label_amp,
             label_contrast=float(contrast), label_energy=float(energy), label_snr=float(snr),
             matched_snr=float(snr * np.sqrt(energy)))
    return q


def render_scene(rng, shape, q, labels_px, *, maps):
    """Render labels (pixel units) and clutter into the expected signal per incident electron.

    Parameters
    ----------
    q : dict
        Parameters resolved by :func:`resolve_signal`.
    labels_px : dict
        ``x``, ``y``, ``a``, ``b`` (semi-axes, px), ``angle``, ``thickness_nm``, ``label``.
        ``signal_each`` is added: each label's peak contrast times the square root of its area
        (px), drawn jitter included, from which :func:`simulate_tile` reports its SNR.
    maps : dict
        ``mask``, ``ruffle``, ``thickness``, ``ramp`` full-size arrays (see ``adf_signal``), and
        ``membranes`` (a smooth zero-mean field for section membranes, or None).

    Returns
    -------
    signal : numpy.ndarray
        Expected detected fraction per incident electron (float64).
    """
    layer = np.zeros(shape)
    mfp = np.where(labels_px["label"] == "qd", q["gold_mfp_nm"] * q["qd_mfp_factor"], q["gold_mfp_nm"])
    k = labels_px["thickness_nm"] / mfp
    n = k.size
    amp_each = 1.0 - q.get("amp_jitter", 0.0) * rng.random(n)
    b_each = np.where(labels_px["label"] == "gold",
                      labels_px["b"] / rng.uniform(1.0, q.get("gold_aspect", 1.0), n), labels_px["b"])
    deep = None
    if q.get("deep_fraction", 0) > 0:
        is_deep = rng.random(k.size) < q["deep_fraction"]
        deep = np.zeros(shape)
        splat(deep, labels_px["x"][is_deep], labels_px["y"][is_deep], a=labels_px["a"][is_deep],
              b=b_each[is_deep], angle=labels_px["angle"][is_deep], amp=amp_each[is_deep], k=k[is_deep])
        keep = ~is_deep
    else:
        keep = np.ones(k.size, dtype=bool)
    splat(layer, labels_px["x"][keep], labels_px["y"][keep], a=labels_px["a"][keep], b=b_each[keep],
          angle=labels_px["angle"][keep], amp=amp_each[keep], k=k[keep])
    # Each label's signal for a matched filter (peak x sqrt(area), blur ignored), for its SNR.
    labels_px["signal_each"] = amp_each * -np.expm1(-k) * np.sqrt(labels_px["a"] * b_each)
    amp = q["label_amp"]
    clutter.add_debris(rng, layer, q, label_amp=amp)
    clutter.add_salt(rng, layer, q, label_amp=amp)
    clutter.add_particles(rng, layer, q, label_amp=amp, mask=maps["mask"])
    if maps.get("membranes") is not None:
        clutter.add_membranes(layer, maps["membranes"], q, label_amp=amp)
    dark = q["polarity"] == "dark"
    texture_std = q["texture"] * (1.0 if dark else amp)
    blurred = blur_with_texture(rng, layer, q, texture_std=texture_std, deep=deep)
    signal, _ = (bf_signal if dark else adf_signal)(blurred, maps, q)
    return signal


def _label_kinds(p) -> list:
    """(a_nm, b_nm, k) of the faintest gold size and of quantum dots, as ``p`` has them."""
    kinds = []
    if p["label"] in ("gold", "mixed"):
        d = min(p["gold_diameters_nm"])
        kinds.append((d / 2, d / 2, d / p["gold_mfp_nm"]))
    if p["label"] in ("qd", "mixed"):
        kinds.append((6.0, 3.5, 7.0 / (p["gold_mfp_nm"] * p["qd_mfp_factor"])))
    return kinds


def _reference_peak(p, *, blurred):
    """Peak of the faintest label type of ``p`` (object-layer units), optionally after the PSF."""
    px = p["pixel_size_nm"]
    kinds = _label_kinds(p)
    if not blurred:
        return float(max(-np.expm1(-k) for _, _, k in kinds)), 1.0
    reach = max(p["blur_sigma_nm"] * 4, p["tail_sigma_nm"] * 3 * (p["tail_weight"] > 0), 12.0) / px
    n = int(2 ** np.ceil(np.log2(2 * reach + 8)))
    f2 = radial_frequency_sq((n, n))
    peaks = []
    for a, b, k in kinds:
        canvas = np.zeros((n, n))
        splat(canvas, [n // 2], [n // 2], a=a / px, b=b / px, amp=1.0, k=k)
        out = sfft.irfft2(sfft.rfft2(canvas) * psf_transfer(f2, p), s=(n, n))
        peak = out[n // 2, n // 2]
        peaks.append((peak * np.sqrt(np.sum((out / peak) ** 2)), peak, np.sum((out / peak) ** 2)))
    _, peak, energy = min(peaks)  # the faintest by matched-filter SNR
    return float(peak), float(energy)


def _reference_signal(p) -> float:
    """``signal_each`` (see :func:`render_scene`) of the faintest label type at full contrast."""
    px = p["pixel_size_nm"]
    return float(min(-np.expm1(-k) * np.sqrt(a * b) / px for a, b, k in _label_kinds(p)))


def simulate_tile(rng: np.random.Generator, size, pixel_size_nm: float | None = None, **overrides):
    """Simulate one randomised micrograph with the positions of its labels.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same tile.
    size : int or (int, int)
        Image size in pixels (square, or rows and columns).
    pixel_size_nm : float, optional
        Pixel size; drawn log-uniformly from 0.5–3 nm when not given.
    **overrides
        Fixed values for any parameter of :data:`her2net.simulate.params.PARAM_NAMES`, for example
        ``polarity='dark'``, ``label='gold'``, ``gold_diameters_nm=(6, 12)``,
        ``density_per_um2=500``, ``dose_e_per_A2=20`` (otherwise set from ``matched_snr``).

    Returns
    -------
    image : numpy.ndarray
        float32 (H, W) raw detector values (arbitrary gain and offset, not normalised). Labels are
        bright for polarity 'bright' (ADF STEM), dark for 'dark' (bright-field TEM), except that a
        reversed print of a replica (``shadow_sign`` -1) is inverted as a whole: its labels are
        bright and ``metadata['polarity']`` says 'bright'.
    points : numpy.ndarray
        float64 (N, 2) label centres as (x_px, y_px), x = column, centre of pixel (0, 0) at
        (0, 0); only centres with -0.5 <= x < W - 0.5 and -0.5 <= y < H - 0.5.
    metadata : dict
        ``pixel_size_nm``, ``polarity``, ``label``, ``dose_e_per_A2``, ``label_snr`` (peak
        contrast of the faintest label type over the background noise sd), ``matched_snr`` (the
        same for a matched filter: about 4 is the limit of reliable detection); per point
        arrays ``diameter_nm``, ``label_type``, ``kind``, ``group``, ``region``,
        ``matched_snr_each`` (each label's matched-filter SNR, blur ignored); and ``params``
        (every drawn parameter).

    Examples
    --------
    >>> import numpy as np
    >>> image, points, meta = simulate_tile(np.random.default_rng(0), 128, polarity="bright")
    >>> image.shape, points.shape[1], meta["polarity"]
    ((128, 128), 2, 'bright')
    """
    shape = (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(s) for s in size)
    if len(shape) != 2 or min(shape) < 8:
        raise InputError(f"size: expected a positive image size of at least 8 pixels, got {size!r}")
    if pixel_size_nm is not None:
        overrides["pixel_size_nm"] = float(pixel_size_nm)
    p = draw_params(rng, overrides)
    px = p["pixel_size_nm"]
    spec = label_spec_from(p)
    margin_px = int(np.ceil(spec.max_extent_nm() / px / 2 + 3 * p["blur_sigma_nm"] / px)) + 2
    regions, maps = tile_maps(rng, shape, p, margin_px=margin_px)
    lab = place_labels(rng, regions, complexes_from(p), spec)
    h, w = shape
    labels_px = {"x": lab["x_nm"] / px, "y": lab["y_nm"] / px, "a": lab["a_nm"] / px,
                 "b": lab["b_nm"] / px, "angle": lab["angle"], "thickness_nm": lab["thickness_nm"],
                 "label": lab["label"]}
    q = resolve_signal(p)
    signal = render_scene(rng, shape, q, labels_px, maps=maps)
    image = record(rng, signal, q, n0=electrons_per_pixel(q["dose_e_per_A2"], px),
                   background=q["background_level"])
    polarity = p["polarity"]
    if p["specimen"] == "replica" and p["shadow_sign"] < 0:
        # A reversed print of a replica: shadows dark, metal and gold white.
        image = (image.max() + image.min()) - image
        polarity = "bright"
    x, y = labels_px["x"], labels_px["y"]
    keep = (x >= -0.5) & (x < w - 0.5) & (y >= -0.5) & (y < h - 0.5)
    snr_each = q["matched_snr"] * labels_px["signal_each"] / _reference_signal(p)
    points = np.column_stack([x[keep], y[keep]]).astype(np.float64)
    metadata = {
        "pixel_size_nm": px,
        "polarity": polarity,
        "label": p["label"],
        "dose_e_per_A2": q["dose_e_per_A2"],
        "label_snr": q["label_snr"],
        "matched_snr": q["matched_snr"],
        "diameter_nm": lab["diameter_nm"][keep],
        "label_type": lab["label"][keep],
        "kind": lab["kind"][keep],
        "matched_snr_each": snr_each[keep],
        "group": lab["group"][keep],
        "region": lab["region"][keep],
        "params": {k: v for k, v in q.items() if k != "label_amp"},
    }
    return image, points, metadata
