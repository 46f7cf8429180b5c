"""`her2net demo`: the main job end to end on built-in synthetic data and the shipped checkpoint.

It runs the same subcommands a user would (simulate, detect, analyze, evaluate) on a small
simulated data set and says where the results are.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

NOT_BUILT = 3  # exit status of a subcommand that is not built yet


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="run simulate -> detect -> analyze -> evaluate on built-in synthetic data",
        description=(
            "Simulate a few labelled cells, detect their labels with the shipped checkpoint, "
            "analyse monomers/dimers per cell, write the report and score the detections "
            "against the simulated truth."
        ),
    )
    parser.add_argument("--out", default="her2net_demo", metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--cells", type=int, default=4, help="simulated cells (default: %(default)s)")
    parser.add_argument("--size", type=int, default=768, metavar="PX",
                        help="image size in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def _steps(out: Path, args) -> list[tuple[str, list[str]]]:
    data = out / "data"
    return [
        ("simulate", ["simulate", str(data), "--cells", str(args.cells), "--images-per-cell", "2",
                      "--size", str(args.size), "--pixel-size", "1.0", "--dimer-absent-fraction",
                      "0.25", "--seed", str(args.seed), "--preview"]),
        ("detect", ["detect", "--manifest", str(data / "cells.csv"), "--out",
                    str(out / "detections.csv"), "--overlays", str(out / "overlays")]),
        ("analyze", ["analyze", str(out / "detections.csv"), "--manifest", str(data / "cells.csv"),
                     "--out", str(out / "analysis"), "--seed", str(args.seed)]),
        ("evaluate", ["evaluate", str(out / "detections.csv"), str(data / "truth.csv"),
                      "--manifest", str(data / "cells.csv"), "--out", str(out / "evaluation")]),
    ]


def run(args) -> int:
    from her2net.cli.main import main
    from her2net.errors import InputError

    if args.cells < 1 or args.size < 64:
        raise InputError("--cells must be >= 1 and --size >= 64")
    out = Path(args.out)
    if out.exists():
        if not args.overwrite and any(out.iterdir()):
            raise InputError(f"{out}: folder is not empty (use --overwrite to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    missing, failed = [], []
    for name, argv in _steps(out, args):
        if missing or failed:
            # Later steps need the earlier ones' outputs.
            missing.append(name)
            continue
        print(f"[demo] her2net {' '.join(argv)}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        status = main(argv)
        if status == NOT_BUILT:
            missing.append(name)
        elif status != 0:
            failed.append(name)
        else:
            print(f"[demo] {name} done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if failed:
        print(f"her2net: error: demo step {failed[0]} failed", file=sys.stderr)
        return 1
    if missing:
        print(f"[demo] not built yet, skipped: {', '.join(missing)}", file=sys.stderr)
        return NOT_BUILT
    print(f"[demo] all done. Open {out / 'analysis' / 'report.html'} in a browser; "
          f"detections in {out / 'detections.csv'}, overlays in {out / 'overlays'}, "
          f"detection scores in {out / 'evaluation' / 'metrics.json'}.")
    return 0
