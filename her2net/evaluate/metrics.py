"""Detection metrics: precision, recall, F1 and localisation error against truth.

Everything is computed in nanometres, per image, from a one-to-one matching within a distance
tolerance (:func:`her2net.evaluate.matching.match_points`). Pooled figures sum the counts of all
images (micro average); per-image figures are in :attr:`Evaluation.per_image`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from her2net.errors import InputError
from her2net.evaluate.matching import match_points

__all__ = [
    "Evaluation",
    "evaluate_detections",
    "counts_to_metrics",
    "match_image",
    "pair_resolution_curve",
    "precision_recall_curve",
    "PER_IMAGE_COLUMNS",
]

logger = logging.getLogger(__name__)

PER_IMAGE_COLUMNS = ("image", "n_truth", "n_detected", "n_matched", "precision", "recall", "f1",
                     "rmse_nm")


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate_detections`.

    Attributes
    ----------
    summary : dict
        Pooled ``n_truth, n_detected, n_matched, precision, recall, f1, rmse_nm`` (RMSE of the
        matched pairs' distances), ``bias_x_nm``/``bias_y_nm`` (mean detected minus true),
        ``n_images`` and ``tolerance_nm``; ``best_threshold``/``best_f1`` when detections have
        scores.
    per_image : pandas.DataFrame
        One row per image, columns :data:`PER_IMAGE_COLUMNS`.
    truth : pandas.DataFrame
        The truth rows (with ``x_nm``, ``y_nm``) plus ``matched`` (bool), ``detection`` (row
        position of the matched detection in ``detections``, -1 if none) and ``error_nm``.
    detections : pandas.DataFrame
        The detection rows (with ``x_nm``, ``y_nm``) plus ``matched`` and ``truth`` (row position
        in ``truth``, -1 if none).
    per_kind, per_region : pandas.DataFrame or None
        Recall and RMSE by truth ``kind`` (monomer/dimer/cluster) and ``region``; per region also
        precision when the detections carry a ``region`` column. None without such a column.
    pair_resolution : pandas.DataFrame
        See :func:`pair_resolution_curve`.
    pr_curve : pandas.DataFrame or None
        See :func:`precision_recall_curve`; None when detections have no ``score``.
    """

    summary: dict
    per_image: pd.DataFrame
    truth: pd.DataFrame
    detections: pd.DataFrame
    per_kind: pd.DataFrame | None = None
    per_region: pd.DataFrame | None = None
    pair_resolution: pd.DataFrame = field(default_factory=pd.DataFrame)
    pr_curve: pd.DataFrame | None = None


def counts_to_metrics(n_matched: int, n_detected: int, n_truth: int) -> dict:
    """Precision, recall and F1 from counts.

    An empty denominator counts as perfect (nothing detected: no false positive, precision 1;
    nothing to find: recall 1), so that ``f1 = 2 TP / (n_detected + n_truth)`` holds everywhere.

    Examples
    --------
    >>> counts_to_metrics(8, 10, 16)
    {'precision': 0.8, 'recall': 0.5, 'f1': 0.6153846153846154}
    """
    precision = n_matched / n_detected if n_detected else 1.0
    recall = n_matched / n_truth if n_truth else 1.0
    total = n_detected + n_truth
    f1 = 2.0 * n_matched / total if total else 1.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def _rmse(distances) -> float:
    distances = np.asarray(distances, dtype=np.float64)
    return float(np.sqrt(np.mean(distances**2))) if len(distances) else float("nan")


