"""`her2net simulate`: simulated labelled cells with ground truth (images, masks, CSVs)."""

from __future__ import annotations

import argparse


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "simulate",
        help="simulate labelled cells (liquid STEM or bright-field TEM) with ground truth",
        description=(
            "Simulate micrographs of whole cells with labelled HER2 receptors (monomers, dimers, "
            "clusters) and write images/, masks/, cells.csv (manifest), truth.csv, cell_truth.csv, "
            "image_truth.csv and params.json into OUT. The same seed gives byte-identical files."
        ),
    )
    parser.add_argument("out", metavar="OUT", help="output folder (must be empty or absent)")
    parser.add_argument("--cells", type=_positive_int, default=4, metavar="N", help="number of cells (default 4)")
    parser.add_argument("--images-per-cell", type=_positive_int, default=2, metavar="K",
                        help="images per cell (default 2)")
    parser.add_argument("--size", type=_positive_int, default=1024, metavar="PX",
                        help="image size in pixels, square (default 1024)")
    px = parser.add_mutually_exclusive_group()
    px.add_argument("--pixel-size", type=float, metavar="NM", help="fixed pixel size in nm")
    px.add_argument("--pixel-size-range", type=float, nargs=2, metavar=("A", "B"), default=(0.8, 1.6),
                    help="per-cell pixel size drawn from [A, B] nm (default 0.8 1.6)")
    parser.add_argument("--dose", type=float, metavar="E_PER_A2",
                        help="electron dose in e-/Å² (default: per image, a dose giving a clear label SNR)")
    parser.add_argument("--label", choices=("gold", "qd", "mixed"), default="gold",
                        help="label type (default gold)")
    parser.add_argument("--gold-diameter", type=float, nargs="+", metavar="NM", default=[10.0],
                        help="gold sizes present, nm (default 10)")
    parser.add_argument("--polarity", choices=("bright", "dark"), default="bright",
                        help="bright: ADF liquid STEM (default); dark: bright-field TEM")
    df = parser.add_mutually_exclusive_group()
    df.add_argument("--dimer-fraction", type=float, metavar="F", help="fraction of receptors in dimers, every cell")
    df.add_argument("--dimer-fraction-range", type=float, nargs=2, metavar=("A", "B"), default=(0.0, 0.5),
                    help="per-cell dimer fraction drawn from [A, B] (default 0 0.5)")
    parser.add_argument("--dimer-distance", type=float, nargs=2, metavar=("MEAN", "SD"), default=(20.0, 4.0),
                        help="label-label distance in dimers, nm (default 20 4)")
    parser.add_argument("--dimer-absent-fraction", type=float, default=0.2, metavar="F",
                        help="fraction of cells without dimers or clusters (default 0.2)")
    parser.add_argument("--labeling-efficiency", type=float, default=1.0, metavar="P",
                        help="probability that a receptor is labelled (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=_positive_int, default=1, metavar="W", help="processes (default 1)")
    parser.add_argument("--float", dest="float_output", action="store_true",
                        help="write raw float32 images instead of uint16")
    parser.add_argument("--preview", action="store_true", help="also write preview.png (contact sheet with truth)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    return parser


# simulate_dataset argument -> the option that sets it (for the error messages).
_FLAGS = {"images_per_cell": "--images-per-cell", "size_px": "--size",
          "pixel_size_range_nm": "--pixel-size-range", "pixel_size_nm": "--pixel-size",
          "dose_e_per_A2": "--dose", "gold_diameters_nm": "--gold-diameter",
          "dimer_fraction_range": "--dimer-fraction-range",
          "dimer_absent_fraction": "--dimer-absent-fraction", "dimer_fraction": "--dimer-fraction",
          "dimer_distance_nm": "--dimer-distance", "labeling_efficiency": "--labeling-efficiency",
          "cells": "--cells", "workers": "--workers"}


def run(args) -> int:
    from her2net.errors import InputError

    try:
        return _run(args)
    except InputError as exc:  # name the options, not the function's arguments
        message = str(exc)
        for name, flag in _FLAGS.items():
            if message.startswith(f"{name}:"):
                message = flag + message[len(name):]
                break
        raise InputError(message) from None


def _run(args) -> int:
    from her2net.simulate.dataset import simulate_dataset

    result = simulate_dataset(
        args.out,
        cells=args.cells,
        images_per_cell=args.images_per_cell,
        size_px=args.size,
        pixel_size_nm=args.pixel_size,
        pixel_size_range_nm=tuple(args.pixel_size_range),
        dose_e_per_A2=args.dose,
        label=args.label,
        gold_diameters_nm=tuple(args.gold_diameter),
        polarity=args.polarity,
        dimer_fraction=args.dimer_fraction,
        dimer_fraction_range=tuple(args.dimer_fraction_range),
        dimer_distance_nm=tuple(args.dimer_distance),
        dimer_absent_fraction=args.dimer_absent_fraction,
        labeling_efficiency=args.labeling_efficiency,
        seed=args.seed,
        workers=args.workers,
        float_output=args.float_output,
        overwrite=args.overwrite,
        preview=args.preview,
    )
    print(f"wrote {len(result.manifest)} images of {len(result.cell_truth)} cells "
          f"({len(result.truth)} labels) to {result.path}")
    return 0
