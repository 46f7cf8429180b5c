"""Metrics on hand-made cases whose answers are known."""

import numpy as np
import pandas as pd
import pytest

from her2net.errors import InputError
from her2net.evaluate import (
    counts_to_metrics,
    dimer_fraction_errors,
    evaluate_detections,
    pair_resolution_curve,
    summarize_dimer_fraction_errors,
)


def _points(xy, image="a", **columns):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return pd.DataFrame({"image": image, "x_nm": xy[:, 0], "y_nm": xy[:, 1], **columns})


TRUTH_XY = [[0, 0], [100, 0], [0, 100], [100, 100]]


def test_perfect_detections():
    ev = evaluate_detections(_points(TRUTH_XY), _points(TRUTH_XY), tolerance_nm=4)
    s = ev.summary
    assert (s["precision"], s["recall"], s["f1"], s["rmse_nm"]) == (1.0, 1.0, 1.0, 0.0)
    assert s["n_matched"] == 4
    assert ev.truth["matched"].all() and ev.detections["matched"].all()


def test_shifted_detections_give_rmse_and_bias():
    det = _points(np.asarray(TRUTH_XY) + [3.0, 0.0])
    ev = evaluate_detections(det, _points(TRUTH_XY), tolerance_nm=4)
    assert ev.summary["f1"] == 1.0
    assert ev.summary["rmse_nm"] == pytest.approx(3.0)
    assert ev.summary["bias_x_nm"] == pytest.approx(3.0)
    assert ev.summary["bias_y_nm"] == pytest.approx(0.0)
    # Beyond the tolerance nothing matches.
    ev = evaluate_detections(_points(np.asarray(TRUTH_XY) + [5.0, 0.0]), _points(TRUTH_XY),
                             tolerance_nm=4)
    assert ev.summary["n_matched"] == 0 and ev.summary["f1"] == 0.0


def test_extra_and_missing_detections():
    det = _points(TRUTH_XY[:3] + [[50, 50], [70, 20]])  # 3 right, 2 extra, 1 missing
    ev = evaluate_detections(det, _points(TRUTH_XY), tolerance_nm=4)
    assert ev.summary["n_matched"] == 3
    assert ev.summary["precision"] == pytest.approx(3 / 5)
    assert ev.summary["recall"] == pytest.approx(3 / 4)
    assert ev.summary["f1"] == pytest.approx(2 * 3 / (5 + 4))
    assert not ev.truth["matched"].iloc[3]
    assert ev.detections["matched"].tolist() == [True, True, True, False, False]


def test_two_detections_competing_for_one_truth_point():
    # Both detections are within tolerance of truth 0; only one may take it, the closer one,
    # and the other then matches nothing (truth 1 is too far from it).
    truth = _points([[0, 0], [30, 0]])
    det = _points([[2.5, 0], [-1, 0]])
    ev = evaluate_detections(det, truth, tolerance_nm=4)
    assert ev.summary["n_matched"] == 1
    assert ev.detections["matched"].tolist() == [False, True]
    assert ev.truth["error_nm"].iloc[0] == pytest.approx(1.0)


def test_matching_maximises_matches_before_distance():
    # A greedy nearest-first matching would give detection 0 to truth 1 and lose truth 0.
    truth = _points([[0, 0], [3, 0]])
    det = _points([[2.9, 0], [6.5, 0]])
    ev = evaluate_detections(det, truth, tolerance_nm=4)
    assert ev.summary["n_matched"] == 2
    assert ev.truth["detection"].tolist() == [0, 1]


def test_images_are_matched_separately():
    truth = pd.concat([_points([[0, 0]], image="a"), _points([[0, 0]], image="b")])
    det = pd.concat([_points([[0, 0]], image="a"), _points([[50, 0]], image="b")])
    ev = evaluate_detections(det, truth, tolerance_nm=4)
    per = ev.per_image.set_index("image")
    assert per.loc["a", "f1"] == 1.0 and per.loc["b", "f1"] == 0.0
    assert ev.summary["n_images"] == 2 and ev.summary["f1"] == 0.5


def test_image_without_detections_and_empty_inputs():
    truth = pd.concat([_points([[0, 0]], image="a"), _points([[0, 0]], image="b")])
    ev = evaluate_detections(_points([[0, 0]], image="a"), truth, tolerance_nm=4)
    per = ev.per_image.set_index("image")
    assert per.loc["b", "n_detected"] == 0 and per.loc["b", "recall"] == 0.0
    assert per.loc["b", "precision"] == 1.0  # nothing detected: no false positive
    ev = evaluate_detections(_points(np.zeros((0, 2))), truth, tolerance_nm=4)
    assert ev.summary["recall"] == 0.0 and ev.summary["f1"] == 0.0


