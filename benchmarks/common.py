"""Shared pieces of the benchmarks: simulated test sets, scoring, calibration, tables.

Test sets are drawn with :func:`her2net.simulate.simulate_tile`. A *condition* fixes the label
(gold or quantum dot), the contrast polarity (bright: liquid STEM; dark: bright-field TEM of
replicas) and the dose; everything else (label sizes, density, dimers,
clutter, blur, background) is drawn at random. The dose is set through the matched-filter SNR of
the faintest label: ``STANDARD_MATCHED_SNR`` at the standard dose, scaled by ``sqrt(dose factor)``
(shot noise) at lower doses, so that 0.12x is close to the detection limit (matched SNR ~ 4). The
same scenes (seeds) are used at every dose; calibration and test sets use disjoint seeds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from her2net.evaluate import evaluate_detections
from her2net.simulate import CLEAN_SCENE

__all__ = [
    "Condition",
    "Sample",
    "CONDITIONS",
    "DOSES",
    "STANDARD_MATCHED_SNR",
    "make_set",
    "replica_set",
    "score",
    "to_detections_frame",
    "format_table",
    "Timer",
    "add_peer_arguments",
    "setup_logging",
]

STANDARD_MATCHED_SNR = 12.0
DOSES = {"standard": 1.0, "0.3x": 0.3, "0.12x": 0.12}
LABEL_POLARITIES = (("gold", "bright"), ("qd", "bright"), ("gold", "dark"), ("qd", "dark"))
TOLERANCE_NM = 4.0
# One gold size per kind of experiment, as a user's data set has (10 nm in liquid STEM, 12 nm on
# bright-field TEM replicas); quantum dots are 7 x 12 nm.
GOLD_DIAMETER_NM = {"bright": (10.0,), "dark": (12.0,)}


@dataclass(frozen=True)
class Condition:
    """A kind of image: label, polarity and dose factor (relative to the standard dose)."""

    label: str
    polarity: str
    dose: str
    scene: str = "randomised"
    pixel_size_nm: float = 1.0

    @property
    def name(self) -> str:
        prefix = "" if self.scene == "randomised" else f"{self.scene}:"
        return f"{prefix}{self.label}-{self.polarity}-{self.dose}"

    @property
    def matched_snr(self) -> float:
        return STANDARD_MATCHED_SNR * math.sqrt(DOSES[self.dose])


# One pixel size per set (as in one user's data set), different between kinds, so that the
# benchmark spans 0.5-3 nm/px while each peer is tuned on images like those it is tested on.
PIXEL_SIZE_NM = {("randomised", "gold", "bright"): 1.0, ("randomised", "qd", "bright"): 2.0,
                 ("randomised", "gold", "dark"): 0.5, ("randomised", "qd", "dark"): 3.0,
                 ("clean", "gold", "bright"): 1.5, ("clean", "qd", "bright"): 0.7}
CONDITIONS = (tuple(Condition(lab, pol, dose, "randomised",
                              PIXEL_SIZE_NM[("randomised", lab, pol)])
                    for dose in DOSES for lab, pol in LABEL_POLARITIES)
              + tuple(Condition(lab, "bright", dose, "clean", PIXEL_SIZE_NM[("clean", lab, "bright")])
                      for dose in DOSES for lab in ("gold", "qd")))
# 'clean' scenes (liquid STEM only): labels on a smooth background with shot noise and blur only
# (her2net.simulate.CLEAN_SCENE); 'randomised' scenes draw clutter over the simulator's ranges.
CLEAN_OVERRIDES = CLEAN_SCENE


@dataclass(frozen=True)
class Sample:
    """One simulated image with its truth."""

    name: str
    image: np.ndarray
    points_px: np.ndarray
    pixel_size_nm: float
    polarity: str
    metadata: dict


def make_set(condition: Condition, *, n_images: int, seed: int, fov_nm: float = 256.0,
             pixel_size_range_nm=None) -> list[Sample]:
    """Simulate ``n_images`` images of ``condition``, each ``fov_nm`` wide.

    Pixel sizes are the condition's, or log-uniform in ``pixel_size_range_nm`` when given; the
    scene of image ``i`` depends only on ``seed`` and ``i`` (not on the dose), so doses compare
    the same scenes.
    """
    if pixel_size_range_nm is None:
        pixel_size_range_nm = (condition.pixel_size_nm, condition.pixel_size_nm)
    from her2net.simulate import simulate_tile

    samples = []
    for i in range(n_images):
        rng = np.random.default_rng([seed, i])
        lo, hi = np.log(pixel_size_range_nm[0]), np.log(pixel_size_range_nm[1])
        px = float(np.exp(rng.uniform(lo, hi)))
        size = int(round(fov_nm / px))
        extra = dict(CLEAN_OVERRIDES) if condition.scene == "clean" else {}
        if condition.label == "gold":
            extra["gold_diameters_nm"] = GOLD_DIAMETER_NM[condition.polarity]
        image, points, meta = simulate_tile(
            np.random.default_rng([seed, i, 1]), size, pixel_size_nm=px,
            polarity=condition.polarity, label=condition.label, matched_snr=condition.matched_snr,
            **extra,
        )
        samples.append(Sample(f"{condition.name}/{seed}-{i}", image, points, px,
                              condition.polarity, meta))
    return samples


def replica_set(n_images: int, seed: int, *, particle_contrast: float | None = None,
                size_px: int = 320, pixel_size_nm: float = 1.2, matched_snr: float = 30.0,
                overrides: dict | None = None) -> list:
    """Bright-field TEM freeze-fracture replicas: 6- and 12-nm gold among shadowed particles.

    Everything but the specimen, the label sizes and the dose is drawn at random (membrane
    particles 500-5000/um^2, Pt/C grain, shadow direction and length, blur, 8-bit export...).
    ``particle_contrast`` fixes the particles' peak contrast relative to the faintest gold's
    (the simulator draws it in 0.1-0.6 otherwise); ``overrides`` fixes any other simulator
    parameter (names of :data:`her2net.simulate.params.PARAM_NAMES`, e.g. ``{"texture": 0.03}``),
    these defaults included: ``{"matched_snr": 150}`` for a higher dose, ``{"pixel_size_nm": 0.6}``
    for another magnification, at which the image keeps the field of view of ``size_px`` pixels
    of ``pixel_size_nm`` (640 px of 0.6 nm).
    """
    from her2net.simulate import simulate_tile

    extra = {"polarity": "dark", "specimen": "replica", "label": "gold",
             "gold_diameters_nm": (6.0, 12.0), "matched_snr": float(matched_snr),
             **(overrides or {})}
    if particle_contrast is not None:
        extra["particle_contrast"] = float(particle_contrast)
    field_nm = size_px * pixel_size_nm
    pixel_size_nm = float(extra.pop("pixel_size_nm", pixel_size_nm))
    size_px = int(round(field_nm / pixel_size_nm))
    samples = []
    for i in range(n_images):
        image, points, meta = simulate_tile(np.random.default_rng([seed, i]), size_px, pixel_size_nm,
                                            **extra)
        samples.append(Sample(f"replica/{i}", image, points, pixel_size_nm, meta["polarity"], meta))
    return samples


def to_detections_frame(sample: Sample, xy_px: np.ndarray, scores=None) -> pd.DataFrame:
    """Detections of one sample as an evaluate-ready frame (image, x_px, y_px, x_nm, y_nm, score)."""
    xy_px = np.asarray(xy_px, dtype=float).reshape(-1, 2)
    frame = pd.DataFrame({"image": sample.name, "x_px": xy_px[:, 0], "y_px": xy_px[:, 1]})
    frame["x_nm"] = frame["x_px"] * sample.pixel_size_nm
    frame["y_nm"] = frame["y_px"] * sample.pixel_size_nm
    if scores is not None:
        frame["score"] = np.asarray(scores, dtype=float)
    return frame


def truth_frame(samples) -> pd.DataFrame:
    """Truth of several samples (image, x_nm, y_nm, kind, region)."""
    frames = []
    for s in samples:
        frames.append(pd.DataFrame({
            "image": s.name, "x_nm": s.points_px[:, 0] * s.pixel_size_nm,
            "y_nm": s.points_px[:, 1] * s.pixel_size_nm,
            "kind": np.asarray(s.metadata["kind"]).astype(str),
            "region": np.asarray(s.metadata["region"]),
        }))
    return pd.concat(frames, ignore_index=True)


def score(detections: pd.DataFrame, samples, **options):
    """Evaluate detections of ``samples`` (one-to-one matching within 4 nm)."""
    options.setdefault("tolerance_nm", TOLERANCE_NM)
    if detections.empty:
        detections = pd.DataFrame({"image": pd.Series(dtype=str), "x_nm": pd.Series(dtype=float),
                                   "y_nm": pd.Series(dtype=float)})
    return evaluate_detections(detections, truth_frame(samples), **options)


def format_table(frame: pd.DataFrame, *, floatfmt: str = ".3f") -> str:
    """A GitHub-markdown table of ``frame`` (no tabulate needed)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else format(v, floatfmt)
        return str(v)

    header = [str(c) for c in frame.columns]
    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


