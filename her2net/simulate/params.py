"""Random draws of every physical parameter of a simulated image (domain randomisation).

:func:`draw_params` returns a flat dict; any key can be fixed by the caller (``overrides``).
Ranges are wide on purpose: the detector trained on these images must work on images from other
microscopes and simulators, at doses where labels are barely above the noise, and on bright-field
TEM of immunogold on freeze-fracture replicas full of intramembrane particles.
"""

from __future__ import annotations

import numpy as np

from her2net.errors import InputError
from her2net.simulate.labels import GOLD_SIZES_NM, LABEL_KINDS

__all__ = ["draw_params", "PARAM_NAMES", "CLEAN_SCENE", "VISIBLE_GOLD", "check_params"]


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _sometimes(rng, p_zero, draw):
    """0 with probability ``p_zero``, else ``draw()`` (both branches use the same draws)."""
    u = rng.random()
    value = draw()
    return 0.0 if u < p_zero else value


def _draw_all(rng: np.random.Generator, o: dict) -> dict:
    """Draw parameters in dependency order; values in ``o`` (overrides) win."""
    p: dict = {}

    def put(name, draw):
        value = draw()  # always draw, so that overriding one parameter leaves the others alone
        p[name] = o[name] if name in o else value
        return p[name]

    put("pixel_size_nm", lambda: _loguniform(rng, 0.5, 3.0))
    polarity = put("polarity", lambda: "bright" if rng.random() < 0.6 else "dark")
    dark = polarity == "dark"
    put("specimen", lambda: ("replica" if rng.random() < 0.6 else "section") if dark else "liquid")
    probs = [0.85, 0.05, 0.10] if dark else [0.5, 0.3, 0.2]
    put("label", lambda: str(rng.choice(LABEL_KINDS, p=probs)))

    def gold_sizes():
        sizes = np.array(GOLD_SIZES_NM)
        w = np.array([3, 1, 3, 1, 2.0]) if dark else np.ones(len(sizes))
        n = 1 if rng.random() < 0.75 else 2
        return tuple(float(s) for s in np.sort(rng.choice(sizes, size=n, replace=False, p=w / w.sum())))

    put("gold_diameters_nm", gold_sizes)
    put("size_jitter", lambda: rng.uniform(0.03, 0.10))
    put("qd_fraction", lambda: rng.uniform(0.3, 0.7))
    # Immunogold on replicas and sections is often sparser than HER2 on whole cells.
    put("density_per_um2", lambda: _sometimes(rng, 0.05, lambda: _loguniform(rng, 30, 1000) if dark
                                              else _loguniform(rng, 100, 1500)))
    put("ruffle_fraction", lambda: _sometimes(rng, 0.4, lambda: rng.uniform(0.1, 0.6)))
    put("ruffle_density_factor", lambda: rng.uniform(1.5, 4.0))
    put("dimer_fraction", lambda: _sometimes(rng, 0.2, lambda: rng.uniform(0.05, 0.8)))
    put("dimer_distance_mean_nm", lambda: rng.uniform(10, 30))
    put("dimer_distance_sd_nm", lambda: rng.uniform(1, 6))
    put("close_pair_fraction", lambda: rng.uniform(0, 0.4))
    put("cluster_fraction", lambda: _sometimes(rng, 0.5, lambda: rng.uniform(0.02, 0.2)))
    put("cell_edge", lambda: bool(rng.random() < 0.15))
    # Signal: matched-filter SNR of the faintest label type against the background shot noise
    # (the peak SNR times the square root of the label's effective area in pixels); sets the dose
    # unless the dose is given. About 4 is the limit of reliable detection.
    put("matched_snr", lambda: _loguniform(rng, 2.5, 8.0) if rng.random() < 0.45 else _loguniform(rng, 8.0, 80.0))
    put("dose_e_per_A2", lambda: None)
    put("blur_sigma_nm", lambda: _loguniform(rng, 0.3, 1.5) if dark else _loguniform(rng, 0.4, 2.5))
    # Beam broadening in the liquid: a fraction of labels sits deeper (e.g. on the lower membrane)
    # and is blurred by an extra Gaussian of this sd.
    put("deep_fraction", lambda: _sometimes(rng, 0.5, lambda: rng.uniform(0.1, 0.5)) if not dark else 0.0)
    put("broadening_nm", lambda: rng.uniform(0.5, 3.0))
    put("tail_weight", lambda: _sometimes(rng, 0.5, lambda: rng.uniform(0.02, 0.3)))
    put("tail_sigma_nm", lambda: rng.uniform(3, 15))
    put("halo", lambda: _sometimes(rng, 0.4, lambda: rng.uniform(0.05, 0.35)) if dark else 0.0)
    put("halo_sigma_factor", lambda: rng.uniform(1.5, 4.0))
    # Background: ADF scattered fraction (bright) or transmitted fraction (dark).
    # Bright: as a multiple of the label's scattered fraction; dark: transmitted fraction.
    put("background_level", lambda: rng.uniform(0.3, 0.95) if dark else _loguniform(rng, 0.3, 5.0))
    # Bright, when the dose is drawn: at least this many background electrons per pixel (the
    # background is raised, and the dose with it, to keep the label SNR).
    put("min_background_counts", lambda: _loguniform(rng, 0.2, 20.0))
    put("outside_factor", lambda: rng.uniform(1.05, 1.4) if dark else rng.uniform(0.3, 0.9))
    put("gradient", lambda: rng.uniform(0, 0.3))
    put("thickness_variation", lambda: rng.uniform(0, 0.3))
    put("thickness_corr_nm", lambda: _loguniform(rng, 50, 1000))
    put("ruffle_contrast", lambda: rng.uniform(-0.05, 0.5) if not dark else rng.uniform(-0.1, 0.1))
    # Texture sd relative to the label's peak contrast (bright) or to the transmission (dark).
    put("texture", lambda: rng.uniform(0, 0.3) if not dark else rng.uniform(0, 0.12))
    put("texture_scale_nm", lambda: (_loguniform(rng, 0.8, 4) if p["specimen"] == "replica"
                                     else _loguniform(rng, 1.5, 30)))
    # Label contrast: mean free path for scattering into the detector (or out of the aperture).
    put("gold_mfp_nm", lambda: _loguniform(rng, 4, 20) if dark else _loguniform(rng, 15, 100))
    put("qd_mfp_factor", lambda: rng.uniform(2.5, 5.0))
    # Label-to-label contrast variation (diffraction contrast of gold crystals in BF, QD
    # brightness in ADF): each label's amplitude is scaled by 1 - amp_jitter * U(0, 1).
    put("amp_jitter", lambda: rng.uniform(0, 0.35) if dark else rng.uniform(0, 0.15))
    # Gold colloids are not perfect spheres: in-plane aspect ratio up to this value.
    put("gold_aspect", lambda: rng.uniform(1.0, 1.15))
    # Things that are not labels.
    put("debris_per_um2", lambda: _sometimes(rng, 0.4, lambda: _loguniform(rng, 0.5, 20)))
    put("salt_per_um2", lambda: _sometimes(rng, 0.6, lambda: _loguniform(rng, 0.2, 5)) if not dark else 0.0)
    put("particles_per_um2", lambda: (_loguniform(rng, 500, 5000) if p["specimen"] == "replica"
                                      else _sometimes(rng, 0.3, lambda: _loguniform(rng, 50, 1500))))
    # Replicas: the Pt/C cap of an intramembrane particle adds a few nm of metal at most, so its
    # peak contrast is well below a gold sphere's (10-60 % of the faintest gold's, times a
    # per-particle spread of 0.5-1.5); the bright shadow behind it, where the film is missing,
    # has about the film's own contrast: shadow_contrast times the cap's (drawn last, below).
    put("particle_contrast", lambda: (rng.uniform(0.1, 0.6) if p["specimen"] == "replica"
                                      else rng.uniform(0.1, 0.6) if dark else rng.uniform(0.05, 0.4)))
    # Replica micrographs are printed either way: as recorded (1: metal and gold dark, shadows
    # bright) or reversed (-1, a print from the negative: shadows dark, metal and gold white;
    # simulate_tile then inverts the whole image and reports polarity 'bright'). Drawn as recorded,
    # so that a caller's polarity holds.
    def as_recorded():
        rng.random()  # the draw that once chose reversed prints, kept for the draws after it
        return 1.0

    put("shadow_sign", as_recorded)
    put("particle_diameter_nm", lambda: rng.uniform(4, 14) if p["specimen"] == "replica" else rng.uniform(6, 30))
    put("shadow_angle", lambda: rng.uniform(0, 2 * np.pi))
    put("shadow_length", lambda: rng.uniform(0.5, 1.5))
    put("membrane_lines", lambda: rng.uniform(0, 0.3) if p["specimen"] == "section" else 0.0)
    # Detector.
    put("scan_lines", lambda: _sometimes(rng, 0.5, lambda: rng.uniform(0.05, 0.6)) if not dark else 0.0)
    put("gain", lambda: _loguniform(rng, 0.1, 50))
    put("offset", lambda: rng.uniform(0, 3000))
    put("read_noise", lambda: rng.uniform(0, 0.5))
    # Some images arrive as 8-bit exports, clipped at both ends.
    put("bit_depth", lambda: 8 if rng.random() < (0.3 if dark else 0.15) else 0)
    put("camera_blur_px", lambda: _sometimes(rng, 0.5, lambda: rng.uniform(0.3, 0.8)) if dark else 0.0)
    # Drawn after everything else so that adding it left every earlier draw of a seed unchanged.
    put("shadow_contrast", lambda: rng.uniform(0.5, 1.2))
    # Not drawn (no random number used, so every seed's images stay as they were): the most an
    # 8-bit export clips at each end, as a fraction of the pixels; each export draws its own
    # fraction in 0..clip_fraction. A microscope's display window clips more where it is set for
    # the gold alone.
    put("clip_fraction", lambda: 0.01)
    return p


