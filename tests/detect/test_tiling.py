import numpy as np
import pytest

from her2net.detect.tiling import plan_tiles, reflect_window, tile_margin_px


@pytest.mark.parametrize("shape", [(100, 173), (16, 16), (257, 64)])
def test_cores_cover_every_pixel_once(shape):
    tiles = plan_tiles(shape, tile_px=96, margin_px=32, size_multiple=16)
    count = np.zeros(shape, int)
    for t in tiles:
        count[t.core_rows[0]:t.core_rows[1], t.core_cols[0]:t.core_cols[1]] += 1
        assert t.window_rows[0] % 16 == 0 and t.window_cols[0] % 16 == 0
        assert t.window_shape[0] % 16 == 0 and t.window_shape[1] % 16 == 0
        assert t.window_shape[0] <= 96 and t.window_shape[1] <= 96
        # A full margin inside the image, none beyond its near edges.
        assert t.core_rows[0] - t.window_rows[0] == min(32, t.core_rows[0])
        assert t.core_cols[0] - t.window_cols[0] == min(32, t.core_cols[0])
        assert t.window_rows[1] - t.core_rows[1] == min(32, -(-shape[0] // 16) * 16 - t.core_rows[1])
        assert t.window_rows[0] >= 0 and t.window_rows[1] < shape[0] + 16
    assert (count == 1).all()


def test_one_tile_when_the_image_fits():
    tiles = plan_tiles((300, 200), tile_px=400, margin_px=32, size_multiple=16)
    assert len(tiles) == 1
    assert tiles[0].window_rows == (0, 304) and tiles[0].window_cols == (0, 208)


def test_margin_covers_half_the_receptive_field():
    margin = tile_margin_px(178, size_multiple=16, halo_px=6)
    assert margin % 16 == 0 and margin >= 89 + 6


def test_reflect_window_matches_numpy_pad():
    image = np.arange(12 * 9, dtype=np.float32).reshape(12, 9)
    padded = np.pad(image, 20, mode="reflect")
    window = reflect_window(image, (-20, 12 + 20), (-20, 9 + 20))
    np.testing.assert_array_equal(window, padded)
    np.testing.assert_array_equal(reflect_window(image, (2, 5), (1, 4)), image[2:5, 1:4])
