"""The shipped replica specialist (``--checkpoint replicas``) on simulated freeze-fracture replicas."""

import numpy as np

from her2net.detect import detect
from her2net.evaluate import match_points
from her2net.model import checkpoint_path, load_model
from her2net.simulate import simulate_tile
from her2net.simulate.params import CLEAN_SCENE

PIXEL_SIZE_NM = 1.2


def _replicas(n_images=6, seed=4242):
    """Dark 6- and 12-nm gold among shadowed membrane particles at 0.3 of the gold's contrast."""
    return [simulate_tile(np.random.default_rng([seed, i]), 320, PIXEL_SIZE_NM, polarity="dark",
                          specimen="replica", label="gold", gold_diameters_nm=(6.0, 12.0),
                          matched_snr=30.0, particle_contrast=0.3)[:2] for i in range(n_images)]


def _pooled_f1(model, scenes):
    tp = fp = fn = 0
    for image, truth in scenes:
        found = detect(image, model=model, pixel_size_nm=PIXEL_SIZE_NM, polarity="dark",
                       device="cpu", precision="float32")
        pairs, _ = match_points(found[["x_px", "y_px"]].to_numpy() * PIXEL_SIZE_NM,
                                truth * PIXEL_SIZE_NM, tolerance=4.0)
        tp, fp, fn = tp + len(pairs), fp + len(found) - len(pairs), fn + len(truth) - len(pairs)
    return 2 * tp / max(2 * tp + fp + fn, 1)


def test_replicas_is_a_shipped_checkpoint_name():
    model = load_model("replicas")
    assert model.path == checkpoint_path("replicas") and model.path.name == "her2net-v1-replicas.pt"
    assert "freeze-fracture" in model.metadata["specialist"]
    assert model.noise_peak_rate is not None  # calibrated like the default one


def test_replica_specialist_finds_gold_among_membrane_particles_better(shipped_model):
    scenes = _replicas()
    assert sum(len(truth) for _, truth in scenes) > 100
    general, specialist = _pooled_f1(shipped_model, scenes), _pooled_f1(load_model("replicas"), scenes)
    assert specialist >= 0.88, specialist
    assert specialist > general + 0.02, (general, specialist)


def test_without_a_checkpoint_replicas_go_to_the_specialist_and_clean_images_do_not():
    from her2net.detect.api import detect_image

    replica, truth = _replicas(n_images=1)[0]
    table, info = detect_image(replica, pixel_size_nm=PIXEL_SIZE_NM, model=None, device="cpu")
    assert info["polarity"] == "dark" and info["checkpoint"] == "her2net-v1-replicas.pt"
    assert info["checkpoint_choice"].startswith("replica specialist")
    routed_scores = table["score"].to_numpy()
    alone, _ = detect_image(replica, pixel_size_nm=PIXEL_SIZE_NM, model="replicas", device="cpu")
    np.testing.assert_allclose(routed_scores, alone["score"].to_numpy(), atol=1e-5)

    rng = np.random.default_rng(5)  # dark gold on a clean, shot-noise background
    clean, _, _ = simulate_tile(rng, 256, 1.0, polarity="dark", specimen="liquid", label="gold",
                                matched_snr=20.0, **CLEAN_SCENE)
    _, info = detect_image(clean, pixel_size_nm=1.0, model=None, device="cpu")
    assert info["checkpoint"] == "her2net-v1.pt", info["checkpoint_choice"]
    bright = clean.max() + clean.min() - clean
    _, info = detect_image(bright, pixel_size_nm=1.0, model=None, device="cpu")
    assert info["polarity"] == "bright" and info["checkpoint"] == "her2net-v1.pt"


def test_a_named_checkpoint_is_never_rerouted():
    from her2net.detect.api import detect_image

    replica, _ = _replicas(n_images=1)[0]
    _, info = detect_image(replica, pixel_size_nm=PIXEL_SIZE_NM, model="default", device="cpu")
    assert info["checkpoint"] == "her2net-v1.pt" and info["checkpoint_choice"] == "as given"


def test_sparse_gold_on_a_strongly_shadowed_replica_is_found_dark_side_up():
    # Pt shadows twice the particle caps' contrast and 30 gold per um^2: un-inverted, the bright
    # shadows outnumber the gold, and the network alone calls every one of these images 'bright'
    # (it would then report hundreds of shadows). The shadowing rule keeps them dark.
    from her2net.detect.inference import get_runner
    from her2net.detect.polarity import decide_polarity

    default = load_model("default")
    runner = get_runner(default.net, device="cpu", precision="float32")
    tp = n_found = n_truth = 0
    for seed in range(6):
        image, truth, _ = simulate_tile(np.random.default_rng([seed, 21]), 768, 1.0,
                                        polarity="dark", specimen="replica", label="gold",
                                        gold_diameters_nm=(6.0, 12.0), matched_snr=30.0,
                                        density_per_um2=30.0, shadow_contrast=2.0)
        alone = decide_polarity(image, runner=runner, threshold=default.threshold)
        assert alone.polarity == "bright" and alone.score_bright > 5 * alone.score_dark
        found = detect(image, pixel_size_nm=1.0, polarity="auto", device="cpu",
                       precision="float32")
        info = found.attrs["her2net"]
        assert (info["polarity"], info["polarity_method"]) == ("dark", "shadowing"), info
        assert info["shadowing_index"] >= 6 and info["checkpoint"] == "her2net-v1-replicas.pt"
        pairs, _ = match_points(found[["x_px", "y_px"]].to_numpy(), truth, tolerance=4.0)
        tp, n_found, n_truth = tp + len(pairs), n_found + len(found), n_truth + len(truth)
    assert n_truth > 100
    assert tp / n_found >= 0.9 and tp / n_truth >= 0.55, (tp, n_found, n_truth)
