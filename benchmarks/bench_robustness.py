"""Detection on images as they arrive from microscopes and image software, against clean ones.

Usage (from the repository root)::

    python -m benchmarks.bench_robustness [--n-images 4] [--size 512]

For three kinds of image from her2net's simulator (a bright-field section and a freeze-fracture
replica with dark 6/12-nm gold; liquid STEM with bright gold; matched SNR 25, 150 labels/um^2,
1 nm/px) ``--n-images`` scenes
are detected by the shipped checkpoint as they are and after one change each:

* a border of zeros over the left 15 % (padding after a rotation or a montage, an area zeroed
  outside the cell), or of the image's own minimum or maximum;
* JPEG compression at quality 75 and 50 (after an 8-bit export at the 0.1/99.9 percentiles);
* the darkest (bright-field) or brightest (STEM) 1 % of pixels saturated at one value;
* 300 hot and dead pixels.

Prints precision, recall and F1 (one-to-one within 4 nm; labels under a border are not counted).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import format_table  # noqa: E402

KINDS = {
    "BF section, dark gold": dict(polarity="dark", specimen="section"),
    "BF replica, dark gold": dict(polarity="dark", specimen="replica"),
    "liquid STEM, bright gold": dict(polarity="bright"),
}
SEED = 33
BORDER = 0.15


def _jpeg(image, quality):
    from PIL import Image

    lo, hi = np.percentile(image, (0.1, 99.9))
    u8 = np.clip((image - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(u8).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer)).astype(np.float32)


def _change(name, image, points, polarity, rng):
    """(image, points still visible) after change ``name``."""
    image = image.copy()
    width = int(image.shape[1] * BORDER)
    if name.startswith("border"):
        image[:, :width] = {"border of zeros": 0.0, "border at the minimum": image.min(),
                            "border at the maximum": image.max()}[name]
        return image, points[points[:, 0] > width + 3]
    if name.startswith("JPEG"):
        return _jpeg(image, int(name.split()[-1])), points
    if name == "1 % saturated":
        if polarity == "dark":
            return np.maximum(image, np.percentile(image, 1.0)), points
        return np.minimum(image, np.percentile(image, 99.0)), points
    if name == "hot and dead pixels":
        rows, cols = rng.integers(0, image.shape[0], 300), rng.integers(0, image.shape[1], 300)
        image[rows[:150], cols[:150]] = image.max() * 3
        image[rows[150:], cols[150:]] = image.min()
        return image, points
    return image, points


CHANGES = ("as simulated", "border of zeros", "border at the minimum", "border at the maximum",
           "JPEG 75", "JPEG 50", "1 % saturated", "hot and dead pixels")


def run(n_images: int, size_px: int) -> pd.DataFrame:
    from her2net.detect import detect
    from her2net.evaluate.matching import match_points
    from her2net.model import load_model
    from her2net.simulate import simulate_tile

    model = load_model(None)
    rows = []
    for kind, options in KINDS.items():
        for change in CHANGES:
            tp = n_truth = n_found = 0
            for i in range(n_images):
                image, points, _ = simulate_tile(np.random.default_rng([i, SEED]), size_px, 1.0,
                                                 label="gold", gold_diameters_nm=(6.0, 12.0),
                                                 matched_snr=25.0, density_per_um2=150.0,
                                                 **options)
                image, points = _change(change, image, points, options["polarity"],
                                        np.random.default_rng(i))
                found = detect(image, pixel_size_nm=1.0, model=model, polarity=options["polarity"])
                pairs, _ = match_points(found[["x_px", "y_px"]].to_numpy(), points, tolerance=4.0)
                tp, n_truth, n_found = tp + len(pairs), n_truth + len(points), n_found + len(found)
            rows.append({"kind": kind, "image": change, "n_truth": n_truth,
                         "precision": tp / max(n_found, 1), "recall": tp / max(n_truth, 1),
                         "f1": 2 * tp / max(n_found + n_truth, 1)})
            print(f"{kind:26s} {change:24s} F1 {rows[-1]['f1']:.3f}", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="image size in px (1 nm/px)")
    args = parser.parse_args(argv)
    print(format_table(run(args.n_images, args.size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
