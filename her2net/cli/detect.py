"""`her2net detect`: find labels in micrographs with the U-Net detector.

torch and the detection modules are imported inside the functions, so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

DESCRIPTION = """\
Find labels (gold, quantum dots) in micrographs. Writes one CSV row per label: image, x_px, y_px,
x_nm, y_nm, score, diameter_nm, intensity (+ cell, region with a manifest), and a JSON sidecar
(same name, .json) with the checkpoint, its metadata, the threshold and every option.
x_px is the column, y_px the row, the centre of pixel (0, 0) is (0, 0), in each input image's own
pixels. Exit status: 0 all images done, 1 some images were skipped (listed on stderr), 2 bad input.
"""

logger = logging.getLogger(__name__)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _pixel_size(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in nm, got {text!r}") from None


def add_detect_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every detection option except INPUT and --out (shared with `her2net run`)."""
    group = parser.add_argument_group("detection")
    group.add_argument("--checkpoint", metavar="PATH", default=None,
                       help="inference checkpoint: a path, 'default' (the shipped "
                            "her2net-v1.pt) or 'replicas' (the shipped her2net-v1-replicas.pt, "
                            "for bright-field TEM of freeze-fracture replicas); without it, "
                            "dark-label images on a textured background go to 'replicas', "
                            "all others to 'default'")
    group.add_argument("--pixel-size", type=_pixel_size, default=None, metavar="NM",
                       help="pixel size in nm; overrides the files' and the manifest's")
    group.add_argument("--frame", type=int, default=None, metavar="N",
                       help="frame to take from stacks (time series, z-stacks); 0-based")
    group.add_argument("--channel", type=int, default=None, metavar="N",
                       help="channel to take from multi-channel images (RGB is made grey "
                            "without it); 0-based")
    group.add_argument("--polarity", choices=("auto", "bright", "dark"), default="auto",
                       help="labels brighter (ADF STEM) or darker (bright-field TEM) than the "
                            "background; auto decides per image and says so, dark for a "
                            "metal-shadowed replica (default auto)")
    group.add_argument("--threshold", default="auto", metavar="auto|P",
                       help="heatmap probability threshold; auto: the checkpoint's calibrated "
                            "one, raised per image where the labels score high, lowered where the "
                            "only clutter is white noise (faint images); P: this value in every "
                            "image")
    group.add_argument("--no-refine", dest="refine", action="store_false",
                       help="keep the network's centres (default: average them with a local "
                            "Gaussian fit on the image, which localises better on clean images)")
    group.add_argument("--manifest", metavar="CSV", default=None,
                       help="cells.csv (image, cell, pixel_size_nm[, mask]): adds cell and region")
    group.add_argument("--overlays", metavar="DIR", default=None,
                       help="write one PNG per image with the detections drawn, coloured by score")
    group.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                       help="where the network runs (default auto: cuda when available)")
    group.add_argument("--precision", choices=("auto", "float32", "bfloat16", "float16"),
                       default="auto",
                       help="network precision (auto: bfloat16 on CUDA and on CPUs with native "
                            "bfloat16, else float32)")
    group.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                       help="tiles per forward pass (default 1 on CPU, 8 on CUDA)")
    group.add_argument("--tile", type=_positive_int, default=None, metavar="PX",
                       help="network input size per tile in native pixels (default 2304 on CPU, "
                            "1024 on CUDA)")
    group.add_argument("--workers", type=_positive_int, default=2, metavar="N",
                       help="threads reading images ahead of the network (default 2)")
    return parser


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "detect", help="find labels in micrographs (U-Net heatmap detector)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="image files, folders of images, or a manifest cells.csv")
    parser.add_argument("--out", required=True, metavar="CSV", help="detections CSV to write")
    add_detect_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --overlays folder")
    return parser


