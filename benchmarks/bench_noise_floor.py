"""What the noise-limited threshold sees: the white-noise index per kind of image, and the null.

Usage (from the repository root)::

    python -m benchmarks.bench_noise_floor [--n-images 4] [--checkpoint X.pt]

``threshold='auto'`` lowers the threshold only in images whose
:func:`her2net.detect.noise_floor.white_noise_index` is below ``WHITE_NOISE_MAX_INDEX`` (1.6),
as far as the checkpoint's ``noise_peak_rate`` allows (``docs/detect.md``, step 4). The first
table gives the index (min, median, max over ``--n-images``) for pure noise fields, the second
simulator's images (``benchmarks.independent_sim``), her2net's clean and cluttered scenes and
replicas, how often the threshold was lowered there, and how many images ``her2net detect``
without ``--checkpoint`` would send to the replica specialist (dark labels and an index of at
least ``REPLICA_WHITE_INDEX``, 2.0; ``her2net.detect.routing``). The second gives the spread, image to
image, of the network's noise-peak rate on the label-free images ``python -m train calibrate``
measures it on (``train.calibrate.noise_scenes``), next to the mean stored in the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import Condition, format_table, make_set, replica_set  # noqa: E402
from benchmarks.independent_sim import independent_set  # noqa: E402
from her2net.simulate import VISIBLE_GOLD  # noqa: E402

SEED = 404


def _noise_fields(n_images: int, counts: float | None, pixel_size_nm: float):
    rng = np.random.default_rng([SEED, int(pixel_size_nm * 10), int(counts or 0)])
    for _ in range(n_images):
        field = (rng.normal(0.0, 1.0, (512, 512)) if counts is None
                 else rng.poisson(counts, (512, 512)).astype(np.float32))
        yield field, pixel_size_nm, "bright"


def _samples(samples):
    for s in samples:
        yield s.image, s.pixel_size_nm, s.polarity


def kinds(n_images: int):
    """(name, has_labels, iterator of (image, pixel_size_nm, polarity)) per kind of image."""
    for counts in (3.0, 200.0, None):
        for px in (0.5, 1.0, 3.0):
            noise = "Gaussian noise" if counts is None else f"Poisson noise, {counts:g} counts"
            yield f"{noise}, {px:g} nm/px", False, _noise_fields(n_images, counts, px)
    for counts, dose in ((100.0, 1.0), (100.0, 0.12), (40.0, 0.12)):
        yield (f"second simulator, 10 nm, 1.5 nm/px, {counts:g} counts x {dose:g}", True,
               _samples(independent_set(n_images, SEED, dose_scale=dose, pixel_size_nm=1.5,
                                        diameter_nm=10.0, background_counts=counts,
                                        size_px=256)))
    for dose in (1.0, 0.12):
        yield (f"second simulator, dark 12 nm, 0.75 nm/px, 60 counts x {dose:g}", True,
               _samples(independent_set(n_images, SEED, dose_scale=dose, pixel_size_nm=0.75,
                                        diameter_nm=12.0, background_counts=60.0,
                                        polarity="dark", size_px=512)))
    for condition in (Condition("gold", "bright", "standard", "clean", 1.5),
                      Condition("gold", "bright", "0.12x", "clean", 1.5),
                      Condition("gold", "bright", "standard", "randomised", 1.0),
                      Condition("gold", "dark", "standard", "randomised", 0.5)):
        yield (f"her2net sim, {condition.name}", True,
               _samples(make_set(condition, n_images=n_images, seed=SEED)))
    yield "her2net sim, replicas", True, _samples(replica_set(n_images, SEED))
    yield ("her2net sim, replicas, gold visible (weak grain)", True,
           _samples(replica_set(n_images, SEED, overrides=VISIBLE_GOLD)))


def index_table(model, n_images: int) -> pd.DataFrame:
    from her2net.detect.api import detect_image
    from her2net.detect.noise_floor import white_noise_index
    from her2net.detect.routing import REPLICA_WHITE_INDEX

    rows = []
    for name, has_labels, images in kinds(n_images):
        values, lowered, routed = [], 0, 0
        for image, px, polarity in images:
            values.append(white_noise_index(image, px))
            routed += polarity == "dark" and values[-1] >= REPLICA_WHITE_INDEX
            if has_labels:  # label-free fields have nothing to detect
                _, info = detect_image(image, pixel_size_nm=px, model=model, polarity=polarity)
                lowered += info["threshold_rule"] == "noise-limited"
        rows.append({"images": name, "n": len(values), "index_min": np.min(values),
                     "index_median": np.median(values), "index_max": np.max(values),
                     "lowered": f"{lowered}/{len(values)}" if has_labels else "",
                     "to_replica_specialist": f"{routed}/{len(values)}" if has_labels else ""})
    return pd.DataFrame(rows)


def null_table(model, n_images: int) -> pd.DataFrame:
    from her2net.detect import detect
    from train.calibrate import noise_scenes

    null = model.noise_peak_rate or {}
    thresholds = null.get("thresholds") or [0.2, 0.25, 0.3, 0.325]
    per_image = []
    for image, px, polarity in noise_scenes(n_images):
        score = detect(image, pixel_size_nm=px, model=model, polarity=polarity,
                       threshold=float(min(thresholds)), refine=False)["score"].to_numpy()
        area = image.size * px * px / 1e6
        per_image.append([np.count_nonzero(score >= t) / area for t in thresholds])
    per_image = np.array(per_image)
    stored = null.get("rate_per_um2") or [float("nan")] * len(thresholds)
    return pd.DataFrame({"threshold": [f"{t:.3f}" for t in thresholds],
                         "stored_mean_per_um2": stored,
                         "min_per_um2": per_image.min(axis=0),
                         "median_per_um2": np.median(per_image, axis=0),
                         "max_per_um2": per_image.max(axis=0)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=4, help="images per kind")
    parser.add_argument("--null-images", type=int, default=24,
                        help="label-free images for the null's spread (the calibration's 24)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="her2net checkpoint (default: the shipped one)")
    args = parser.parse_args(argv)
    from her2net.model import load_model

    model = load_model(args.checkpoint)
    print("White-noise index (threshold lowered only below 1.6):\n")
    print(format_table(index_table(model, args.n_images), floatfmt=".2f"))
    print("\nNoise peaks per um^2 scoring at least each threshold, image to image:\n")
    print(format_table(null_table(model, args.null_images), floatfmt=".1f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
