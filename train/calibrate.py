"""``python -m train calibrate CHECKPOINT``: choose the detection threshold on a dose ladder.

The threshold picked during training maximises F1 on the run's validation tiles, whose mix of
doses is set for learning (almost half the tiles sit near the detection limit), not for use.
Users image a dose series: the same kind of cell at a standard dose and at lower doses that spare
the cells. This step simulates such a ladder with her2net's simulator: every scene at a standard
matched-filter SNR (log-uniform in ``--standard-snr``) and at 0.3x and 0.12x of that dose (the same
scene, the SNR scaled by the square root of the dose), over bright gold and quantum dots in
liquid STEM and dark gold in bright-field TEM, at pixel sizes of 0.5-3 nm, half of the scenes
clean (labels on a smooth background) and half with the simulator's clutter. Detections are made
once with a low threshold; the pair (threshold, relative threshold) kept is the one with the best
mean F1 over the three doses (one-to-one matching within 4 nm, each dose weighted equally). The
relative threshold raises the threshold per image where the labels score high
(:func:`her2net.detect.postprocess.image_threshold`); 0 turns it off. The checkpoint is rewritten
with both and the whole sweep in its metadata (``threshold_calibration``).

With ``--replicas`` the sweep runs on simulated freeze-fracture replicas instead
(:func:`calibrate_on_replicas`): the threshold of a replica specialist
(``checkpoints/her2net-v1-replicas.pt``), which ``detect`` only sends images of that kind. Three
kinds of replica weigh equally: 6- and 12-nm gold among shadowed membrane particles as the
simulator draws them, the same with the gold as distinct as an annotator needs it, and that gold
sparse (10-30 receptors per um^2, as on much of a real replica), where the false detections per
um^2 decide precision.

With ``--annotated POINTS_CSV`` (and ``--manifest``, ``--images``) the sweep runs on annotated
images instead, the pooled F1 over them (:func:`calibrate_on_annotated`): after fine-tuning on a
lab's own micrographs, the threshold for that kind of image, chosen on images held out of the
training.

First, the step measures the network's null (``noise_peak_rate``): how many peaks per square
micrometre it scores above each threshold in label-free images (pure Poisson noise fields and the
simulator's clean scenes without labels, 0.5-3 nm/px, both polarities). ``detect`` uses it to
lower the threshold in images whose only clutter is white noise
(:mod:`her2net.detect.noise_floor`), and the sweep scores every pair with that lowering, as
``detect(threshold='auto')`` applies it.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["calibrate_threshold", "calibrate_on_annotated", "calibrate_on_replicas",
           "sweep_thresholds", "ladder_scenes", "replica_scenes", "measure_noise_peak_rate", "main"]

logger = logging.getLogger(__name__)

DOSES = (1.0, 0.3, 0.12)
THRESHOLDS = tuple(np.round(np.arange(0.15, 0.701, 0.025), 3))
RELATIVE_THRESHOLDS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
KINDS = (("gold", "bright"), ("qd", "bright"), ("gold", "dark"))
NOISE_THRESHOLDS = tuple(np.round(np.arange(0.15, 0.501, 0.025), 3))
#: The kinds of replica of ``--replicas``, each weighing equally in the mean F1.
REPLICA_GROUPS = ("drawn", "visible", "sparse")
#: The sparse rule's grid (``--replicas``): its threshold, and the confident peaks per um^2
#: under which an image's labels count as sparse ...
SPARSE_THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
SPARSE_BELOW_PER_UM2 = (30.0, 60.0, 100.0, 200.0)
#: ... a peak scoring this much being almost always a label (membrane particles on simulated
#: replicas: 99 % under 0.55) ...
SPARSE_CONFIDENT_SCORE = 0.6
#: ... and the peaks per um^2 between the two thresholds the rule needs to hold (the clutter it
#: drops; 0: no such condition). Only 0 by default: her2net's replicas alone do not call for it.
SPARSE_BAND_MIN_PER_UM2 = (0.0,)


def ladder_scenes(n_scenes: int, *, seed: int = 7, standard_snr=(16.0, 48.0), fov_nm: float = 320.0):
    """Yield ``(scene, dose, image, points_px, pixel_size_nm, polarity)`` for every scene and dose."""
    from her2net.simulate import CLEAN_SCENE, simulate_tile

    for i in range(n_scenes):
        rng = np.random.default_rng([seed, i])
        label, polarity = KINDS[i % len(KINDS)]
        px = float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
        snr = float(np.exp(rng.uniform(*np.log(standard_snr))))
        extra = dict(CLEAN_SCENE) if (i // len(KINDS)) % 2 == 0 else {}
        size = int(round(fov_nm / px))
        for dose in DOSES:
            image, points, _ = simulate_tile(np.random.default_rng([seed, i, 1]), size, pixel_size_nm=px,
                                             polarity=polarity, label=label,
                                             matched_snr=snr * math.sqrt(dose), **extra)
            yield i, dose, image, points, px, polarity


def _loguniform(rng, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def replica_scenes(n_scenes: int, *, seed: int = 7):
    """Yield ``(group, image, points_px, pixel_size_nm, 'dark')`` of simulated replicas.

    Bright-field TEM of 6- and 12-nm gold on freeze-fracture replicas among Pt/C-shadowed
    membrane particles, at 0.8-2 nm/px and a matched SNR of 15-60 (both log-uniform), the
    groups of :data:`REPLICA_GROUPS` in turn: ``drawn`` (every other parameter drawn by the
    simulator: gold 30-1000 per um^2, 400-nm field), ``visible`` (the same with
    :data:`her2net.simulate.VISIBLE_GOLD`) and ``sparse`` (visible gold on 10-30 receptors per
    um^2, 1200-nm field).
    """
    from her2net.simulate import VISIBLE_GOLD, simulate_tile

    for i in range(n_scenes):
        rng = np.random.default_rng([seed, i])
        group = REPLICA_GROUPS[i % len(REPLICA_GROUPS)]
        px = _loguniform(rng, 0.8, 2.0)
        snr = _loguniform(rng, 15.0, 60.0)
        density = _loguniform(rng, 10.0, 30.0)
        extra = {} if group == "drawn" else dict(VISIBLE_GOLD)
        fov_nm = 400.0
        if group == "sparse":
            extra["density_per_um2"] = density
            fov_nm = 1200.0
        image, points, _ = simulate_tile(np.random.default_rng([seed, i, 1]), int(round(fov_nm / px)),
                                         pixel_size_nm=px, polarity="dark", specimen="replica",
                                         label="gold", gold_diameters_nm=(6.0, 12.0),
                                         matched_snr=snr, **extra)
        yield group, image, points, px, "dark"


def calibrate_on_replicas(model, *, n_scenes: int = 60, seed: int = 7, thresholds=THRESHOLDS,
                          relative_thresholds=RELATIVE_THRESHOLDS,
                          sparse_thresholds=SPARSE_THRESHOLDS, sparse_below=SPARSE_BELOW_PER_UM2,
                          sparse_band_min=SPARSE_BAND_MIN_PER_UM2, tolerance_nm: float = 4.0,
                          noise_peak_rate: dict | None = None, keep_pair: bool = False) -> dict:
    """Choose the thresholds of ``model`` on simulated freeze-fracture replicas.

    Two stages on the scenes of :func:`replica_scenes`, detected once and replayed as
    ``detect(threshold='auto')`` applies each setting: the (threshold, relative threshold) pair
    with the best mean F1 over the replicas with gold in numbers (``drawn`` and ``visible``),
    then, with that pair, the sparse rule (:func:`her2net.detect.postprocess.sparse_labels`: a
    higher threshold from ``sparse_thresholds`` where fewer than one of ``sparse_below`` peaks
    per um^2 score :data:`SPARSE_CONFIDENT_SCORE` or more and, for a non-zero one of
    ``sparse_band_min``, at least that many per um^2 between the pair's threshold and the rule's),
    or none, with the best mean F1 over all three kinds. For a replica specialist, which ``detect`` sends only images of that kind
    (:mod:`her2net.detect.routing`). ``keep_pair`` skips the first stage: the sparse rule is
    chosen for the checkpoint's own pair (``model.threshold``, ``model.relative_threshold``).

    Returns
    -------
    dict
        As :func:`calibrate_threshold` (``table``: the first stage, ``f1_drawn`` and
        ``f1_visible`` per pair), with ``sparse_threshold`` (the rule, or None),
        ``sparse_table`` (the second stage, ``f1_sparse`` too) and ``mean_f1`` of the choice
        over the three kinds.
    """
    found = detect_scenes(model, replica_scenes(n_scenes, seed=seed),
                          floor=float(min(thresholds)), progress_every=10)
    if keep_pair:
        thresholds = (float(model.threshold),)
        relative_thresholds = (float(model.relative_threshold),)
    dense = best_pair(found, groups=REPLICA_GROUPS[:2], thresholds=thresholds,
                      relative_thresholds=relative_thresholds, tolerance_nm=tolerance_nm,
                      noise_peak_rate=noise_peak_rate)
    t, r = dense["threshold"], dense["relative_threshold"]
    rules = [None] + [{"threshold": float(ts), "below_per_um2": float(d0),
                       "confident_score": SPARSE_CONFIDENT_SCORE,
                       **({"band_min_per_um2": float(b)} if b > 0 else {})}
                      for ts in sparse_thresholds if ts > t for d0 in sparse_below
                      for b in sparse_band_min]
    sparse_table = _replay(found, [(t, r, rule) for rule in rules], groups=REPLICA_GROUPS,
                           tolerance_nm=tolerance_nm, noise_peak_rate=noise_peak_rate)
    k = max(range(len(rules)), key=lambda i: sparse_table[i]["mean_f1"])
    result = dict(dense)
    result.update({"sparse_threshold": rules[k], "sparse_table": sparse_table,
                   "mean_f1": sparse_table[k]["mean_f1"], "n_scenes": int(n_scenes),
                   "seed": int(seed), "groups": list(REPLICA_GROUPS),
                   "method": "best mean F1 over simulated freeze-fracture replicas: as drawn, "
                             "gold visible, sparse gold (train/calibrate.py)"})
    return result


def calibrate_threshold(model, *, n_scenes: int = 60, seed: int = 7, standard_snr=(16.0, 48.0),
                        thresholds=THRESHOLDS, relative_thresholds=RELATIVE_THRESHOLDS,
                        tolerance_nm: float = 4.0, noise_peak_rate: dict | None = None) -> dict:
    """Sweep the threshold and the relative threshold of ``model`` on a simulated dose ladder.

    With ``noise_peak_rate`` (from :func:`measure_noise_peak_rate`) every pair is scored as
    ``detect(threshold='auto')`` would apply it, the noise-limited lowering included; without it,
    with the raise alone. Peaks at the image's edge are kept as ``detect`` keeps them
    (:func:`her2net.detect.postprocess.passes_threshold`).

    Returns
    -------
    dict
        ``threshold`` and ``relative_threshold`` (best mean F1 over the doses), ``mean_f1``,
        ``table`` (per pair: the F1 at each dose and their mean) and the settings of the sweep.
    """
    scenes = ((dose, image, points, px, polarity) for _, dose, image, points, px, polarity
              in ladder_scenes(n_scenes, seed=seed, standard_snr=standard_snr))
    result = sweep_thresholds(model, scenes, groups=DOSES, thresholds=thresholds,
                              relative_thresholds=relative_thresholds, tolerance_nm=tolerance_nm,
                              noise_peak_rate=noise_peak_rate, progress_every=10 * len(DOSES))
    result.update({"n_scenes": int(n_scenes), "seed": int(seed),
                   "standard_matched_snr": list(standard_snr), "doses": list(DOSES),
                   "method": "best mean F1 over a simulated dose ladder (train/calibrate.py)"})
    return result


def calibrate_on_annotated(model, annotated, *, thresholds=THRESHOLDS,
                           relative_thresholds=RELATIVE_THRESHOLDS, tolerance_nm: float = 4.0,
                           noise_peak_rate: dict | None = None) -> dict:
    """Sweep the threshold pair of ``model`` on annotated images (a lab's own held-out images).

    ``annotated`` holds ``(name, micrograph, polarity, points_px)`` as
    :func:`train.datasets.iter_annotated` yields them (a points CSV ``image, x_px, y_px``, pixel
    sizes from a manifest or the files; images the manifest lists without points hold no labels).
    Detections are scored against the points at each image's own pixel size, pooled over the
    images (one-to-one matching within ``tolerance_nm``), with the same replay of
    ``detect(threshold='auto')`` as the dose ladder.

    Returns
    -------
    dict
        As :func:`calibrate_threshold`, with one group: ``f1_annotated`` per pair, ``mean_f1``
        the best pooled F1, ``images`` the names used.
    """
    annotated = list(annotated)
    if not annotated:
        raise ValueError("no annotated images to calibrate on")
    scenes = (("annotated", micrograph.data, xy, micrograph.pixel_size_nm, polarity)
              for _, micrograph, polarity, xy in annotated)
    result = sweep_thresholds(model, scenes, groups=("annotated",), thresholds=thresholds,
                              relative_thresholds=relative_thresholds, tolerance_nm=tolerance_nm,
                              noise_peak_rate=noise_peak_rate, progress_every=10)
    names = [name for name, *_ in annotated]
    result.update({"images": names,
                   "method": f"best F1 on {len(names)} annotated images (train/calibrate.py)"})
    return result


def sweep_thresholds(model, scenes, *, groups, thresholds=THRESHOLDS,
                     relative_thresholds=RELATIVE_THRESHOLDS, tolerance_nm: float = 4.0,
                     noise_peak_rate: dict | None = None, progress_every: int = 30) -> dict:
    """F1 of every (threshold, relative threshold) pair over ``scenes``, per group and averaged.

    ``scenes`` yields ``(group, image, points_px, pixel_size_nm, polarity)``; each image is
    detected once at the lowest threshold (:func:`detect_scenes`) and every pair replayed on its
    peaks as ``detect(threshold='auto')`` applies it (:func:`best_pair`). F1 is pooled within a
    group; ``mean_f1`` is the mean over ``groups`` and the pair with the best one is returned.
    """
    found = detect_scenes(model, scenes, floor=float(min(thresholds)),
                          progress_every=progress_every)
    return best_pair(found, groups=groups, thresholds=thresholds,
                     relative_thresholds=relative_thresholds, tolerance_nm=tolerance_nm,
                     noise_peak_rate=noise_peak_rate)


def best_pair(found: list, *, groups, thresholds=THRESHOLDS,
              relative_thresholds=RELATIVE_THRESHOLDS, tolerance_nm: float = 4.0,
              noise_peak_rate: dict | None = None) -> dict:
    """The (threshold, relative threshold) pair with the best mean F1 on :func:`detect_scenes`'s
    peaks, and the whole table; see :func:`sweep_thresholds`."""
    from her2net.detect.postprocess import RELATIVE_THRESHOLD_QUANTILE

    grid = [(float(t), float(r), None) for t in thresholds for r in relative_thresholds]
    table = _replay(found, grid, groups=groups, tolerance_nm=tolerance_nm,
                    noise_peak_rate=noise_peak_rate)
    best = max(table, key=lambda r: r["mean_f1"])
    return {"threshold": best["threshold"], "relative_threshold": best["relative_threshold"],
            "relative_threshold_quantile": RELATIVE_THRESHOLD_QUANTILE,
            "mean_f1": best["mean_f1"], "table": table, "tolerance_nm": float(tolerance_nm),
            "with_noise_limited_lowering": bool(noise_peak_rate)}


def detect_scenes(model, scenes, *, floor: float, progress_every: int = 30) -> list:
    """Detect every scene once at ``floor``: the peaks that :func:`_replay` thresholds."""
    from her2net.detect import detect
    from her2net.detect.noise_floor import white_noise_index
    from her2net.detect.postprocess import edge_distance_nm

    out = []
    for n_done, (group, image, points, px, polarity) in enumerate(scenes, 1):
        found = detect(image, pixel_size_nm=px, model=model, polarity=polarity, threshold=floor,
                       device="cpu")
        out.append({"group": group, "xy_nm": found[["x_nm", "y_nm"]].to_numpy(),
                    "score": found["score"].to_numpy(),
                    "edge_nm": edge_distance_nm(found[["x_px", "y_px"]].to_numpy(), image.shape,
                                                pixel_size_nm=px),
                    "truth_nm": points * px, "white_index": white_noise_index(image, px),
                    "area_um2": image.size * px * px / 1e6})
        if n_done % progress_every == 0:
            logger.info("calibration: %d images", n_done)
    return out


def _replay(found: list, grid, *, groups, tolerance_nm: float, noise_peak_rate) -> list:
    """One row per ``(threshold, relative threshold, sparse rule)`` of ``grid``: F1 per group."""
    from her2net.detect.postprocess import auto_threshold, passes_threshold
    from her2net.evaluate import match_points

    counts = {g: np.zeros((len(grid), 3)) for g in groups}  # tp, n_detected, n_truth
    for scene in found:
        if scene["group"] not in counts:
            continue
        for k, (t, r, sparse) in enumerate(grid):
            applied, _ = auto_threshold(scene["score"], threshold=t, relative_threshold=r,
                                        white_index=scene["white_index"],
                                        area_um2=scene["area_um2"],
                                        noise_peak_rate=noise_peak_rate, sparse_threshold=sparse)
            keep = passes_threshold(scene["score"], scene["edge_nm"], image_threshold=applied,
                                    threshold=t, white_index=scene["white_index"])
            pairs, _ = match_points(scene["xy_nm"][keep], scene["truth_nm"], tolerance=tolerance_nm)
            counts[scene["group"]][k] += (len(pairs), keep.sum(), len(scene["truth_nm"]))

    def column(group):
        return f"f1_{group:g}x" if isinstance(group, float) else f"f1_{group}"

    table = []
    for k, (t, r, sparse) in enumerate(grid):
        row = {"threshold": t, "relative_threshold": r}
        if sparse is not None:
            row["sparse_threshold"] = float(sparse["threshold"])
            row["sparse_below_per_um2"] = float(sparse["below_per_um2"])
            row["sparse_band_min_per_um2"] = float(sparse.get("band_min_per_um2", 0.0))
        for g in groups:
            tp, n_det, n_truth = counts[g][k]
            row[column(g)] = float(2 * tp / max(n_det + n_truth, 1))
        row["mean_f1"] = float(np.mean([row[column(g)] for g in groups]))
        table.append(row)
    return table


def noise_scenes(n_images: int, *, seed: int = 11, fov_nm: float = 512.0):
    """Yield ``(image, pixel_size_nm, polarity)`` of label-free images.

    Every other image is a pure Poisson field (a mean of 2-200 counts per pixel, with a 20 %
    ramp), the others are the simulator's clean scenes without labels (liquid STEM or
    bright-field TEM at a matched SNR of 4-20); pixel sizes log-uniform in 0.5-3 nm.
    """
    from her2net.simulate import CLEAN_SCENE, simulate_tile

    for i in range(n_images):
        rng = np.random.default_rng([seed, i])
        px = float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
        size = int(round(fov_nm / px))
        label, polarity = KINDS[i % len(KINDS)]
        if i % 2 == 0:
            counts = float(np.exp(rng.uniform(np.log(2.0), np.log(200.0))))
            yy, xx = np.mgrid[:size, :size] / size - 0.5
            angle = rng.uniform(0, 2 * np.pi)
            mean = counts * (1 + 0.2 * (xx * np.cos(angle) + yy * np.sin(angle)))
            image = rng.poisson(mean).astype(np.float32)
        else:
            snr = float(np.exp(rng.uniform(np.log(4.0), np.log(20.0))))
            image, _, _ = simulate_tile(rng, size, pixel_size_nm=px, polarity=polarity, label=label,
                                        matched_snr=snr, density_per_um2=0.0, **CLEAN_SCENE)
        yield image, px, polarity


def measure_noise_peak_rate(model, *, n_images: int = 24, seed: int = 11,
                            thresholds=NOISE_THRESHOLDS) -> dict:
    """Peaks per square micrometre that ``model`` scores at or above each threshold without labels.

    Returns
    -------
    dict
        ``thresholds``, ``rate_per_um2`` (the mean over the images, each weighted by its area),
        ``n_images``, ``area_um2`` and ``seed``; stored in checkpoint metadata as
        ``noise_peak_rate``.
    """
    from her2net.detect import detect

    floor = float(min(thresholds))
    counts = np.zeros(len(thresholds))
    area_um2 = 0.0
    for image, px, polarity in noise_scenes(n_images, seed=seed):
        found = detect(image, pixel_size_nm=px, model=model, polarity=polarity, threshold=floor,
                       device="cpu", refine=False)
        score = found["score"].to_numpy()
        counts += [np.count_nonzero(score >= t) for t in thresholds]
        area_um2 += image.size * px * px / 1e6
    return {"thresholds": [float(t) for t in thresholds],
            "rate_per_um2": [float(c / area_um2) for c in counts],
            "n_images": int(n_images), "area_um2": float(area_um2), "seed": int(seed),
            "method": "label-free Poisson fields and clean simulated scenes (train/calibrate.py)"}


def _training_polarity(metadata: dict) -> str | None:
    """The label polarity of the annotated images a checkpoint was fine-tuned on, or None.

    ``metadata['polarity']`` is the network's input polarity (always bright: dark-label images
    are inverted first), not the images'; the run's resolved config, which ``train export``
    stores as ``training_config``, holds ``data.annotated.polarity``.
    """
    config = metadata.get("training_config") or {}
    annotated = (config.get("data") or {}).get("annotated") or {}
    polarity = annotated.get("polarity") if isinstance(annotated, dict) else None
    return polarity if polarity in ("bright", "dark") else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train calibrate",
                                     description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("checkpoint", help="inference checkpoint (.pt) to calibrate")
    parser.add_argument("--out", default=None, help="where to write it (default: in place)")
    parser.add_argument("--scenes", type=int, default=60,
                        help="scenes, each at three doses (with --replicas: replicas)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--standard-snr", type=float, nargs=2, default=(16.0, 48.0),
                        metavar=("LO", "HI"), help="matched-filter SNR range at the standard dose")
    parser.add_argument("--noise-images", type=int, default=24,
                        help="label-free images for the network's noise peak rate")
    parser.add_argument("--replicas", action="store_true",
                        help="sweep on simulated freeze-fracture replicas (gold as drawn, "
                             "visible, sparse) instead of the dose ladder: for a replica "
                             "specialist")
    parser.add_argument("--keep-threshold", action="store_true",
                        help="with --replicas: keep the checkpoint's threshold and relative "
                             "threshold, choose only the sparse rule")
    parser.add_argument("--sparse-thresholds", type=float, nargs="+", default=None, metavar="T",
                        help="with --replicas: the sparse rule's thresholds to choose from "
                             f"(default {' '.join(f'{t:g}' for t in SPARSE_THRESHOLDS)}; the "
                             "shipped specialist's is limited to 0.5, docs/training.md)")
    parser.add_argument("--sparse-below", type=float, nargs="+", default=None, metavar="N",
                        help="with --replicas: the confident peaks per um^2 under which the "
                             "rule holds, to choose from (default "
                             f"{' '.join(f'{b:g}' for b in SPARSE_BELOW_PER_UM2)})")
    parser.add_argument("--sparse-band-min", type=float, nargs="+", default=None, metavar="N",
                        help="with --replicas: the peaks per um^2 between the two thresholds "
                             "the rule also needs (the clutter it drops), to choose from "
                             "(default 0: no such condition; the shipped specialist's is 10, "
                             "docs/training.md)")
    own = parser.add_argument_group(
        "calibrating on annotated images instead of the simulated ladder (after fine-tuning: "
        "the threshold for the lab's own kind of images; hold these images out of training)")
    own.add_argument("--annotated", metavar="POINTS_CSV", default=None,
                     help="points CSV (image, x_px, y_px), the format her2net detect writes")
    own.add_argument("--images-dir", default=None,
                     help="folder the CSV's images are in (default: the CSV's folder)")
    own.add_argument("--manifest", default=None,
                     help="cells.csv with pixel_size_nm; its images without points hold no labels")
    own.add_argument("--polarity", choices=("bright", "dark"), default=None,
                     help="labels bright (ADF STEM) or dark (bright-field TEM); default: the "
                          "polarity the checkpoint was fine-tuned on (its training_config's "
                          "data.annotated.polarity), else bright; a polarity column in the "
                          "manifest overrides it")
    own.add_argument("--images", nargs="+", default=None, metavar="NAME",
                     help="only these images of the CSV/manifest (the held-out ones)")
    args = parser.parse_args(argv)
    if args.annotated is None and any(v is not None for v in (args.images_dir, args.manifest,
                                                              args.images)):
        parser.error("--images-dir, --manifest and --images go with --annotated POINTS_CSV")
    if args.keep_threshold and not args.replicas:
        parser.error("--keep-threshold goes with --replicas")
    for name, values in (("--sparse-thresholds", args.sparse_thresholds),
                         ("--sparse-below", args.sparse_below),
                         ("--sparse-band-min", args.sparse_band_min)):
        if values and not args.replicas:
            parser.error(f"{name} goes with --replicas")
    if args.sparse_band_min and not all(b >= 0 for b in args.sparse_band_min):
        parser.error("--sparse-band-min: each must be a number of peaks per um^2, 0 or more")
    if args.sparse_thresholds and not all(0.0 < t < 1.0 for t in args.sparse_thresholds):
        parser.error("--sparse-thresholds: each must be a probability in (0, 1)")
    if args.sparse_below and not all(b > 0 for b in args.sparse_below):
        parser.error("--sparse-below: each must be a positive number of peaks per um^2")
    if args.replicas and args.annotated is not None:
        parser.error("--replicas and --annotated are two ways to calibrate: give one")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("her2net").setLevel(logging.WARNING)  # not a line per simulated image

    from her2net.errors import InputError
    from her2net.model.checkpoint import load_model, save_checkpoint

    out_path = Path(args.out or args.checkpoint)
    try:  # bad input fails before minutes of work, with one line
        model = load_model(args.checkpoint, device="cpu")
        if not out_path.parent.is_dir():
            raise InputError(f"{out_path}: no such folder {out_path.parent}")
        if args.annotated is not None:
            from train.datasets import iter_annotated

            images_dir = args.images_dir or str(Path(args.annotated).parent)
            polarity = args.polarity or _training_polarity(model.metadata)
            if args.polarity is None:
                source = "the checkpoint's fine-tuning data" if polarity else "the default"
                polarity = polarity or "bright"
                print(f"polarity {polarity} ({source}; --polarity overrides)", flush=True)
            annotated = list(iter_annotated(images_dir, args.annotated, args.manifest, polarity,
                                            args.images))
            if not annotated:
                raise InputError(f"{args.annotated}: none of the images asked for is annotated")
    except (ValueError, OSError) as exc:  # InputError is a ValueError
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    noise = measure_noise_peak_rate(model, n_images=args.noise_images)
    print("noise peaks per um^2: " + ", ".join(
        f"{t:.3f}: {r:.1f}" for t, r in zip(noise["thresholds"], noise["rate_per_um2"])), flush=True)
    if args.annotated is not None:
        result = calibrate_on_annotated(model, annotated, noise_peak_rate=noise)
        result["points_csv"] = str(args.annotated)
        groups = "the annotated images"
        command = (f"python -m train calibrate <checkpoint> --annotated {args.annotated}"
                   f" --images-dir {images_dir} --polarity {polarity}"
                   + (f" --manifest {args.manifest}" if args.manifest else "")
                   + (f" --images {' '.join(args.images)}" if args.images else "")
                   + f" --noise-images {args.noise_images}")
    elif args.replicas:
        sparse_thresholds = tuple(args.sparse_thresholds or SPARSE_THRESHOLDS)
        sparse_below = tuple(args.sparse_below or SPARSE_BELOW_PER_UM2)
        sparse_band_min = tuple(args.sparse_band_min or SPARSE_BAND_MIN_PER_UM2)
        result = calibrate_on_replicas(model, n_scenes=args.scenes, seed=args.seed,
                                       noise_peak_rate=noise, keep_pair=args.keep_threshold,
                                       sparse_thresholds=sparse_thresholds,
                                       sparse_below=sparse_below, sparse_band_min=sparse_band_min)
        groups = "replicas " + ", ".join(REPLICA_GROUPS)
        command = (f"python -m train calibrate <checkpoint> --replicas --scenes {args.scenes}"
                   f" --seed {args.seed} --noise-images {args.noise_images}"
                   + (" --keep-threshold" if args.keep_threshold else "")
                   + (" --sparse-thresholds " + " ".join(f"{t:g}" for t in sparse_thresholds)
                      if args.sparse_thresholds else "")
                   + (" --sparse-below " + " ".join(f"{b:g}" for b in sparse_below)
                      if args.sparse_below else "")
                   + (" --sparse-band-min " + " ".join(f"{b:g}" for b in sparse_band_min)
                      if args.sparse_band_min else ""))
    else:
        result = calibrate_threshold(model, n_scenes=args.scenes, seed=args.seed,
                                     standard_snr=tuple(args.standard_snr), noise_peak_rate=noise)
        groups = "doses " + ", ".join(f"{d:g}x" for d in DOSES)
        command = (f"python -m train calibrate <checkpoint> --scenes {args.scenes} --seed {args.seed}"
                   f" --noise-images {args.noise_images}")
    for row in result["table"]:
        if row["relative_threshold"] in (0.0, result["relative_threshold"]):
            print("  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    if result["mean_f1"] <= 0.0:
        hint = " (is --polarity right?)" if args.annotated is not None else ""
        print(f"train: error: {args.annotated or args.checkpoint}: F1 is 0 at every threshold"
              f"{hint}; {out_path} not written", file=sys.stderr)
        return 2
    metadata = dict(model.metadata)
    metadata["noise_peak_rate"] = noise
    metadata.setdefault("training_threshold", metadata["threshold"])
    metadata["threshold"] = float(result["threshold"])
    metadata["relative_threshold"] = float(result["relative_threshold"])
    metadata.pop("sparse_threshold", None)  # only a replica calibration sets it
    if result.get("sparse_threshold"):
        metadata["sparse_threshold"] = dict(result["sparse_threshold"])
    metadata["threshold_source"] = result["method"]
    metadata["threshold_calibration"] = result
    commands = list(metadata.get("training_commands") or [])
    if command not in commands:
        metadata["training_commands"] = commands + [command]
    out = save_checkpoint(out_path, model.net.cpu(), metadata)
    load_model(out)
    rule = result.get("sparse_threshold")
    if "sparse_table" in result:
        print("sparse rule: " + (f"threshold {rule['threshold']:.3f} where under "
                                 f"{rule['below_per_um2']:g} peaks per um^2 score "
                                 f"{rule['confident_score']:g} or more"
                                 + (f" and {rule['band_min_per_um2']:g} per um^2 or more between "
                                    "the two thresholds" if rule and rule.get("band_min_per_um2")
                                    else "") if rule else "none"), flush=True)
    print(f"threshold {result['threshold']:.3f}, relative threshold "
          f"{result['relative_threshold']:.2f} (mean F1 {result['mean_f1']:.3f} over {groups}; "
          f"was {metadata['training_threshold']:.3f}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
