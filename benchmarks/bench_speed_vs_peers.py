"""Detection speed side by side: her2net (CPU, and GPU when there is one), trackpy, blob_log.

Usage (from the repository root)::

    python -m benchmarks.bench_speed_vs_peers [--size 2048] [--repeats 3] [--threads 2]

One simulated liquid-STEM micrograph (10-nm gold, standard dose, 1 nm/px: her2net's native pixel
size, so no rescaling) of ``--size`` squared pixels; every method runs on the same in-memory image,
in turns, ``--repeats`` times after one warm-up, and the median wall time is reported with
megapixels per second and the time ratio to trackpy (below 1: faster than trackpy). Peers run
with the parameters that the detection-accuracy benchmark froze for this kind of image (sizes in
nm); their time includes the noise normalisation they need. her2net's time is ``her2net.detect``
end to end (normalise, tile, network, peaks, size and intensity) with ``--threads`` torch threads;
trackpy and blob_log are single-threaded.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from benchmarks.common import Condition, Sample, format_table

# Frozen for gold-bright at the standard dose by bench_detection_accuracy (randomised scenes).
TRACKPY_PARAMS = {"diameter_nm": 11.0, "separation": "default", "threshold": 28.9}
BLOB_LOG_PARAMS = {"min_sigma_nm": 2.5, "max_sigma_nm": 7.0, "threshold": 1.02}


def _image(size: int) -> Sample:
    from her2net.simulate import simulate_tile

    cond = Condition("gold", "bright", "standard")
    image, points, meta = simulate_tile(np.random.default_rng(7), size, pixel_size_nm=1.0,
                                        polarity="bright", label="gold",
                                        gold_diameters_nm=(10.0,), matched_snr=cond.matched_snr,
                                        density_per_um2=500.0)
    return Sample("speed", image, points, 1.0, "bright", meta)


def _methods(devices):
    from benchmarks.peers import BlobLog, Her2net, Trackpy

    methods = [("trackpy", Trackpy(), TRACKPY_PARAMS), ("blob_log", BlobLog(), BLOB_LOG_PARAMS)]
    for device in devices:
        try:
            methods.append((f"her2net ({device})", Her2net(device=device), {"threshold": "auto"}))
        except (OSError, ValueError, RuntimeError) as exc:
            print(f"her2net on {device}: not run ({str(exc).splitlines()[0]})", file=sys.stderr)
    return methods


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for her2net CPU")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="No maxima survived")
    import torch

    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sample = _image(args.size)
    small = _image(256)
    methods = _methods(devices)
    times = {name: [] for name, _, _ in methods}
    found = {}
    for name, method, params in methods:  # warm-up (model load, numba/JIT, caches)
        method.detect(small, params)
    for _ in range(args.repeats):
        for name, method, params in methods:
            if "cuda" in name:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            xy, _ = method.detect(sample, params)
            if "cuda" in name:
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
            found[name] = len(xy)
    megapixels = sample.image.size / 1e6
    t_trackpy = statistics.median(times["trackpy"])
    rows = []
    for name, _, _ in methods:
        t = statistics.median(times[name])
        rows.append({"method": name, "seconds": t, "megapixels_per_s": megapixels / t,
                     "time_ratio_to_trackpy": t / t_trackpy, "labels_found": found[name]})
    print(f"\n{args.size}x{args.size} px ({megapixels:.1f} Mpx, {len(sample.points_px)} labels), "
          f"median of {args.repeats}; {platform.processor() or platform.machine()}, "
          f"torch threads {args.threads}"
          + (f", GPU {torch.cuda.get_device_name(0)}" if "cuda" in devices else "") + "\n")
    print(format_table(pd.DataFrame(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
