"""Isolated hot pixels are replaced; labels, Poisson counts and saturation are not touched."""

import numpy as np

from her2net.detect.spikes import remove_spikes


def test_isolated_far_out_pixels_are_replaced_and_nothing_else(rng):
    image = rng.normal(1000, 20, (600, 500)).astype(np.float32)
    yy, xx = np.mgrid[:600, :500]
    for y, x, amp in ((100, 100, 3000), (300, 250, 800), (500, 400, 5000)):  # labels, 2-6 px
        sigma = 0.8 if amp == 3000 else 2.0
        image += amp * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma ** 2))
    hot = [(50, 60), (450, 20), (599, 499), (0, 0)]
    spiked = image.copy()
    for y, x in hot:
        spiked[y, x] = 60000
    spiked[200, 300] = spiked[200, 301] = 60000  # two touching hot pixels: not isolated, kept
    fixed, n = remove_spikes(spiked)
    assert n == len(hot)
    for y, x in hot:
        assert abs(fixed[y, x] - 1000) < 100
    keep = np.ones_like(image, bool)
    for y, x in hot:
        keep[y, x] = False
    np.testing.assert_array_equal(fixed[keep], spiked[keep])  # labels untouched, even a 2-px one

    counts = rng.poisson(0.3, (500, 500)).astype(np.float32)  # photon counting: all data
    assert remove_spikes(counts)[1] == 0
    saturated = np.clip(rng.normal(200, 30, (300, 300)), 0, 255).astype(np.float32)
    assert remove_spikes(saturated)[1] == 0
