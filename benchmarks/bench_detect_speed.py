"""Detection speed: her2net.detect against trackpy.locate on the same micrograph, side by side.

Usage::

    python benchmarks/bench_detect_speed.py [--size 2048] [--repeats 3] [--memory-size 8192]
                                           [--checkpoint PATH] [--device cpu] [--json OUT]

What it measures, on one simulated liquid-STEM micrograph (gold labels, standard dose) at the
model's native pixel size:

* ``her2net.detect`` end to end on the in-memory image (rescale, normalise, polarity given,
  tiled network, peaks, size/intensity measurement), after one warm-up call on a small image;
* ``trackpy.locate`` on the same image with ``diameter`` = the odd integer just above the label
  diameter in pixels plus 2 (trackpy's advice: a little larger than the feature), ``minmass`` from
  the labels' expected mass; alternating with her2net, median of ``--repeats`` runs each;
* peak resident memory of a fresh process running ``her2net detect`` on a ``--memory-size``
  square TIFF (read from disk, as users run it).

The model is the shipped checkpoint when it exists, otherwise a randomly initialised U-Net of the
shipped architecture (same cost per pixel; its threshold is then set to find about as many peaks
as there are labels, so that the post-processing cost is realistic).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _model(checkpoint, device):
    from her2net.model import (DEFAULT_MODEL_CONFIG, UNet, load_model, save_checkpoint,
                               shipped_checkpoint_path)

    if checkpoint is None and shipped_checkpoint_path().is_file():
        checkpoint = shipped_checkpoint_path()
    if checkpoint is not None:
        return load_model(checkpoint, device=device), str(checkpoint), False
    import torch

    torch.manual_seed(0)
    path = Path(tempfile.mkdtemp()) / "random-unet.pt"
    save_checkpoint(path, UNet(**DEFAULT_MODEL_CONFIG).eval(),
                    {"model_config": dict(DEFAULT_MODEL_CONFIG), "pixel_size_nm": 1.0,
                     "threshold": 0.5})
    return load_model(path, device=device), "random-init UNet " + json.dumps(DEFAULT_MODEL_CONFIG), True


def _micrograph(size, pixel_size_nm, seed=0):
    from her2net.simulate import simulate_tile

    image, points, meta = simulate_tile(
        np.random.default_rng(seed), size, pixel_size_nm=pixel_size_nm, polarity="bright",
        label="gold", gold_diameters_nm=(10.0,), specimen="liquid", matched_snr=20.0,
        density_per_um2=500.0)
    return image, points, meta


def _timed(fn, repeats):
    """Wall seconds and CPU seconds (all threads of this process) per run, and the last result."""
    times, cpu = [], []
    result = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu, result


def _peak_rss_run(size, checkpoint_path, pixel_size_nm, threshold, device):
    """Peak RSS (MB) and wall time of `her2net detect` on a size x size TIFF in a fresh process."""
    from her2net.io import write_tiff

    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(1)
    # A large field: tile a simulated 1024 image (cheap to make, realistic content).
    base, _, _ = _micrograph(1024, pixel_size_nm, seed=1)
    reps = -(-size // 1024)
    big = np.tile(base, (reps, reps))[:size, :size]
    big = np.clip(big / np.percentile(big, 99.9) * 30000 + rng.normal(0, 50, big.shape), 0, 65535)
    write_tiff(tmp / "big.tif", big.astype(np.uint16), pixel_size_nm=pixel_size_nm)
    del big
    code = (
        "import resource, sys, time\n"
        "from her2net.cli.main import main\n"
        "t = time.perf_counter()\n"
        f"rc = main(['-q', 'detect', {str(tmp / 'big.tif')!r}, '--out', {str(tmp / 'big.csv')!r},"
        f" '--checkpoint', {checkpoint_path!r}, '--polarity', 'bright', '--threshold', "
        f"{str(threshold)!r}, '--device', {device!r}])\n"
        "print('RESULT', rc, time.perf_counter() - t,"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
    if not line:
        raise RuntimeError(out.stderr[-2000:])
    _, rc, seconds, rss_mb = line[0].split()
    import pandas as pd

    n = len(pd.read_csv(tmp / "big.csv"))
    return {"size": size, "exit_status": int(rc), "seconds": float(seconds),
            "peak_rss_MB": float(rss_mb), "detections": n}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-size", type=int, default=8192,
                        help="side of the image for the peak-memory run (0: skip)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import torch
    import trackpy

    import her2net
    from her2net.detect.inference import _set_cpu_threads

    trackpy.quiet()
    _set_cpu_threads()
    model, model_name, random_init = _model(args.checkpoint, args.device)
    pixel_size_nm = model.pixel_size_nm
    image, truth, meta = _micrograph(args.size, pixel_size_nm)
    label_px = 10.0 / pixel_size_nm
    diameter = int(np.ceil(label_px + 2)) | 1
    threshold = "auto"
    if random_init:
        # Random weights: pick the threshold that gives about as many peaks as labels.
        from her2net.detect.inference import get_runner, predict_maps
        from her2net.model import normalize_image

        crop = normalize_image(image[:512, :512])
        prob, _ = predict_maps(crop, get_runner(model.net, device=args.device))
        expected = len(truth) * crop.size / image.size
        threshold = float(np.quantile(prob, 1 - 3 * expected / crop.size))

    def run_her2net():
        return her2net.detect(image, pixel_size_nm=pixel_size_nm, model=model, polarity="bright",
                              threshold=threshold, device=args.device, precision=args.precision)

    # trackpy minmass: a fraction of a label's integrated signal, as a tuned user would set it.
    probe = trackpy.locate(image[:512, :512], diameter)
    minmass = float(np.percentile(probe["mass"], 80)) * 0.3 if len(probe) else 0.0

    def run_trackpy():
        return trackpy.locate(image, diameter, minmass=minmass)

    her2net.detect(image[:256, :256], pixel_size_nm=pixel_size_nm, model=model,
                   polarity="bright", threshold=threshold, device=args.device,
                   precision=args.precision)  # warm-up: prepare the network, oneDNN kernels
    h_times, t_times, h_cpu, t_cpu = [], [], [], []
    for _ in range(args.repeats):
        t, c, table = _timed(run_her2net, 1)
        h_times += t
        h_cpu += c
        t, c, located = _timed(run_trackpy, 1)
        t_times += t
        t_cpu += c
    h_med, t_med = statistics.median(h_times), statistics.median(t_times)
    from her2net.evaluate.matching import match_points

    pairs, _ = match_points(table[["x_px", "y_px"]].to_numpy(), truth, tolerance=4 / pixel_size_nm)
    tp_pairs, _ = match_points(located[["x", "y"]].to_numpy(), truth, tolerance=4 / pixel_size_nm)
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "load_average": os.getloadavg()},
        "model": model_name,
        "device": args.device,
        "precision": table.attrs["her2net"]["precision"],
        "image": {"size": args.size, "pixel_size_nm": pixel_size_nm, "labels": int(len(truth))},
        "her2net_seconds": h_times,
        "trackpy_seconds": t_times,
        "her2net_cpu_seconds": h_cpu,
        "trackpy_cpu_seconds": t_cpu,
        "her2net_median_s": h_med,
        "trackpy_median_s": t_med,
        "ratio_her2net_over_trackpy": h_med / t_med,
        "megapixels_per_s": args.size ** 2 / 1e6 / h_med,
        "her2net_detections": int(len(table)),
        "her2net_matched": int(len(pairs)),
        "trackpy_diameter_px": diameter,
        "trackpy_minmass": minmass,
        "trackpy_detections": int(len(located)),
        "trackpy_matched": int(len(tp_pairs)),
        "threshold": threshold,
    }
    if args.memory_size:
        ckpt = str(model.path)
        results["memory"] = _peak_rss_run(args.memory_size, ckpt, pixel_size_nm,
                                          threshold if threshold != "auto" else "auto", args.device)
    print(json.dumps(results, indent=2))
    print(f"\n{args.size}x{args.size} at {pixel_size_nm} nm/px ({len(truth)} labels), "
          f"{torch.get_num_threads()} threads, {model_name}:")
    print(f"  her2net.detect  {h_med:.2f} s  ({results['megapixels_per_s']:.2f} Mpx/s)  runs {['%.2f' % x for x in h_times]}")
    print(f"  trackpy.locate  {t_med:.2f} s  (diameter {diameter})  runs {['%.2f' % x for x in t_times]}")
    print(f"  ratio her2net / trackpy = {h_med / t_med:.2f} (wall); CPU seconds her2net "
          f"{statistics.median(h_cpu):.2f}, trackpy {statistics.median(t_cpu):.2f}")
    if "memory" in results:
        m = results["memory"]
        print(f"  {m['size']}x{m['size']} TIFF via `her2net detect`: {m['seconds']:.1f} s, "
              f"peak RSS {m['peak_rss_MB']:.0f} MB, {m['detections']} detections")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