def match_image(detected_nm: np.ndarray, truth_nm: np.ndarray, *, tolerance_nm: float):
    """Match the detections of one image to its truth points.

    Parameters
    ----------
    detected_nm, truth_nm : ndarray, shape (N, 2) and (M, 2)
        Positions in nm.
    tolerance_nm : float
        Largest distance of a match.

    Returns
    -------
    det_to_truth : ndarray of int, shape (N,)
        Index of the matched truth point per detection, -1 when unmatched.
    truth_to_det : ndarray of int, shape (M,)
        Index of the matched detection per truth point, -1 when unmatched.
    distance_nm : ndarray, shape (M,)
        Distance of each truth point to its match (NaN when unmatched).
    """
    det_to_truth = np.full(len(detected_nm), -1, dtype=np.int64)
    truth_to_det = np.full(len(truth_nm), -1, dtype=np.int64)
    distance_nm = np.full(len(truth_nm), np.nan)
    pairs, dist = match_points(detected_nm, truth_nm, tolerance=tolerance_nm)
    if len(pairs):
        det_to_truth[pairs[:, 0]] = pairs[:, 1]
        truth_to_det[pairs[:, 1]] = pairs[:, 0]
        distance_nm[pairs[:, 1]] = dist
    return det_to_truth, truth_to_det, distance_nm


def _groups(table: pd.DataFrame) -> dict:
    """Row positions per image."""
    if table.empty:
        return {}
    return {str(k): np.asarray(v) for k, v in table.groupby("image", sort=False).indices.items()}


def evaluate_detections(detections: pd.DataFrame, truth: pd.DataFrame, *,
                        tolerance_nm: float = 4.0, pair_bin_nm: float = 5.0,
                        pair_max_nm: float = 50.0, n_thresholds: int = 40) -> Evaluation:
    """Score detections against truth, image by image.

    Parameters
    ----------
    detections : pandas.DataFrame
        Columns ``image, x_nm, y_nm`` and optionally ``score`` and ``region``.
    truth : pandas.DataFrame
        Columns ``image, x_nm, y_nm`` and optionally ``kind``, ``region``.
    tolerance_nm : float
        Largest distance between a detection and the truth point it is matched to.
    pair_bin_nm, pair_max_nm : float
        Bin width and range of the pair-resolution curve.
    n_thresholds : int
        Number of score thresholds of the precision-recall curve.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"image": ["a", "a"], "x_nm": [0.0, 20.0], "y_nm": [0.0, 0.0]})
    >>> found = pd.DataFrame({"image": ["a", "a"], "x_nm": [1.0, 50.0], "y_nm": [0.0, 0.0]})
    >>> ev = evaluate_detections(found, truth, tolerance_nm=4)
    >>> ev.summary["precision"], ev.summary["recall"], ev.summary["rmse_nm"]
    (0.5, 0.5, 1.0)
    """
    tolerance_nm = float(tolerance_nm)
    if not np.isfinite(tolerance_nm) or tolerance_nm <= 0:
        raise InputError(f"--tolerance-nm: must be a positive number of nm, got {tolerance_nm:g}")
    for name, table in (("detections", detections), ("truth", truth)):
        missing = [c for c in ("image", "x_nm", "y_nm") if c not in table.columns]
        if missing:
            raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    det = detections.reset_index(drop=True).copy()
    tru = truth.reset_index(drop=True).copy()
    det["image"] = det["image"].astype(str)
    tru["image"] = tru["image"].astype(str)
    det_xy = det[["x_nm", "y_nm"]].to_numpy(np.float64)
    tru_xy = tru[["x_nm", "y_nm"]].to_numpy(np.float64)
    det_groups, tru_groups = _groups(det), _groups(tru)
    images = list(dict.fromkeys([*tru_groups, *det_groups]))
    if det_groups and tru_groups and not set(det_groups) & set(tru_groups):
        raise InputError(
            "detections and truth have no image in common (detections: "
            f"{next(iter(det_groups))!r}, truth: {next(iter(tru_groups))!r}, ...)"
        )
    det_to_truth = np.full(len(det), -1, dtype=np.int64)
    truth_to_det = np.full(len(tru), -1, dtype=np.int64)
    error_nm = np.full(len(tru), np.nan)
    empty = np.zeros(0, dtype=np.int64)
    rows = []
    for image in images:
        di, ti = det_groups.get(image, empty), tru_groups.get(image, empty)
        d2t, t2d, dist = match_image(det_xy[di], tru_xy[ti], tolerance_nm=tolerance_nm)
        det_to_truth[di] = np.where(d2t >= 0, ti[np.maximum(d2t, 0)] if len(ti) else -1, -1)
        truth_to_det[ti] = np.where(t2d >= 0, di[np.maximum(t2d, 0)] if len(di) else -1, -1)
        error_nm[ti] = dist
        n_matched = int(np.sum(t2d >= 0))
        rows.append({"image": image, "n_truth": len(ti), "n_detected": len(di),
                     "n_matched": n_matched, **counts_to_metrics(n_matched, len(di), len(ti)),
                     "rmse_nm": _rmse(dist[t2d >= 0])})
    per_image = pd.DataFrame(rows, columns=list(PER_IMAGE_COLUMNS))
    tru["matched"] = truth_to_det >= 0
    tru["detection"] = truth_to_det
    tru["error_nm"] = error_nm
    det["matched"] = det_to_truth >= 0
    det["truth"] = det_to_truth
    matched = tru["matched"].to_numpy()
    n_matched = int(matched.sum())
    offsets = det_xy[truth_to_det[matched]] - tru_xy[matched] if n_matched else np.zeros((0, 2))
    summary = {
        "n_images": len(images),
        "n_truth": len(tru),
        "n_detected": len(det),
        "n_matched": n_matched,
        **counts_to_metrics(n_matched, len(det), len(tru)),
        "rmse_nm": _rmse(error_nm[matched]),
        "bias_x_nm": float(offsets[:, 0].mean()) if n_matched else float("nan"),
        "bias_y_nm": float(offsets[:, 1].mean()) if n_matched else float("nan"),
        "tolerance_nm": tolerance_nm,
    }
    pr = None
    if "score" in det.columns and len(det):
        pr = precision_recall_curve(det, tru, tolerance_nm=tolerance_nm, n_thresholds=n_thresholds)
        best = pr.loc[pr["f1"].idxmax()]
        summary["best_threshold"] = float(best["threshold"])
        summary["best_f1"] = float(best["f1"])
    return Evaluation(
        summary=summary,
        per_image=per_image,
        truth=tru,
        detections=det,
        per_kind=_breakdown(tru, det, "kind"),
        per_region=_breakdown(tru, det, "region"),
        pair_resolution=pair_resolution_curve(tru, bin_nm=pair_bin_nm, max_nm=pair_max_nm),
        pr_curve=pr,
    )


