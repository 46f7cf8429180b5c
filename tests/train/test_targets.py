import numpy as np
import pytest

pytest.importorskip("albumentations")  # the train extra (installed by make test)

from train.augment import apply_augmentation, build_augmentation  # noqa: E402
from train.datasets import SyntheticTiles  # noqa: E402
from train.targets import make_targets  # noqa: E402


def test_target_weights_set_peak_heights_and_drop_zero_weight_labels():
    points = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 30.0]])
    heatmap, offsets, mask = make_targets(points, (40, 40), weights=[1.0, 0.5, 0.0])
    assert heatmap[10, 10] == 1.0
    assert heatmap[12, 30] == pytest.approx(0.5)
    assert heatmap[27:34, 17:24].max() == 0 and mask[27:34, 17:24].max() == 0
    assert (heatmap == 1.0).sum() == 1  # the faint label has no positive pixel
    full, _, _ = make_targets(points, (40, 40))
    assert (full == 1.0).sum() == 3


def _signature(p):
    d = np.linalg.norm(p[:, None] - p[None], axis=2)
    return d.sum(axis=1)


def test_weights_travel_with_their_points_through_augmentation():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(64, 64)).astype(np.float32)
    # The last point lies beyond the padding margin: it and its weight are dropped.
    points = np.array([[5.0, 5.0], [20.0, 8.0], [58.0, 58.0], [-6.0, 30.0]])
    weights = np.array([0.1, 0.6, 1.0, 0.33])
    pipeline = build_augmentation("synthetic")  # the eight symmetries of the square
    for seed in range(8):
        np.random.seed(seed)
        _, moved, moved_weights = apply_augmentation(pipeline, image, points, weights)
        assert len(moved) == len(moved_weights) == 3
        # Symmetries keep distances: match the points by their summed distance to the other
        # two, which differs for each of the three.
        order = np.argsort(_signature(moved))
        expected = np.argsort(_signature(points[:3]))
        assert np.allclose(moved_weights[order], weights[expected])


def test_faint_labels_get_low_target_weights():
    tiles = SyntheticTiles(length=4, tile_px=96, pixel_size_nm=1.0, seed=3, augmentation="none",
                           faint_snr=(2.0, 4.0),
                           simulator_overrides={"matched_snr": 3.0, "label": "gold",
                                                "gold_diameters_nm": (6.0, 18.0)})
    weights = []
    for i in range(4):
        _, points, meta = tiles.tile(i)
        assert len(meta["target_weights"]) == len(points)
        weights.append(meta["target_weights"])
    weights = np.concatenate(weights)
    # The 6-nm gold sits at matched SNR ~3 (partly taught); 18-nm gold is far brighter (taught).
    assert weights.min() < 0.8 and weights.max() == 1.0


@pytest.mark.parametrize("polarity", ["bright", "dark"])
def test_wrong_polarity_tiles_are_inverted_and_have_no_labels(polarity):
    fixed = {"polarity": polarity, "label": "gold", "density_per_um2": 800.0, "matched_snr": 30.0}

    def tiles(wrong):
        component = {"weight": 1.0, "overrides": fixed, "wrong_polarity": wrong}
        return SyntheticTiles(length=1, tile_px=96, pixel_size_nm=1.0, seed=5, augmentation="none",
                              percentile_jitter=0.0, simulator_mixture=[component])

    right, points, meta = tiles(False).tile(0)
    wrong, no_points, wrong_meta = tiles(True).tile(0)
    assert len(points) > 3 and not meta["wrong_polarity"]
    assert len(no_points) == 0 and len(wrong_meta["target_weights"]) == 0
    assert wrong_meta["wrong_polarity"]
    # The same scene, the other way round: labels bright in one, dark in the other.
    assert np.corrcoef(right.ravel(), wrong.ravel())[0, 1] < -0.95