def test_counts_to_metrics():
    assert counts_to_metrics(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert counts_to_metrics(2, 4, 2)["f1"] == pytest.approx(2 * 2 / 6)


def test_per_kind_and_region_breakdown():
    truth = _points(TRUTH_XY, kind=["monomer", "dimer", "dimer", "cluster"], region=[1, 1, 2, 2])
    det = _points(TRUTH_XY[:2] + [[50, 50]], region=[1, 1, 2])
    ev = evaluate_detections(det, truth, tolerance_nm=4)
    kinds = ev.per_kind.set_index("kind")
    assert kinds.loc["dimer", "recall"] == 0.5 and kinds.loc["monomer", "recall"] == 1.0
    regions = ev.per_region.set_index("region")
    assert regions.loc[1, "recall"] == 1.0 and regions.loc[2, "recall"] == 0.0
    assert regions.loc[1, "precision"] == 1.0 and regions.loc[2, "precision"] == 0.0


def test_pair_resolution_curve():
    # Pairs at 7 nm and 22 nm (mutual nearest neighbours, far from each other); the 7-nm pair has
    # only one label found, the 22-nm pair both.
    truth = _points([[0, 0], [7, 0], [500, 0], [522, 0]])
    det = _points([[0, 0], [500, 0], [522, 0]])
    ev = evaluate_detections(det, truth, tolerance_nm=4, pair_bin_nm=5, pair_max_nm=30)
    curve = ev.pair_resolution.set_index("distance_lo_nm")
    assert curve.loc[5.0, "n_pairs"] == 1 and curve.loc[5.0, "recall_both"] == 0.0
    assert curve.loc[20.0, "n_pairs"] == 1 and curve.loc[20.0, "recall_both"] == 1.0
    assert curve["n_pairs"].sum() == 2
    assert np.isnan(curve.loc[0.0, "recall_both"])
    direct = pair_resolution_curve(ev.truth, bin_nm=5, max_nm=30)
    pd.testing.assert_frame_equal(direct, ev.pair_resolution)


def test_precision_recall_curve_rematches_at_each_threshold():
    truth = _points(TRUTH_XY)
    # A low-score detection sits closer to truth 0 than a high-score one: at a high threshold the
    # high-score detection must take truth 0.
    det = _points([[1, 0], [0.1, 0], [100, 0], [0, 100], [300, 300]],
                  score=[0.9, 0.1, 0.8, 0.7, 0.2])
    ev = evaluate_detections(det, truth, tolerance_nm=4, n_thresholds=10)
    pr = ev.pr_curve.set_index("threshold")
    assert pr.loc[0.1, "n_detected"] == 5 and pr.loc[0.1, "n_matched"] == 3
    high = pr.loc[pr.index >= 0.7]
    assert (high["n_matched"] == high["n_detected"]).all()  # precision 1 at >= 0.7
    assert ev.summary["best_f1"] == pytest.approx(2 * 3 / 7)
    assert 0.2 < ev.summary["best_threshold"] <= 0.7


def test_bad_tolerance_and_columns():
    with pytest.raises(InputError, match="tolerance"):
        evaluate_detections(_points(TRUTH_XY), _points(TRUTH_XY), tolerance_nm=0)
    with pytest.raises(InputError, match="x_nm"):
        evaluate_detections(_points(TRUTH_XY).drop(columns="x_nm"), _points(TRUTH_XY))
    with pytest.raises(InputError, match="no image in common"):
        evaluate_detections(_points(TRUTH_XY, image="x"), _points(TRUTH_XY, image="y"))


def test_large_image_matches_fast():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 20000, size=(100_000, 2))
    det = truth + rng.normal(0, 0.5, size=truth.shape)
    ev = evaluate_detections(_points(det), _points(truth), tolerance_nm=4, n_thresholds=2)
    assert ev.summary["recall"] > 0.99


def test_dimer_fraction_errors():
    analysis = pd.DataFrame({"cell": ["1", "2", "3"], "dimer_fraction": [0.3, 0.1, 0.5]})
    truth = pd.DataFrame({"cell": [1, 2, 4], "dimer_fraction": [0.25, 0.2, 0.0]})
    errors = dimer_fraction_errors(analysis, truth)
    assert errors["cell"].tolist() == ["1", "2"]
    assert errors["error"].tolist() == pytest.approx([0.05, -0.1])
    summary = summarize_dimer_fraction_errors(errors)
    assert summary["mae"] == pytest.approx(0.075) and summary["bias"] == pytest.approx(-0.025)
    with pytest.raises(InputError, match="no cell in common"):
        dimer_fraction_errors(analysis, truth.assign(cell=["7", "8", "9"]))
    with pytest.raises(InputError, match="dimer-fraction column"):
        dimer_fraction_errors(analysis.drop(columns="dimer_fraction"), truth)
    # The simulator's cell_truth.csv holds the configured dimer_fraction and the realised
    # receptor_paired_fraction: the estimate is scored against the realised one.
    realised = truth.assign(receptor_paired_fraction=[0.3, 0.15, 0.0])
    assert dimer_fraction_errors(analysis, realised)["error"].tolist() == pytest.approx([0.0, -0.05])