def _breakdown(tru: pd.DataFrame, det: pd.DataFrame, column: str) -> pd.DataFrame | None:
    """Recall and RMSE per value of a truth column (precision too where detections have it)."""
    if column not in tru.columns or tru.empty:
        return None
    rows = []
    det_has = column in det.columns
    for value, part in tru.groupby(column, sort=True, dropna=False):
        row = {column: value, "n_truth": len(part), "n_matched": int(part["matched"].sum()),
               "recall": float(part["matched"].mean()),
               "rmse_nm": _rmse(part.loc[part["matched"], "error_nm"])}
        if det_has:
            dpart = det[det[column].astype(str) == str(value)]
            row["n_detected"] = len(dpart)
            row["precision"] = (float(dpart["matched"].mean()) if len(dpart) else 1.0)
        rows.append(row)
    return pd.DataFrame(rows)


def pair_resolution_curve(truth: pd.DataFrame, *, bin_nm: float = 5.0,
                          max_nm: float = 50.0) -> pd.DataFrame:
    """Recall of both labels of a close truth pair as a function of their distance.

    A truth pair is two labels of one image that are each other's nearest neighbour and closer
    than ``max_nm`` (dimers and chance neighbours alike). A pair is resolved when both of its
    labels are matched (to different detections, as the matching is one to one).

    Parameters
    ----------
    truth : pandas.DataFrame
        Columns ``image, x_nm, y_nm, matched`` (as in :attr:`Evaluation.truth`).
    bin_nm, max_nm : float
        Width of the distance bins and the largest pair distance.

    Returns
    -------
    pandas.DataFrame
        Columns ``distance_lo_nm, distance_hi_nm, n_pairs, n_resolved, recall_both``
        (NaN where a bin has no pair), one row per bin from 0 to ``max_nm``.
    """
    edges = np.arange(0.0, max_nm + bin_nm * 0.5, bin_nm)
    distances, resolved = [], []
    for _, part in truth.groupby("image", sort=False):
        xy = part[["x_nm", "y_nm"]].to_numpy(np.float64)
        if len(xy) < 2:
            continue
        dist, nn = cKDTree(xy).query(xy, k=2)
        d, j = dist[:, 1], nn[:, 1]
        i = np.arange(len(xy))
        mutual = (nn[j, 1] == i) & (i < j) & (d < max_nm)
        ok = part["matched"].to_numpy(bool)
        distances.append(d[mutual])
        resolved.append(ok[i[mutual]] & ok[j[mutual]])
    distances = np.concatenate(distances) if distances else np.zeros(0)
    resolved = np.concatenate(resolved) if resolved else np.zeros(0, dtype=bool)
    n_pairs, _ = np.histogram(distances, bins=edges)
    n_resolved, _ = np.histogram(distances[resolved], bins=edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(n_pairs > 0, n_resolved / np.maximum(n_pairs, 1), np.nan)
    return pd.DataFrame({"distance_lo_nm": edges[:-1], "distance_hi_nm": edges[1:],
                         "n_pairs": n_pairs, "n_resolved": n_resolved, "recall_both": recall})


def precision_recall_curve(detections: pd.DataFrame, truth: pd.DataFrame, *,
                           tolerance_nm: float = 4.0, n_thresholds: int = 40) -> pd.DataFrame:
    """Precision, recall and F1 as the detections' score threshold rises.

    Each threshold keeps the detections with ``score >= threshold`` and matches them afresh (a
    dropped detection can free its truth point for another), so every point of the curve is an
    exact evaluation.

    Parameters
    ----------
    detections : pandas.DataFrame
        Columns ``image, x_nm, y_nm, score``.
    truth : pandas.DataFrame
        Columns ``image, x_nm, y_nm``.
    tolerance_nm : float
        Matching tolerance.
    n_thresholds : int
        Thresholds at evenly spaced quantiles of the scores (plus the lowest score).

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, n_detected, n_matched, precision, recall, f1``, by rising threshold.
    """
    scores = detections["score"].to_numpy(np.float64)
    finite = scores[np.isfinite(scores)]
    if len(finite) == 0:
        raise InputError("detections: column score has no finite value")
    thresholds = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, max(int(n_thresholds), 2))))
    det_images = detections["image"].astype(str).to_numpy()
    det_xy = detections[["x_nm", "y_nm"]].to_numpy(np.float64)
    tru_groups = _groups(truth.assign(image=truth["image"].astype(str)))
    tru_xy = truth[["x_nm", "y_nm"]].to_numpy(np.float64)
    n_truth = len(truth)
    rows = []
    for threshold in thresholds:
        keep = scores >= threshold
        n_det = int(keep.sum())
        n_matched = 0
        kept_images = det_images[keep]
        kept_xy = det_xy[keep]
        order = np.argsort(kept_images, kind="stable")
        names, starts = np.unique(kept_images[order], return_index=True)
        for name, part in zip(names, np.split(order, starts[1:])):
            ti = tru_groups.get(str(name))
            if ti is None or len(part) == 0:
                continue
            pairs, _ = match_points(kept_xy[part], tru_xy[ti], tolerance=tolerance_nm)
            n_matched += len(pairs)
        rows.append({"threshold": float(threshold), "n_detected": n_det, "n_matched": n_matched,
                     **counts_to_metrics(n_matched, n_det, n_truth)})
    return pd.DataFrame(rows)