def _sidecar(args, model, threshold: float, relative_threshold: float, result) -> dict:
    from her2net._version import __version__

    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    return {
        "her2net_version": __version__,
        "command": "her2net detect",
        "options": options,
        "checkpoint": str(model.path) if model.path is not None else None,
        "checkpoint_metadata": model.metadata,
        # Without --checkpoint, dark-label images on textured backgrounds go to the replica
        # specialist (her2net.detect.routing); each image's "checkpoint" says which one it got.
        "replica_checkpoint": (str(model.replica_model.path)
                               if getattr(model, "replica_model", None) is not None else None),
        "threshold": threshold,
        "relative_threshold": relative_threshold,  # per-image thresholds are under "images"
        "model_pixel_size_nm": model.pixel_size_nm,
        "images": result.images,
        "run_polarity": result.run_polarity,
        "failed": [{"image": name, "error": message} for name, message in result.failures],
        "detections": int(len(result.detections)),
    }


def run_detection(args):
    """Detections for the parsed options (``args.inputs`` and the options of
    :func:`add_detect_options`); writes overlays when asked.

    Returns
    -------
    pandas.DataFrame
        The detections (with cell and region columns when a manifest is given).
        ``.attrs['sidecar']`` holds the sidecar dict and ``.attrs['failures']`` the
        (image, reason) pairs of skipped images.

    Skipped images are listed on stderr, one line each.

    Raises
    ------
    InputError
        Bad options or inputs, or every image failed (the first reason is given).
    """
    from her2net.detect.api import resolve_model, threshold_rule
    from her2net.detect.batch import collect_inputs, detect_batch
    from her2net.detect.inference import resolve_device
    from her2net.errors import InputError
    from her2net.io import atomic_output_dir, check_output_dir, check_pixel_size_nm

    if args.pixel_size is not None:
        check_pixel_size_nm(args.pixel_size, source="--pixel-size")
    items, manifest = collect_inputs(getattr(args, "inputs", []), manifest=args.manifest)
    overwrite = bool(getattr(args, "overwrite", False))
    if args.overlays:
        check_output_dir(args.overlays, overwrite=overwrite)
    device = resolve_device(args.device)
    model = resolve_model(args.checkpoint, device=device)
    base, relative = threshold_rule(args.threshold, model)  # checked before any image is read
    if args.tile is not None:
        from her2net.detect.inference import check_tile_px, get_runner

        check_tile_px(get_runner(model.net, device=device, precision=args.precision), args.tile,
                      int(getattr(model, "min_distance_px", 2)))
    per_image = relative > 0 or bool(getattr(model, "noise_peak_rate", None))
    threshold = "auto" if args.threshold == "auto" and per_image else base
    quiet = bool(getattr(args, "quiet", False))
    options = dict(model=model, pixel_size_nm=args.pixel_size, polarity=args.polarity,
                   threshold=threshold, tile_px=args.tile, device=device,
                   batch_size=args.batch_size, precision=args.precision, workers=args.workers,
                   with_manifest=manifest is not None, progress=None if not quiet else False,
                   frame=args.frame, channel=args.channel, refine=args.refine)
    if args.overlays:
        with atomic_output_dir(args.overlays, overwrite=overwrite) as tmp:
            result = detect_batch(items, overlays_dir=tmp, **options)
            if not result.images:
                raise InputError(result.failures[0][1])
    else:
        result = detect_batch(items, **options)
    if not result.images:
        raise InputError(result.failures[0][1] + (f" (and {len(result.failures) - 1} more images failed)"
                                                  if len(result.failures) > 1 else ""))
    for _, message in result.failures:
        print(f"her2net: skipped: {message}", file=sys.stderr)
    detections = result.detections
    detections.attrs["sidecar"] = _sidecar(args, model, base, relative, result)
    detections.attrs["failures"] = list(result.failures)
    logger.info("%d labels in %d images%s", len(detections), len(result.images),
                f"; {len(result.failures)} images skipped" if result.failures else "")
    return detections


def run(args) -> int:
    from her2net.detect.batch import sidecar_path, write_detections
    from her2net.io import check_output_file

    out = check_output_file(args.out)  # writable, before the long detection
    check_output_file(sidecar_path(out))
    detections = run_detection(args)
    sidecar = detections.attrs.pop("sidecar")
    failures = detections.attrs.pop("failures")
    write_detections(detections, out, sidecar)
    logger.info("wrote %s and %s", out, sidecar_path(out))
    return 1 if failures else 0
