"""Per-cell monomer/dimer analysis: groups, random-placement null, g(r)/L(r), dimer fraction."""

from her2net.analyze.cells import CALLS, CELL_COLUMNS, AnalysisResult, AnalysisSettings, analyze_cells
from her2net.analyze.estimator import FractionFit, PairingLikelihood, fit_fraction, fit_spacing
from her2net.analyze.groups import close_pairs, group_kind, link_groups
from her2net.analyze.inputs import check_detections, read_detections
from her2net.analyze.null_model import hardcore_points, monte_carlo_p_value
from her2net.analyze.patterns import DimerPattern, dimer_pattern
from her2net.analyze.spatial_stats import Envelope, PairCounts, curves_from_counts, pair_counts, rank_envelope
from her2net.analyze.window import Window

__all__ = [
    "analyze_cells", "AnalysisResult", "AnalysisSettings", "CALLS", "CELL_COLUMNS",
    "PairingLikelihood", "FractionFit", "fit_fraction", "fit_spacing",
    "link_groups", "close_pairs", "group_kind", "read_detections", "check_detections",
    "hardcore_points", "monte_carlo_p_value", "dimer_pattern", "DimerPattern",
    "pair_counts", "PairCounts", "curves_from_counts", "rank_envelope", "Envelope", "Window",
]
