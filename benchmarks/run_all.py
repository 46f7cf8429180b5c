"""Run every benchmark in turn (``make bench``); each prints its table.

Usage (from the repository root)::

    python benchmarks/run_all.py [--quick]

``--quick`` runs smaller sets (a smoke run of the harness, figures not for quoting; their result
files go to /tmp, never over benchmarks/results/). The scripts
run one after another in fresh processes, so one failing does not stop the others; the exit status
is 1 if any failed. See benchmarks/README.md for what each takes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (script, arguments, arguments with --quick)
BENCHMARKS = (
    ("bench_simulate.py", [], None),
    ("bench_detect_speed.py", [], ["--size", "1024", "--repeats", "1"]),
    ("bench_detection_accuracy.py", [], ["--n-calibration", "2", "--n-test", "2", "--doses",
                                         "standard", "--results", "/tmp/her2net-quick-acc.csv"]),
    ("bench_independent.py", [], ["--n-calibration", "1", "--n-test", "1", "--results",
                                  "/tmp/her2net-quick-independent.csv"]),
    ("bench_replicas.py", [], ["--n-calibration", "1", "--n-test", "1", "--test-seeds", "99",
                                "98", "--results", "/tmp/her2net-quick-replicas.csv"]),
    ("bench_independent_replicas.py", [], ["--n-calibration", "1", "--n-test", "1",
                                           "--conditions", "drawn", "--results",
                                           "/tmp/her2net-quick-independent-replicas.csv"]),
    ("bench_finetune_replicas.py", ["--overwrite"],
     ["--n-images", "4", "--n-val", "1", "--steps", "3", "--n-test", "1", "--overwrite",
      "--out", "/tmp/her2net-quick-finetune", "--results", "/tmp/her2net-quick-finetune.csv"]),
    ("bench_replica_micrographs.py", [], ["--n-images", "1", "--size", "512"]),
    ("bench_polarity.py", [], ["--n-images", "1", "--size", "256"]),
    ("bench_noise_floor.py", [], ["--n-images", "1", "--null-images", "2"]),
    ("bench_refine.py", [], ["--n-images", "2"]),
    ("bench_label_size.py", [], ["--n-images", "1", "--size", "256"]),
    ("bench_robustness.py", [], ["--n-images", "1", "--size", "256"]),
    ("bench_pair_resolution.py", [], ["--n-images", "1"]),
    ("bench_speed_vs_peers.py", [], ["--size", "1024", "--repeats", "1"]),
    ("bench_pipeline_dimer_fraction.py", [], ["--cells", "3", "--calibration-cells", "1",
                                              "--results", "/tmp/her2net-quick-dimer.csv"]),
    ("bench_analysis.py", [], None),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    args = parser.parse_args(argv)
    failed = []
    for script, full, quick in BENCHMARKS:
        path = ROOT / "benchmarks" / script
        if not path.is_file():
            print(f"== {script}: not present, skipped", flush=True)
            continue
        extra = quick if (args.quick and quick is not None) else full
        print(f"== {script} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        status = subprocess.call([sys.executable, str(path), *extra], cwd=ROOT)
        print(f"== {script}: exit {status} in {time.perf_counter() - t0:.0f} s", flush=True)
        if status != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
