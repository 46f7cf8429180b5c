"""`her2net analyze`: per-cell monomer/dimer calls from a detections CSV."""

from __future__ import annotations

import argparse
import os
import logging

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Call, per cell, monomers, dimers and clusters of HER2 labels, remove the pairs expected by chance,
and estimate the fraction of receptors in dimers with a 95% interval. Writes cells.csv,
regions.csv, groups.csv, labels.csv, curves.csv, plots/, summary.json and report.html into --out.
Without --manifest every image is a cell and its window is the whole image (read from the image
file when it can be found, else the bounding box of its labels). See docs/analysis.md.
"""


def _add(parser, *flags, **kwargs):
    """Add an option unless another part of the command (detect) already defines it."""
    if any(flag in parser._option_string_actions for flag in flags):
        return
    parser.add_argument(*flags, **kwargs)


def add_analyze_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register the analysis options (shared by ``analyze`` and ``run``)."""
    group = parser.add_argument_group("analysis")
    _add(parser, "--manifest", metavar="CSV", help="cells.csv: image, cell, pixel_size_nm[, mask]")
    _add(parser, "--overwrite", action="store_true", help="replace a non-empty --out folder")
    group.add_argument("--dimer-distance", type=float, default=30.0, metavar="NM",
                       help="labels closer than this are linked into groups (default 30 nm)")
    group.add_argument("--min-distance", type=float, default=None, metavar="NM",
                       help="hard core of the random-placement null: one label diameter (default: the "
                            "median diameter_nm of the detections, else 10 nm)")
    group.add_argument("--labeling-efficiency", type=float, default=1.0, metavar="P",
                       help="probability that a receptor carries a label (default 1)")
    group.add_argument("--simulations", type=int, default=199, metavar="N",
                       help="Monte Carlo simulations of random placement per cell (default 199)")
    _add(parser, "--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    group.add_argument("--min-labels", type=int, default=50, metavar="N",
                       help="cells with fewer labels are called too-few-labels (default 50)")
    group.add_argument("--call-threshold", type=float, default=0.10, metavar="F",
                       help="dimer fraction separating dimer-depleted from dimer-rich (default 0.10)")
    group.add_argument("--pair-search", type=float, default=40.0, metavar="NM",
                       help="largest label spacing within a dimer that the estimator considers (default 40)")
    group.add_argument("--dimer-spacing", type=float, nargs=2, default=None, metavar=("MEAN", "SD"),
                       help="fix the label spacing within a dimer (nm) instead of fitting it on all cells")
    group.add_argument("--sim-workers", type=int, default=None, metavar="N",
                       help="processes for the random-placement simulations (default: the CPU "
                            "cores, at most 4; results do not depend on it)")
    group.add_argument("--no-report", action="store_true", help="skip report.html and the plots")
    return parser


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "analyze", help="per-cell monomer/dimer calls from detections",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("detections", metavar="DETECTIONS_CSV",
                        help="detections (image, x_px, y_px, x_nm, y_nm, ...)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_analyze_options(parser)
    return parser


def settings_from_args(args):
    """AnalysisSettings from parsed options."""
    from her2net.analyze import AnalysisSettings
    from her2net.errors import InputError

    settings = AnalysisSettings(
        dimer_distance_nm=args.dimer_distance, min_distance_nm=args.min_distance,
        labeling_efficiency=args.labeling_efficiency, simulations=args.simulations, seed=args.seed,
        min_labels=args.min_labels, call_threshold=args.call_threshold, pair_search_nm=args.pair_search,
        spacing_nm=tuple(args.dimer_spacing) if args.dimer_spacing else None,
        workers=args.sim_workers or min(os.cpu_count() or 1, 4),
    )
    try:
        return settings.check()
    except InputError as exc:  # name the options, not the settings fields
        message = str(exc)
        for field, flag in _FLAGS.items():
            message = message.replace(field, flag)
        raise InputError(message) from None


# AnalysisSettings field -> the option that sets it.
_FLAGS = {"dimer_distance_nm": "--dimer-distance", "min_distance_nm": "--min-distance",
          "labeling_efficiency": "--labeling-efficiency", "simulations": "--simulations",
          "seed": "--seed", "min_labels": "--min-labels", "call_threshold": "--call-threshold",
          "pair_search_nm": "--pair-search", "spacing_nm": "--dimer-spacing",
          "workers": "--sim-workers"}


def run_analysis(detections, args, *, out_dir, source: str = "detections", search_dirs=(),
                 extra_files=None) -> int:
    """Analyse a detections table and write every output into ``out_dir`` atomically.

    Parameters
    ----------
    detections : pandas.DataFrame
    args : argparse.Namespace
        With the options of :func:`add_analyze_options`.
    out_dir : path
    extra_files : dict, optional
        name -> callable(path) writing more files into the folder (``run`` writes detections.csv).
    """
    from her2net.analyze import analyze_cells
    from her2net.analyze.outputs import write_outputs
    from her2net.io import atomic_output_dir, check_output_dir, read_manifest

    settings = settings_from_args(args)
    check_output_dir(out_dir, overwrite=args.overwrite)
    manifest = read_manifest(args.manifest) if args.manifest else None
    quiet = getattr(args, "quiet", False)
    result = analyze_cells(detections, manifest, settings=settings, detections_source=source,
                           search_dirs=search_dirs, progress=not quiet)
    with atomic_output_dir(out_dir, overwrite=args.overwrite) as tmp:
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
        write_outputs(result, tmp, report=not args.no_report)
    counts = result.cells["call"].value_counts()
    logger.info("%d cells: %s -> %s", len(result.cells),
                ", ".join(f"{counts[c]} {c}" for c in counts.index), out_dir)
    return 0


def run(args) -> int:
    from pathlib import Path

    from her2net.analyze import read_detections

    detections = read_detections(args.detections)
    return run_analysis(detections, args, out_dir=args.out, source=str(args.detections),
                        search_dirs=[Path(args.detections).resolve().parent])
