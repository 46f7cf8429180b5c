"""How often ``polarity='auto'`` calls the labels' contrast right, per kind of image.

Usage (from the repository root)::

    python -m benchmarks.bench_polarity [CHECKPOINT ...] [--n-images 6] [--size 512]

For each kind of image (liquid STEM gold and quantum dots, bright-field sections and replicas; a
good and a faint dose; dense and sparse gold) ``--n-images`` scenes of ``--size`` px at 1 nm/px are
simulated with her2net's simulator, and :func:`her2net.detect.detect` decides the polarity on its
own. Prints, per checkpoint (default: the shipped one) and kind, how many were called right and
by which method (the network's crops or the skewness fallback), each image alone and the images
of a kind as one run (:func:`her2net.detect.batch.detect_batch`, as ``her2net detect`` on their
folder: images whose own evidence is not clear take the run's polarity).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import format_table  # noqa: E402

KINDS = {
    "liquid gold, SNR 12": dict(polarity="bright", label="gold", matched_snr=12.0),
    "liquid gold, SNR 4.2": dict(polarity="bright", label="gold", matched_snr=4.2),
    "liquid QDs, SNR 12": dict(polarity="bright", label="qd", matched_snr=12.0),
    "BF section gold, SNR 12": dict(polarity="dark", specimen="section", label="gold",
                                    matched_snr=12.0),
    "BF section gold, SNR 4.2": dict(polarity="dark", specimen="section", label="gold",
                                     matched_snr=4.2),
    "BF replica 6+12 nm, 100/um2": dict(polarity="dark", specimen="replica", label="gold",
                                        gold_diameters_nm=(6.0, 12.0), matched_snr=30.0,
                                        density_per_um2=100.0),
    "BF replica 6+12 nm, 20/um2": dict(polarity="dark", specimen="replica", label="gold",
                                       gold_diameters_nm=(6.0, 12.0), matched_snr=30.0,
                                       density_per_um2=20.0),
}
SEED = 77


def run(checkpoints, n_images: int, size_px: int) -> pd.DataFrame:
    import tempfile

    from her2net.detect import detect
    from her2net.detect.batch import BatchItem, detect_batch
    from her2net.io import write_tiff
    from her2net.model import load_model
    from her2net.simulate import simulate_tile

    rows = []
    for checkpoint in checkpoints:
        model = load_model(checkpoint)
        name = Path(checkpoint).name if checkpoint else "shipped"
        for kind, options in KINDS.items():
            right = by_network = n_labels = 0
            with tempfile.TemporaryDirectory() as folder:
                items = []
                for i in range(n_images):
                    image, points, meta = simulate_tile(np.random.default_rng([i, SEED]), size_px,
                                                        1.0, **options)
                    info = detect(image, pixel_size_nm=1.0, model=model,
                                  polarity="auto").attrs["her2net"]
                    right += info["polarity"] == meta["polarity"]
                    by_network += info["polarity_method"] == "network"
                    n_labels += len(points)
                    path = Path(folder) / f"{i}.tif"
                    write_tiff(path, image, pixel_size_nm=1.0)
                    items.append(BatchItem(name=path.name, path=path))
                batch = detect_batch(items, model=model, polarity="auto", progress=False)
            as_run = sum(info["polarity"] == meta["polarity"] for info in batch.images)
            rows.append({"checkpoint": name, "kind": kind, "images": n_images,
                         "labels_per_image": n_labels / n_images, "called_right": right,
                         "decided_by_network": by_network, "called_right_as_a_run": as_run})
            print(f"{name:16s} {kind:30s} {right}/{n_images} right alone, {as_run}/{n_images} "
                  "as a run", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", default=[None],
                        help="inference checkpoints (.pt); default: the shipped one")
    parser.add_argument("--n-images", type=int, default=6)
    parser.add_argument("--size", type=int, default=512, help="image size in px (1 nm/px)")
    args = parser.parse_args(argv)
    table = run(args.checkpoints or [None], args.n_images, args.size)
    print(format_table(table, floatfmt=".1f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
