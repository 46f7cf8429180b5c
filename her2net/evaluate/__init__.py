"""Scoring detections against truth: matching, metrics, per-cell dimer-fraction error, plots."""

from her2net.evaluate.api import evaluate_files, load_points, write_evaluation
from her2net.evaluate.cells import dimer_fraction_errors, summarize_dimer_fraction_errors
from her2net.evaluate.matching import match_points
from her2net.evaluate.metrics import (
    Evaluation,
    counts_to_metrics,
    evaluate_detections,
    match_image,
    pair_resolution_curve,
    precision_recall_curve,
)

__all__ = [
    "match_points",
    "match_image",
    "Evaluation",
    "evaluate_detections",
    "counts_to_metrics",
    "pair_resolution_curve",
    "precision_recall_curve",
    "dimer_fraction_errors",
    "summarize_dimer_fraction_errors",
    "evaluate_files",
    "load_points",
    "write_evaluation",
]
