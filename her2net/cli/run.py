"""`her2net run`: detect labels in micrographs, then analyse them per cell, in one step."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Detect labels in the micrographs (as `her2net detect`) and analyse them per cell (as
`her2net analyze`). Writes detections.csv and every output of `her2net analyze` into --out.
"""


def add_parser(subparsers):
    from her2net.cli.analyze import _add, add_analyze_options

    parser = subparsers.add_parser(
        "run", help="detect labels, then call monomers/dimers per cell",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    detect_options = _detect_options()
    if detect_options is not None:
        detect_options(parser)
    if not any(a.dest == "inputs" for a in parser._actions if not a.option_strings):
        parser.add_argument("inputs", nargs="*", metavar="INPUT",
                            help="micrographs, folders of micrographs, or a manifest cells.csv "
                                 "(or give the manifest with --manifest)")
    _add(parser, "--out", required=True, metavar="DIR", help="output folder")
    add_analyze_options(parser)
    return parser


def _detect_options():
    try:
        from her2net.cli.detect import add_detect_options
    except ImportError:
        return None
    return add_detect_options


def run(args) -> int:
    import sys

    try:
        from her2net.cli.detect import run_detection
    except ImportError:
        print("her2net: error: 'her2net run' needs 'her2net detect', which is not built yet",
              file=sys.stderr)
        return 3
    from her2net.analyze import check_detections
    from her2net.cli.analyze import run_analysis
    from her2net.io import check_output_dir

    # Fail on a bad --out or option before the (long) detection step.
    check_output_dir(args.out, overwrite=args.overwrite)
    from her2net.cli.analyze import settings_from_args

    settings_from_args(args)
    if getattr(args, "manifest", None) is None and len(args.inputs) == 1 and str(args.inputs[0]).lower().endswith(".csv"):
        args.manifest = args.inputs[0]  # INPUT was the manifest itself
    raw = run_detection(args)
    sidecar = dict(raw.attrs.get("sidecar", {}))
    detections = check_detections(raw, source="detections")

    def write_detections(path):
        detections.to_csv(path, index=False, float_format="%.6g")

    def write_sidecar(path):
        import json

        with open(path, "w", encoding="utf-8") as handle:
            json.dump(sidecar, handle, indent=2, default=str)

    extra = {"detections.csv": write_detections}
    if sidecar:
        extra["detections.json"] = write_sidecar
    return run_analysis(detections, args, out_dir=args.out, source="detections", extra_files=extra)
