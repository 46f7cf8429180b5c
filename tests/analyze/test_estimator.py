"""The dimer-fraction estimator on patterns with known truth."""

import numpy as np
import pytest

from her2net.analyze import PairingLikelihood, Window, dimer_pattern, fit_fraction, fit_spacing


def _fit(pattern, window, spacing=(20.0, 4.0)):
    lik = PairingLikelihood([(pattern.points_nm, window)], r_min_nm=7.5, r_max_nm=40.0)
    return fit_fraction(lik, *spacing)


@pytest.fixture(scope="module")
def square():
    return Window(np.ones((500, 500), bool), pixel_size_nm=2.0)  # 1 µm²


def test_random_pattern_gives_a_dimer_fraction_near_zero(square):
    rng = np.random.default_rng(10)
    pattern = dimer_pattern(square, n_receptors=500, dimer_fraction=0.0, rng=rng)
    fit = _fit(pattern, square)
    assert fit.phi < 0.08
    assert fit.phi_low == 0.0
    assert fit.phi_high < 0.2


def test_only_dimers_gives_near_one(square):
    rng = np.random.default_rng(11)
    pattern = dimer_pattern(square, n_receptors=400, dimer_fraction=1.0, rng=rng)
    fit = _fit(pattern, square)
    assert fit.phi > 0.9
    assert fit.phi_low <= pattern.label_dimer_fraction + 0.02


def test_l_shaped_mask_is_not_biased():
    mask = np.zeros((600, 600), bool)
    mask[:, :150] = True
    mask[450:, :] = True
    window = Window(mask, pixel_size_nm=2.0)
    rng = np.random.default_rng(12)
    errors = []
    for _ in range(3):
        pattern = dimer_pattern(window, n_receptors=int(400 * window.area_um2), dimer_fraction=0.4, rng=rng)
        fit = _fit(pattern, window)
        errors.append(fit.phi - pattern.label_dimer_fraction)
        assert fit.phi_low <= pattern.label_dimer_fraction <= fit.phi_high
    assert abs(np.mean(errors)) < 0.04


def test_shared_spacing_is_recovered(square):
    rng = np.random.default_rng(13)
    liks = []
    for _ in range(2):
        pattern = dimer_pattern(square, n_receptors=400, dimer_fraction=0.6, spacing_nm=(24.0, 3.0), rng=rng)
        liks.append(PairingLikelihood([(pattern.points_nm, square)], r_min_nm=7.5, r_max_nm=40.0))
    mu, sigma = fit_spacing(liks)
    assert mu == pytest.approx(24.0, abs=2.0)
    assert sigma == pytest.approx(3.0, abs=1.5)


def test_hard_core_contact_peak():
    from her2net.analyze.estimator import _hard_core_g0

    lam = np.full(4, 600e-6)
    g0 = _hard_core_g0(np.array([5.0, 10.0, 15.0, 25.0]), lam, 10.0)
    lens_at_contact = 100.0 * (2 * np.pi / 3 - np.sqrt(3) / 2)
    assert g0[0] == 1.0 and g0[3] == 1.0
    assert g0[1] == pytest.approx(1 + 600e-6 * lens_at_contact)
    assert 1.0 < g0[2] < g0[1]
