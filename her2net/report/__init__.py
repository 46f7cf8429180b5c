"""Figures, the self-contained report.html and summary.json of an analysis."""

from her2net.report.html import build_report, summary_dict
from her2net.report.plots import curves_png, histogram_png, overlay_png

__all__ = ["build_report", "summary_dict", "histogram_png", "curves_png", "overlay_png"]
