"""Localisation with and without the Gaussian-fit refinement of ``her2net detect``.

Usage (from the repository root)::

    python -m benchmarks.bench_refine [--n-images 8]

Runs the shipped checkpoint on each kind of image twice, ``refine=False`` (the network's
centres) and ``refine=True`` (the default: averaged with a local Gaussian fit, weighted by
``her2net.detect.refine.background_fit_weight`` from the image's white-noise index; the table's
``fit_weight`` is its median over the set), and prints the RMSE of the labels matched within
4 nm. Images: the second simulator (:mod:`benchmarks.independent_sim`, Gaussian spots, Poisson
counts) and her2net's own simulator (``benchmarks.common.make_set``) with clean and cluttered
scenes, and freeze-fracture replicas. Last, the time the refinement takes on one 2048 x 2048
liquid-STEM image at 1 nm/px (median of 3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import benchmarks.common as common  # noqa: E402
from benchmarks.common import Condition, format_table, make_set, replica_set  # noqa: E402
from benchmarks.independent_sim import independent_set  # noqa: E402

# (name, matched SNR, Condition) of her2net-simulator sets.
OWN = (
    ("her2net sim, clean gold, SNR 28, 1 nm/px", 28.0, Condition("gold", "bright", "standard", "clean", 1.0)),
    ("her2net sim, clean gold, SNR 28, 2 nm/px", 28.0, Condition("gold", "bright", "standard", "clean", 2.0)),
    ("her2net sim, clean gold, SNR 14, 1.5 nm/px", 14.0, Condition("gold", "bright", "standard", "clean", 1.5)),
    ("her2net sim, clutter, gold, SNR 28, 1 nm/px", 28.0, Condition("gold", "bright", "standard", "randomised", 1.0)),
    ("her2net sim, clutter, dark gold, SNR 20, 0.5 nm/px", 20.0, Condition("gold", "dark", "standard", "randomised", 0.5)),
)


def _sets(n_images: int):
    for counts in (200.0, 100.0):
        yield (f"second simulator, 1.5 nm/px, {counts:g} counts",
               independent_set(n_images, 303, background_counts=counts, pixel_size_nm=1.5,
                               size_px=256))
    standard_snr = common.STANDARD_MATCHED_SNR
    try:
        for name, snr, condition in OWN:
            common.STANDARD_MATCHED_SNR = snr
            yield name, make_set(condition, n_images=n_images, seed=303)
    finally:
        common.STANDARD_MATCHED_SNR = standard_snr
    yield ("her2net sim, replicas, particles 0.3, 1.2 nm/px",
           replica_set(n_images, 303, particle_contrast=0.3))


def _rmse(samples, model, refine: bool) -> tuple[float, int, float]:
    """RMSE (nm) of the matched labels, their number, and the median fit weight applied."""
    from her2net.detect import detect
    from her2net.evaluate import match_points

    errors, weights = [], []
    for s in samples:
        found = detect(s.image, pixel_size_nm=s.pixel_size_nm, model=model, polarity=s.polarity,
                       device="cpu", refine=refine)
        _, dist = match_points(found[["x_nm", "y_nm"]].to_numpy(), s.points_px * s.pixel_size_nm,
                               tolerance=4.0)
        errors.append(dist)
        weights.append(found.attrs["her2net"]["refine_fit_weight"])
    errors = np.concatenate(errors)
    return float(np.sqrt(np.mean(errors**2))), len(errors), float(np.median(weights))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=8)
    args = parser.parse_args(argv)
    from her2net.model import load_model

    model = load_model(device="cpu")
    rows = []
    for name, samples in _sets(args.n_images):
        plain, _, _ = _rmse(samples, model, refine=False)
        refined, n_refined, weight = _rmse(samples, model, refine=True)
        rows.append({"images": name, "matched": n_refined, "fit_weight": weight,
                     "rmse_network_nm": plain, "rmse_refined_nm": refined,
                     "change": refined / plain - 1})
    print(format_table(pd.DataFrame(rows)))
    seconds, n_labels = _refine_time(model)
    print(f"\nrefinement of {n_labels} labels on a 2048 x 2048 image: {seconds:.3f} s (median of 3)")
    return 0


def _refine_time(model) -> tuple[float, int]:
    import time

    from her2net.detect import detect
    from her2net.detect.refine import refine_centres
    from her2net.simulate import simulate_tile

    image, _, _ = simulate_tile(np.random.default_rng(0), 2048, 1.0, polarity="bright",
                                label="gold", matched_snr=12.0, gold_diameters_nm=(10.0,))
    found = detect(image, pixel_size_nm=1.0, model=model, polarity="bright", refine=False)
    points, diameters = found[["x_px", "y_px"]].to_numpy(), found["diameter_nm"].to_numpy()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        refine_centres(image, points, pixel_size_nm=1.0, diameter_nm=diameters)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), len(points)


if __name__ == "__main__":
    sys.exit(main())
