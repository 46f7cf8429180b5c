"""Speed of the simulator on one CPU core.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_simulate.py [--repeats 5]

Prints a Markdown table: a 1024x1024 liquid-STEM image with ~500 labels (target < 0.5 s), the same
for bright-field TEM of a replica (thousands of membrane particles), a batch of 64 randomised
256x256 training tiles (target < 2 s), truth-only cells (`simulate_cell_points`) and a small
data set written to disk (`simulate_dataset`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _median_time(fn, repeats):
    """Median wall-clock and CPU seconds of ``repeats`` calls (CPU time is what one dedicated core
    would take: on a shared, loaded machine the wall-clock time is longer)."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (statistics.median(wall), statistics.median(cpu)), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    from her2net.simulate import simulate_tile
    from her2net.simulate.cell import simulate_cell_points
    from her2net.simulate.dataset import simulate_dataset

    rng = np.random.default_rng(0)
    simulate_tile(rng, 256)  # warm-up (imports, FFT plans)
    rows = []
    quiet = dict(pixel_size_nm=1.0, density_per_um2=480, ruffle_fraction=0.0, cell_edge=False)

    t, (_, pts, _) = _median_time(lambda: simulate_tile(rng, 1024, polarity="bright", **quiet), args.repeats)
    rows.append(("1024x1024 liquid STEM (bright), %d labels" % len(pts), t, "< 0.5 s"))
    t, (_, pts, meta) = _median_time(
        lambda: simulate_tile(rng, 1024, polarity="dark", specimen="replica", particles_per_um2=3000, **quiet),
        args.repeats)
    rows.append(("1024x1024 BF-TEM replica (dark), %d labels + ~3000 particles" % len(pts), t, ""))
    t, _ = _median_time(lambda: [simulate_tile(rng, 256) for _ in range(64)], args.repeats)
    rows.append(("64 randomised tiles 256x256 (training batch)", t, "< 2 s"))
    t, cp = _median_time(lambda: simulate_cell_points(rng, size_px=1024, dimer_fraction=0.3), args.repeats)
    rows.append(("simulate_cell_points, 1024x1024 truth only, %d labels" % len(cp.points), t, ""))
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_dataset(os.path.join(tmp, "ds"), cells=4, images_per_cell=2, size_px=1024, seed=0)
        rows.append(("simulate_dataset: 4 cells x 2 images 1024x1024, written",
                     (time.perf_counter() - t0, time.process_time() - c0), ""))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores visible, load average {load:.1f}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; median of {args.repeats} runs\n")
    print("| case | CPU time (s) | wall time (s) | target |")
    print("|---|---|---|---|")
    for name, (wall, cpu), target in rows:
        print(f"| {name} | {cpu:.3f} | {wall:.3f} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
