"""How often ``polarity='auto'`` calls the labels' contrast right, per kind of image.

Usage (from the repository root)::

    python -m benchmarks.bench_polarity [CHECKPOINT ...] [--n-images 6] [--size 512]

For each kind of image (liquid STEM gold and quantum dots, bright-field sections and replicas; a
good and a faint dose; dense and sparse gold) ``--n-images`` scenes of ``--size`` px at 1 nm/px are
simulated with her2net's simulator, and :func:`her2net.detect.detect` decides the polarity on its
own. Replicas from the second renderer (``benchmarks/independent_replica.py``: Pt evaporated onto
a surface of particles, strong geometric shadows; 1.2 nm/px, as drawn and with 30 gold per um^2,
as recorded and as a reversed print) are kinds too. Prints, per checkpoint and kind, how many
were called right and by which method (the network's crops or the skewness fallback), each image
alone and the images of a kind as one run (:func:`her2net.detect.batch.detect_batch`, as
``her2net detect`` on their folder: images whose own evidence is not clear take the run's
polarity), and the median shadowing index (:func:`her2net.detect.shadowing.shadowing_index`).
Checkpoints: ``auto`` (the default: both shipped ones, routed, the shadowed images' polarity
asked of the replica specialist, as ``her2net detect`` without ``--checkpoint``), ``default``,
``replicas`` or a path.
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
#: Second-renderer replicas: name -> (options of independent_replica.replica_image, reversed).
SECOND_RENDERER_KINDS = {
    "2nd renderer replica, drawn": ({}, False),
    "2nd renderer replica, 30/um2": ({"gold_per_um2": 30.0}, False),
    "2nd renderer reversed print, 30/um2": ({"gold_per_um2": 30.0}, True),
}
SECOND_RENDERER_PX_NM = 1.2
SEED = 77


def _images(kind: str, n_images: int, size_px: int):
    """(image, pixel size, true polarity) of the ``n_images`` scenes of ``kind``."""
    if kind in SECOND_RENDERER_KINDS:
        from benchmarks.independent_replica import replica_image

        options, reversed_print = SECOND_RENDERER_KINDS[kind]
        size = int(round(size_px / SECOND_RENDERER_PX_NM))
        for i in range(n_images):
            image, _, _ = replica_image([SEED, i], size_px=size,
                                        pixel_size_nm=SECOND_RENDERER_PX_NM, **options)
            yield ((image.max() - image if reversed_print else image), SECOND_RENDERER_PX_NM,
                   "bright" if reversed_print else "dark")
        return
    from her2net.simulate import simulate_tile

    for i in range(n_images):
        image, _, meta = simulate_tile(np.random.default_rng([i, SEED]), size_px, 1.0,
                                       **KINDS[kind])
        yield image, 1.0, meta["polarity"]


def run(checkpoints, n_images: int, size_px: int) -> pd.DataFrame:
    import tempfile

    from her2net.detect import detect
    from her2net.detect.batch import BatchItem, detect_batch
    from her2net.detect.shadowing import shadowing_index
    from her2net.io import write_tiff
    from her2net.model import load_model

    rows = []
    for checkpoint in checkpoints:
        routed = checkpoint in (None, "auto")
        model = None if routed else load_model(checkpoint)
        name = "auto (routed)" if routed else Path(checkpoint).name
        for kind in list(KINDS) + list(SECOND_RENDERER_KINDS):
            right = by_network = 0
            indices = []
            with tempfile.TemporaryDirectory() as folder:
                items, truths = [], []
                for i, (image, px, truth) in enumerate(_images(kind, n_images, size_px)):
                    info = detect(image, pixel_size_nm=px, model=model,
                                  polarity="auto").attrs["her2net"]
                    right += info["polarity"] == truth
                    by_network += info["polarity_method"] == "network"
                    indices.append(shadowing_index(image, px))
                    path = Path(folder) / f"{i}.tif"
                    write_tiff(path, image, pixel_size_nm=px)
                    items.append(BatchItem(name=path.name, path=path))
                    truths.append(truth)
                batch = detect_batch(items, model=model, polarity="auto", progress=False)
            as_run = sum(info["polarity"] == truth for info, truth in zip(batch.images, truths))
            rows.append({"checkpoint": name, "kind": kind, "images": n_images,
                         "shadowing_index": float(np.median(indices)), "called_right": right,
                         "decided_by_network": by_network, "called_right_as_a_run": as_run})
            print(f"{name:16s} {kind:36s} {right}/{n_images} right alone, {as_run}/{n_images} "
                  "as a run", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", default=["auto"],
                        help="'auto' (both shipped checkpoints, routed; the default), 'default', "
                             "'replicas' or an inference checkpoint (.pt)")
    parser.add_argument("--n-images", type=int, default=6)
    parser.add_argument("--size", type=int, default=512, help="image size in px (1 nm/px)")
    args = parser.parse_args(argv)
    table = run(args.checkpoints or ["auto"], args.n_images, args.size)
    print(format_table(table, floatfmt=".1f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