class Timer:
    """Context manager measuring wall time in seconds (``.seconds``)."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False


def add_peer_arguments(parser, *, results, n_test: int, routed: bool = False) -> None:
    """The options shared by the benchmarks that score her2net beside tuned peers.

    ``routed``: her2net's checkpoint defaults to 'auto' (as `her2net detect` without
    ``--checkpoint``) instead of the shipped her2net-v1.pt alone.
    """
    parser.add_argument("--methods", nargs="+", default=["trackpy", "blob_log", "her2net"],
                        choices=["trackpy", "blob_log", "matched_filter", "her2net"])
    parser.add_argument("--n-calibration", type=int, default=3)
    parser.add_argument("--n-test", type=int, default=n_test)
    default = ("'auto'" if routed else "the shipped her2net-v1.pt alone")
    parser.add_argument("--checkpoint", type=Path, default=Path("auto") if routed else None,
                        help=f"her2net checkpoint to score (default: {default}; 'default': "
                             "her2net-v1.pt; 'replicas': the replica specialist; 'auto': both, "
                             "routed per image as `her2net detect` does without --checkpoint); "
                             "give --results elsewhere to keep the stored rows")
    parser.add_argument("--results", type=Path, default=results)
    parser.add_argument("--print-only", action="store_true", help="print the stored tables")


def setup_logging() -> None:
    """Progress lines on stderr; her2net's own per-image messages and peers' warnings muted."""
    import logging
    import warnings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("her2net").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No maxima survived")
