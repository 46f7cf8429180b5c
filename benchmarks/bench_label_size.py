"""How well ``diameter_nm`` tells 6, 12 and 18 nm gold apart, on simulated scenes with clutter.

Usage (from the repository root)::

    python -m benchmarks.bench_label_size [--n-images 4] [--size 384]

For each kind of image ``--n-images`` scenes of ``--size`` px holding 6-, 12- and 18-nm gold are
simulated with her2net's simulator (randomised clutter, texture, blur and dose: its training
ranges), the shipped checkpoint detects the labels, and the labels matched to the truth within
4 nm are sized twice at the detected centres: by :func:`her2net.detect.measure.measure_labels`
(the half-maximum area, what ``detect`` writes) and by the second moment it wrote before
(:func:`her2net.detect.measure.moment_diameter_nm`). Prints, per kind and true size, the median
and quartiles of measured / true size and the share of labels outside 0.67-1.5x (a missing size
counts as outside).
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

GOLD_NM = (6.0, 12.0, 18.0)
# (name, pixel size nm, simulate_tile options)
KINDS = (
    ("liquid STEM, bright, 1 nm/px", 1.0, dict(polarity="bright", matched_snr=25.0)),
    ("liquid STEM, bright, 1 nm/px, SNR 8", 1.0, dict(polarity="bright", matched_snr=8.0)),
    ("liquid STEM, bright, 0.5 nm/px", 0.5, dict(polarity="bright", matched_snr=25.0)),
    ("liquid STEM, bright, 2 nm/px", 2.0, dict(polarity="bright", matched_snr=25.0)),
    ("liquid STEM, bright, 3 nm/px", 3.0, dict(polarity="bright", matched_snr=25.0)),
    ("BF section, dark, 1.2 nm/px", 1.2, dict(polarity="dark", specimen="section", matched_snr=25.0)),
    ("BF replica, dark, 1.2 nm/px", 1.2, dict(polarity="dark", specimen="replica", matched_snr=30.0)),
)
SEED = 9


def _summary(ratio: np.ndarray) -> dict:
    finite = ratio[np.isfinite(ratio)]
    if not len(finite):
        return {"median": np.nan, "q25": np.nan, "q75": np.nan, "outside_0.67_1.5": 1.0}
    outside = (np.sum((finite < 0.67) | (finite > 1.5)) + (len(ratio) - len(finite))) / len(ratio)
    return {"median": float(np.median(finite)), "q25": float(np.percentile(finite, 25)),
            "q75": float(np.percentile(finite, 75)), "outside_0.67_1.5": float(outside)}


def run(n_images: int, size_px: int) -> pd.DataFrame:
    from her2net.detect import detect
    from her2net.detect.measure import measure_labels, moment_diameter_nm
    from her2net.evaluate.matching import match_points
    from her2net.model import load_model
    from her2net.simulate import simulate_tile

    model = load_model(None)
    rows = []
    for kind, pixel_size_nm, options in KINDS:
        true, half_max, moment = [], [], []
        for i in range(n_images):
            image, points, meta = simulate_tile(np.random.default_rng([i, SEED]), size_px,
                                                pixel_size_nm, label="gold",
                                                gold_diameters_nm=GOLD_NM, **options)
            table = detect(image, pixel_size_nm=pixel_size_nm, model=model,
                           polarity=options["polarity"])
            found = table[["x_px", "y_px"]].to_numpy()
            pairs, _ = match_points(found, points, tolerance=4.0 / pixel_size_nm)
            if not len(pairs):
                continue
            at = found[[p[0] for p in pairs]]
            true.append(np.asarray(meta["diameter_nm"])[[p[1] for p in pairs]])
            half_max.append(measure_labels(image, at, pixel_size_nm=pixel_size_nm,
                                           polarity=options["polarity"])[0])
            moment.append(moment_diameter_nm(image, at, pixel_size_nm=pixel_size_nm,
                                             polarity=options["polarity"]))
        true = np.concatenate(true)
        for gold in GOLD_NM:
            pick = np.abs(true - gold) < 3.0
            for name, measured in (("half-maximum area", half_max), ("second moment", moment)):
                ratio = np.concatenate(measured)[pick] / true[pick]
                rows.append({"kind": kind, "gold_nm": gold, "measure": name,
                             "n": int(pick.sum()), **_summary(ratio)})
        print(f"{kind}: {len(true)} labels", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--size", type=int, default=384, help="image size in px")
    args = parser.parse_args(argv)
    print(format_table(run(args.n_images, args.size), floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
