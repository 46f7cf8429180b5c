"""Scoring detections against truth."""

from her2net.evaluate.matching import match_points

__all__ = ["match_points"]
