"""Tests of the random-field and splatting helpers."""

import numpy as np
import pytest

from her2net.simulate.fields import sample_grid, smooth_field
from her2net.simulate.splat import splat


@pytest.mark.parametrize("corr_px", [0.5, 1.0, 2.5, 7.0, 40.0])
@pytest.mark.parametrize("shape", [(5, 7), (33, 20), (64, 64)])
def test_smooth_field_shape_and_normalisation(shape, corr_px):
    field = smooth_field(np.random.default_rng(0), shape, corr_px=corr_px)
    assert field.shape == shape
    assert abs(field.mean()) < 1e-6 and field.std() == pytest.approx(1.0, rel=1e-6)


def test_sample_grid_is_bilinear():
    field = np.arange(12, dtype=float).reshape(3, 4)  # value = 4 * row + col
    out = sample_grid(field, np.array([0.0, 0.5, 2.0]), np.array([0.0, 1.25, 3.0]))
    rows, cols = np.meshgrid([0.0, 0.5, 2.0], [0.0, 1.25, 3.0], indexing="ij")
    assert np.allclose(out, 4 * rows + cols)


def test_splat_total_and_centre_of_mass():
    image = np.zeros((40, 50))
    splat(image, [20.3], [15.7], a=4.0, b=2.5, angle=0.6, amp=1.0, k=1e-3)
    yy, xx = np.mgrid[0:40, 0:50]
    total = image.sum()
    # A thin ellipsoid: projected thickness integrates to (2/3) * pi * a * b * k.
    assert total == pytest.approx(2 / 3 * np.pi * 4.0 * 2.5 * 1e-3, rel=0.03)
    assert (image * xx).sum() / total == pytest.approx(20.3, abs=0.02)
    assert (image * yy).sum() / total == pytest.approx(15.7, abs=0.02)
