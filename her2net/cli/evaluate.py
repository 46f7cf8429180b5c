"""`her2net evaluate`: score detections against truth (precision, recall, F1, RMSE, plots)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="score detections against truth positions",
        description=(
            "Match detections to truth one to one (Hungarian assignment within a tolerance, per "
            "image) and write metrics.json (precision, recall, F1, localisation RMSE, pooled and "
            "per kind/region, pair-resolution curve, precision-recall curve when detections have "
            "scores), per_image.csv, pair_resolution.csv and PNG plots into --out. Positions are "
            "taken in nm from x_nm/y_nm columns, or from x_px/y_px times the manifest's pixel size."
        ),
    )
    parser.add_argument("detections", help="detections CSV (image, x_px, y_px[, x_nm, y_nm, score])")
    parser.add_argument("truth", help="truth CSV (image, x_px, y_px[, x_nm, y_nm, kind, region])")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--manifest", metavar="CSV", help="cells.csv with the pixel size per image")
    parser.add_argument("--tolerance-nm", type=float, default=4.0, metavar="NM",
                        help="largest detection-to-truth distance of a match (default 4)")
    parser.add_argument("--analysis", metavar="CSV",
                        help="per-cell output of 'her2net analyze' (with --cell-truth)")
    parser.add_argument("--cell-truth", metavar="CSV",
                        help="simulator's cell_truth.csv: adds the per-cell dimer-fraction error "
                             "(against the realised receptor_paired_fraction)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    return parser


def run(args) -> int:
    from her2net.evaluate import evaluate_files

    evaluation, dimer_errors = evaluate_files(
        args.detections, args.truth, out_dir=args.out, manifest=args.manifest,
        tolerance_nm=args.tolerance_nm, analysis=args.analysis, cell_truth=args.cell_truth,
        overwrite=args.overwrite, plots=not args.no_plots,
    )
    s = evaluation.summary
    logger.info(
        "%d images: %d truth, %d detected, %d matched within %g nm; precision %.4f, recall %.4f, "
        "F1 %.4f, RMSE %.3f nm", s["n_images"], s["n_truth"], s["n_detected"], s["n_matched"],
        s["tolerance_nm"], s["precision"], s["recall"], s["f1"], s["rmse_nm"],
    )
    if dimer_errors is not None:
        from her2net.evaluate import summarize_dimer_fraction_errors

        d = summarize_dimer_fraction_errors(dimer_errors)
        logger.info("dimer fraction over %d cells: MAE %.4f, bias %+.4f", d["n_cells"], d["mae"],
                    d["bias"])
    logger.info("wrote %s", args.out)
    return 0
