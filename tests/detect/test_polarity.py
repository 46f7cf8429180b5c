"""The run's polarity (her2net.detect.polarity.run_polarity) from per-image decisions."""

import pytest

from her2net.detect.polarity import PolarityDecision, run_polarity


def _weak(polarity, bright, dark, method="network"):
    return PolarityDecision(polarity, method, bright, dark, bright, dark)


def test_weak_images_pool_their_network_evidence():
    run = run_polarity([_weak("dark", 0.1, 6.1), _weak("bright", 0.8, 0.5),
                        _weak("bright", 0.3, 0.4, method="skewness"), _weak("dark", 0.2, 6.8)])
    assert (run.polarity, run.method) == ("dark", "run")
    assert run.score_bright == pytest.approx(1.4) and run.score_dark == pytest.approx(13.8)


def test_no_run_polarity_on_weak_or_even_evidence():
    assert run_polarity([_weak("dark", 0.1, 6.1)]) is None  # under ~15 confident peaks
    assert run_polarity([_weak("dark", 8.0, 10.0), _weak("bright", 9.0, 5.0)]) is None  # 17 vs 15
    assert run_polarity([]) is None
    assert run_polarity([PolarityDecision("dark", "given")]) is None


def test_clear_images_that_disagree_make_a_mixed_run_without_a_polarity():
    stem = _weak("bright", 400.0, 1.0)  # ADF STEM, clear on its own
    tem = _weak("dark", 0.5, 30.0)  # bright-field, clear on its own
    assert stem.confident and tem.confident
    assert run_polarity([stem, tem, _weak("bright", 1.0, 0.5)]) is None
    # A clear image outvoted by pooled weak evidence: no run polarity either.
    assert run_polarity([_weak("dark", 0.0, 11.0)] + [_weak("bright", 5.0, 0.0)] * 6) is None
    assert run_polarity([stem, _weak("dark", 0.5, 3.0)]).polarity == "bright"


def test_decisions_without_a_network_carry_no_network_evidence():
    import numpy as np

    from her2net.detect.polarity import decide_polarity

    image = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    decision = decide_polarity(image)
    assert decision.method == "skewness" and not decision.confident
    assert np.isnan(decision.network_bright) and np.isnan(decision.network_dark)
    assert run_polarity([decision] * 5) is None
    described = PolarityDecision("dark", "run", 1.0, 20.0, 0.5, 0.4).describe()
    assert "by the run" in described and "bright 0.5 vs dark 0.4" in described


def test_a_shadowed_replica_is_dark_whatever_the_network_says_and_stays_out_of_the_pool():
    import numpy as np

    from her2net.detect.polarity import decide_polarity

    image = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    shadowed = decide_polarity(image, shadowed=True)
    assert (shadowed.polarity, shadowed.method) == ("dark", "shadowing") and shadowed.confident
    assert decide_polarity(image, polarity="bright", shadowed=True).polarity == "bright"  # given
    assert "reversed print" in PolarityDecision("dark", "shadowing", 30.0, 1.0, 30.0,
                                                1.0).describe()
    # Replicas whose bright Pt shadows gave the network 'bright' evidence: that evidence is not
    # pooled, and a shadowed replica is a clear 'dark' vote against a 'bright' run.
    fooled = PolarityDecision("dark", "shadowing", 30.0, 1.0, 30.0, 1.0)
    assert run_polarity([fooled] * 3) is None
    assert run_polarity([fooled, _weak("dark", 0.5, 4.0), _weak("dark", 0.5, 8.0)]).polarity == "dark"
    assert run_polarity([fooled, _weak("bright", 9.0, 0.5), _weak("bright", 8.0, 0.5)]) is None
