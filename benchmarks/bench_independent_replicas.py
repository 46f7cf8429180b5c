"""Replicas from a second, independently modelled renderer: her2net, trackpy and blob_log.

Usage (from the repository root)::

    python -m benchmarks.bench_independent_replicas [--n-calibration 3] [--n-test 12]
        [--checkpoint auto|default|replicas|X.pt] [--conditions NAME ...]

``benchmarks/bench_replicas.py`` scores her2net on replicas of its own simulator, on whose
kind of particles both shipped checkpoints were trained. This benchmark scores it on replicas
rendered from their physics by :mod:`benchmarks.independent_replica` (a surface with
intramembrane particles, platinum evaporated at an angle with geometric shadows, carbon backing,
unshadowed 6- and 12-nm gold, bright-field transmission, counts; no code of
:mod:`her2net.simulate`), the nearest stand-in here for issue 5's real bright-field TEM replicas.
her2net runs as ``her2net detect`` does without ``--checkpoint`` (``auto``: each image routed to
the default or the replica checkpoint) at its calibrated threshold, polarity given ('dark');
trackpy and blob_log are tuned per condition on calibration images of that condition
(``benchmarks.peers.calibrate``). Figures as in ``bench_replicas``: precision, recall and F1 at
each method's operating point, ``precision_at_recall_0.95`` (the best precision at any score
threshold whose recall is still 0.95, read off the test images: the target's form, recall >=
0.95 at precision >= 0.8), false detections per um^2, on all the gold and on each size alone
(column ``gold``). One-to-one matching within 4 nm. Rows go to
``benchmarks/results/independent_replicas.csv``.

Conditions (``--conditions``): ``drawn`` (every parameter drawn: 500-4000 particles and 50-600
gold per um^2, Pt from 30-60 degrees, half the images 8-bit), ``dense-particles`` (4000 per
um^2), ``8-bit`` (every image an 8-bit export), ``0.6nm-px`` and ``2.0nm-px`` (the same field at
0.6 and 2 nm/px), ``sparse-gold`` (30 gold per um^2 in 960-px images, 4 per set).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.bench_replicas import score_methods, spread_over_seeds  # noqa: E402
from benchmarks.common import (Timer, add_peer_arguments, format_table,  # noqa: E402
                               setup_logging)
from benchmarks.independent_replica import replica_set  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "independent_replicas.csv"
CAL_SEED, TEST_SEED = 303, 404
#: Seed of the images ``--export-annotated`` writes (neither calibration nor test images).
EXPORT_SEED = 505
FIELD_NM = 384.0
#: name -> (options of independent_replica.replica_image, test images or None for --n-test)
CONDITIONS = {
    "drawn": ({}, None),
    "dense-particles": ({"particles_per_um2": 4000.0}, None),
    "8-bit": ({"bit_depth": 8}, None),
    "0.6nm-px": ({"pixel_size_nm": 0.6}, None),
    "2.0nm-px": ({"pixel_size_nm": 2.0}, None),
    "sparse-gold": ({"gold_per_um2": 30.0, "size_px": 960}, 4),
}


def condition_options(name: str) -> dict:
    """The renderer's options of condition ``name``, pixel size and image size filled in.

    1.2 nm/px and the 384-nm field unless the condition says otherwise.
    """
    options = dict(CONDITIONS[name][0])
    px = options.setdefault("pixel_size_nm", 1.2)
    options.setdefault("size_px", int(round(FIELD_NM / px)))
    return options


def run(n_calibration: int, n_test: int, methods, checkpoint="auto", conditions=tuple(CONDITIONS),
        test_seeds=(TEST_SEED,)) -> pd.DataFrame:
    from benchmarks.peers import PEERS, Her2net, calibrate

    detectors = [Her2net(checkpoint=checkpoint) if m == "her2net" else PEERS[m]() for m in methods]
    rows = []
    for name in conditions:
        options = condition_options(name)
        n_images = CONDITIONS[name][1] or n_test
        with Timer() as t_cal:
            cal = replica_set(min(n_calibration, n_images), CAL_SEED, name=name, **options)
            tuned = {m.name: ({"threshold": "auto"} if m.name == "her2net"
                              else calibrate(m, cal)[0]) for m in detectors}
        logging.info("%-16s calibration: %d images, peers tuned [%.0f s]", name, len(cal),
                     t_cal.seconds)
        for seed in test_seeds:
            test = replica_set(n_images, seed, name=name, **options)
            rows += score_methods(detectors, tuned, test, ("condition", name), seed)
    return pd.DataFrame(rows)


def write_preview(path: Path, conditions, checkpoint="auto", crop_px: int = 200) -> None:
    """A PNG: the first test image of each condition (a corner of it), truth and her2net's finds.

    Red circles: the gold (small: 6 nm, large: 12 nm); yellow crosses: her2net's detections at
    its operating point. For looking at what the renderer makes and what the detector misses.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.peers import Her2net

    method = Her2net(checkpoint=checkpoint)
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.2 * len(conditions), 4.6),
                             squeeze=False)
    for ax, name in zip(axes[0], conditions):
        options = condition_options(name)
        px = options["pixel_size_nm"]
        sample = replica_set(1, TEST_SEED, name=name, **options)[0]
        xy, _ = method.detect(sample, {"threshold": "auto"})
        crop = min(crop_px, sample.image.shape[0])
        ax.imshow(sample.image[:crop, :crop], cmap="gray", interpolation="nearest")
        inside = lambda p: (p[:, 0] < crop - 0.5) & (p[:, 1] < crop - 0.5)  # noqa: E731
        truth = sample.points_px[inside(sample.points_px)]
        small = sample.metadata["diameter_nm"][inside(sample.points_px)] < 9.0
        for keep, size in ((small, 7), (~small, 11)):
            ax.plot(truth[keep, 0], truth[keep, 1], "o", mfc="none", mec="red", ms=size, mew=1)
        found = xy[inside(xy)]
        ax.plot(found[:, 0], found[:, 1], "+", color="yellow", ms=6, mew=1)
        ax.set_title(f"{name}: {crop * px:.0f} nm, {len(truth)} gold, {len(found)} found",
                     fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def export_annotated(folder: Path, conditions, n_images: int, seed: int = EXPORT_SEED) -> int:
    """Write replicas as a lab's annotated micrographs: TIFFs and a points CSV (image, x_px, y_px).

    ``n_images`` of each condition at ``seed`` (not a test or calibration seed), 8- or 16-bit as
    drawn, the pixel size in the ImageJ metadata; ``folder/points.csv`` is the format
    ``her2net detect`` writes and ``python -m train calibrate --annotated`` and
    ``configs/finetune.yaml`` read. Returns the number of labels written.
    """
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in conditions:
        options = condition_options(name)
        px = options["pixel_size_nm"]
        for sample in replica_set(n_images, seed, name=name, **options):
            file = sample.name.replace("/", "_") + ".tif"
            dtype = np.uint8 if sample.metadata["bit_depth"] == 8 else np.uint16
            tifffile.imwrite(folder / file, sample.image.astype(dtype), imagej=True,
                             resolution=(1 / px, 1 / px), metadata={"unit": "nm"})
            rows += [{"image": file, "x_px": x, "y_px": y} for x, y in sample.points_px]
    pd.DataFrame(rows, columns=["image", "x_px", "y_px"]).to_csv(folder / "points.csv",
                                                                 index=False)
    return len(rows)


def print_tables(table: pd.DataFrame) -> None:
    table = table.drop(columns="params", errors="ignore")
    print("\nIndependent replicas: 6- and 12-nm gold among Pt-shadowed particles "
          "(matching within 4 nm)\n")
    print(format_table(table.round({"precision_at_recall_0.95": 3, "false_per_um2": 1}),
                       floatfmt=".3f"))
    if table["test_seed"].nunique() > 1:
        spread = spread_over_seeds(table.rename(columns={"condition": "particle_contrast"}))
        print("\nOver the test seeds: precision at recall 0.95 and F1, mean (lowest, highest)\n")
        print(format_table(spread.rename(columns={"particle_contrast": "condition"}),
                           floatfmt=".3f"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_peer_arguments(parser, results=RESULTS, n_test=12, routed=True)
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS),
                        default=list(CONDITIONS), metavar="NAME",
                        help=f"which conditions (default all: {', '.join(CONDITIONS)})")
    parser.add_argument("--test-seeds", nargs="+", type=int, default=[TEST_SEED], metavar="S",
                        help=f"seeds of the test sets (default {TEST_SEED})")
    parser.add_argument("--preview", type=Path, default=None, metavar="PNG",
                        help="also write a picture: a corner of the first test image of each "
                             "condition with the gold and her2net's detections")
    parser.add_argument("--export-annotated", type=Path, default=None, metavar="DIR",
                        help="instead of scoring, write --n-test images of each condition at a "
                             "seed of their own as TIFFs with a points CSV (DIR/points.csv), "
                             "for `train calibrate --annotated` or fine-tuning")
    args = parser.parse_args(argv)
    setup_logging()
    if args.export_annotated is not None:
        n = export_annotated(args.export_annotated, args.conditions, args.n_test)
        logging.info("wrote %d labels to %s", n, args.export_annotated / "points.csv")
        return 0
    if args.preview is not None:
        write_preview(args.preview, args.conditions, args.checkpoint)
        logging.info("wrote %s", args.preview)
    if not args.print_only:
        with Timer() as total:
            table = run(args.n_calibration, args.n_test, args.methods, args.checkpoint,
                        args.conditions, args.test_seeds)
        logging.info("total %.0f s", total.seconds)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.results, index=False)
    print_tables(pd.read_csv(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