PARAM_NAMES = tuple(_draw_all(np.random.default_rng(0), {}).keys())

#: Overrides for a 'clean' scene: labels on a smooth background with blur and shot noise only (no
#: debris, salt, membrane particles, texture, scan lines, gradients, halos or cell edges), the
#: easy case where classical detectors are at their best.
CLEAN_SCENE = {"particles_per_um2": 0.0, "debris_per_um2": 0.0, "salt_per_um2": 0.0,
               "texture": 0.0, "scan_lines": 0.0, "cell_edge": False, "gradient": 0.0,
               "thickness_variation": 0.0, "ruffle_contrast": 0.0, "membrane_lines": 0.0,
               "halo": 0.0}

#: Overrides for bright-field TEM whose gold is as distinct as an annotator needs it: a weak Pt/C
#: grain, opaque gold, no PSF tail (the replica benchmarks' and ``train calibrate --replicas``'
#: 'gold visible').
VISIBLE_GOLD = {"texture": 0.03, "gold_mfp_nm": 6.0, "tail_weight": 0.0}


def check_params(p: dict) -> None:
    """Raise :class:`~her2net.errors.InputError` for impossible parameter values."""
    if p["polarity"] not in ("bright", "dark"):
        raise InputError(f"polarity: expected 'bright' or 'dark', got {p['polarity']!r}")
    if p["label"] not in LABEL_KINDS:
        raise InputError(f"label: expected one of {', '.join(LABEL_KINDS)}, got {p['label']!r}")
    px = p["pixel_size_nm"]
    if not np.isfinite(px) or px <= 0:
        raise InputError(f"pixel_size_nm: must be positive, got {px}")
    for name in ("dimer_fraction", "cluster_fraction", "close_pair_fraction", "ruffle_fraction", "qd_fraction"):
        if not 0 <= p[name] <= 1:
            raise InputError(f"{name}: must be in [0, 1], got {p[name]}")
    if p["dimer_fraction"] + p["cluster_fraction"] > 1:
        raise InputError("dimer_fraction + cluster_fraction must not exceed 1")
    if p["density_per_um2"] < 0:
        raise InputError(f"density_per_um2: must be >= 0, got {p['density_per_um2']}")
    if p["bit_depth"] not in (0, 8):
        raise InputError(f"bit_depth: expected 0 (no quantisation) or 8, got {p['bit_depth']!r}")
    if not 0 <= p["clip_fraction"] < 0.5:
        raise InputError(f"clip_fraction: must be in [0, 0.5), got {p['clip_fraction']}")
    if p["dose_e_per_A2"] is not None and not p["dose_e_per_A2"] > 0:
        raise InputError(f"dose_e_per_A2: must be positive, got {p['dose_e_per_A2']}")
    smallest = min(min(p["gold_diameters_nm"]) if p["label"] != "qd" else np.inf,
                   7.0 if p["label"] != "gold" else np.inf)
    if smallest < px:
        raise InputError(f"pixel_size_nm: {px} nm makes a {smallest:g} nm label smaller than a pixel")


def draw_params(rng: np.random.Generator, overrides: dict | None = None) -> dict:
    """Draw a full parameter set.

    Parameters
    ----------
    rng : numpy.random.Generator
    overrides : dict, optional
        Fixed values for any of :data:`PARAM_NAMES`. Unknown names raise ``TypeError``.

    Returns
    -------
    dict
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(PARAM_NAMES))
    if unknown:
        raise TypeError(f"unknown simulation parameter(s): {', '.join(unknown)}; "
                        f"known: {', '.join(PARAM_NAMES)}")
    if "gold_diameters_nm" in overrides:
        g = overrides["gold_diameters_nm"]
        overrides["gold_diameters_nm"] = tuple(float(v) for v in np.atleast_1d(g))
    p = _draw_all(rng, overrides)
    check_params(p)
    return p
