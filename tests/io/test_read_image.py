"""Round trips of every supported format and pixel-size unit, and each bad input."""

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from her2net.errors import InputError
from her2net.io import read_image, write_tiff


def _pattern(dtype=np.uint16, shape=(24, 32)):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    hi = min(info.max, 5000) if info else 1.0
    lo = max(info.min, -100) if info else -0.5
    return rng.uniform(lo, hi, shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_write_tiff_round_trip_keeps_data_and_exact_pixel_size(tmp_path, dtype):
    data = _pattern(dtype)
    path = tmp_path / "a.tif"
    write_tiff(path, data, pixel_size_nm=0.8137)
    image = read_image(path)
    assert image.pixel_size_nm == 0.8137
    assert image.original_dtype == np.dtype(dtype).name
    assert image.data.dtype == np.float32
    np.testing.assert_array_equal(image.data, data.astype(np.float32))


@pytest.mark.parametrize(
    "unit, units_per_pixel, expected_nm",
    [
        ("nm", 1.5, 1.5),
        ("um", 0.002, 2.0),
        ("\\u00b5m", 0.0025, 2.5),
        ("\\u00B5m", 0.0012, 1.2),
        ("micron", 0.0008, 0.8),
        ("\\u00C5", 12.0, 1.2),
        ("A", 7.0, 0.7),
        ("m", 1.25e-9, 1.25),
        ("cm", 3e-7, 3.0),
    ],
)
def test_imagej_units_convert_to_nm(tmp_path, unit, units_per_pixel, expected_nm):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _pattern(), imagej=True,
                     resolution=(1 / units_per_pixel, 1 / units_per_pixel), metadata={"unit": unit})
    assert read_image(path).pixel_size_nm == pytest.approx(expected_nm, rel=1e-5)


@pytest.mark.parametrize("unit, per_unit, expected_nm",
                         [("INCH", 2.54e7 / 1.6, 1.6), ("CENTIMETER", 1e7 / 0.9, 0.9)])
def test_resolution_tags_alone(tmp_path, unit, per_unit, expected_nm):
    path = tmp_path / "res.tif"
    tifffile.imwrite(path, _pattern(), resolution=(per_unit, per_unit), resolutionunit=unit,
                     description="plain", metadata=None)
    assert read_image(path).pixel_size_nm == pytest.approx(expected_nm, rel=1e-6)


def test_json_description_pixel_size(tmp_path):
    path = tmp_path / "json.tif"
    tifffile.imwrite(path, _pattern(), description=json.dumps({"pixel_size_nm": 0.655}), metadata=None)
    assert read_image(path).pixel_size_nm == 0.655


def test_no_pixel_size_is_none_and_override_wins(tmp_path):
    path = tmp_path / "bare.tif"
    tifffile.imwrite(path, _pattern(), metadata=None)
    assert read_image(path).pixel_size_nm is None
    write_tiff(path, _pattern(), pixel_size_nm=2.0)
    assert read_image(path, pixel_size_nm=0.5).pixel_size_nm == 0.5


@pytest.mark.parametrize("mode, dtype", [("L", np.uint8), ("I;16", np.uint16)])
def test_png_grey(tmp_path, mode, dtype):
    data = _pattern(dtype)
    path = tmp_path / "g.png"
    Image.fromarray(data).save(path)
    image = read_image(path)
    np.testing.assert_array_equal(image.data, data.astype(np.float32))
    assert image.pixel_size_nm is None


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_rgb_becomes_grey(tmp_path, suffix):
    grey = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (24, 1))
    rgb = np.stack([grey] * 3, axis=-1)
    path = tmp_path / f"c{suffix}"
    Image.fromarray(rgb).save(path, quality=100) if suffix == ".jpg" else Image.fromarray(rgb).save(path)
    image = read_image(path)
    assert image.data.shape == grey.shape
    np.testing.assert_allclose(image.data, grey, atol=3)


def test_mrc_pixel_size_from_voxel_size(tmp_path):
    mrcfile = pytest.importorskip("mrcfile")
    path = tmp_path / "a.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(_pattern(np.float32))
        mrc.voxel_size = 14.0  # Å
    assert read_image(path).pixel_size_nm == pytest.approx(1.4)


def test_stack_needs_frame(tmp_path):
    path = tmp_path / "stack.tif"
    stack = np.stack([_pattern() + i for i in range(5)])
    tifffile.imwrite(path, stack)
    with pytest.raises(InputError, match=r"stack\.tif: is a stack of shape \(5, 24, 32\).*--frame"):
        read_image(path)
    np.testing.assert_array_equal(read_image(path, frame=2).data, stack[2].astype(np.float32))
    with pytest.raises(InputError, match="--frame 5 is out of range"):
        read_image(path, frame=5)


def test_multichannel_needs_channel(tmp_path):
    path = tmp_path / "chan.tif"
    data = np.stack([_pattern(), _pattern() + 7])
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "CYX"})
    with pytest.raises(InputError, match="multi-channel.*--channel"):
        read_image(path)
    np.testing.assert_array_equal(read_image(path, channel=1).data, data[1].astype(np.float32))


# ---- bad input: one line naming the file and the problem ---------------------------------

def _truncated(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    return path


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda d: d / "missing.tif", "missing.tif: no such file"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "empty.tif").write_bytes(b"") and d / "empty.tif" or d / "empty.tif", "empty.tif: file is empty"),
        (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "notes.txt: unsupported file type '.txt'"),
        (lambda d: (d / "junk.tif").write_bytes(b"II*\x00garbage" * 3) and d / "junk.tif", "junk.tif: cannot read TIFF"),
        (lambda d: (d / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nxx") and d / "junk.png", "junk.png: cannot read image"),
    ],
)
def test_bad_files(tmp_path, make, pattern):
    path = make(tmp_path)
    with pytest.raises(InputError, match=pattern) as info:
        read_image(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg"])
def test_truncated_files(tmp_path, suffix):
    data = _pattern(np.uint8, (64, 64))

    def writer(path):
        if suffix == ".tif":
            tifffile.imwrite(path, data)
        else:
            Image.fromarray(data).save(path)

    path = _truncated(tmp_path, f"cut{suffix}", writer)
    with pytest.raises(InputError, match=f"cut\\{suffix}: cannot read"):
        read_image(path)


def test_all_nan_and_constant_images(tmp_path):
    nan = tmp_path / "nan.tif"
    write_tiff(nan, np.full((16, 16), np.nan, np.float32), pixel_size_nm=1)
    with pytest.raises(InputError, match="nan.tif: all pixels are NaN"):
        read_image(nan)
    flat = tmp_path / "flat.tif"
    write_tiff(flat, np.full((16, 16), 7, np.uint16), pixel_size_nm=1)
    with pytest.raises(InputError, match="flat.tif: image is constant"):
        read_image(flat)


def test_not_2d(tmp_path):
    path = tmp_path / "line.tif"
    tifffile.imwrite(path, np.arange(100, dtype=np.uint16))
    with pytest.raises(InputError, match="line.tif: "):
        read_image(path)


@pytest.mark.parametrize("value, pattern", [(0, "must be > 0"), (-1, "must be > 0"), (5000, "absurd")])
def test_bad_pixel_sizes(tmp_path, value, pattern):
    path = tmp_path / "ok.tif"
    write_tiff(path, _pattern(), pixel_size_nm=1.0)
    with pytest.raises(InputError, match=pattern):
        read_image(path, pixel_size_nm=value)


def test_absurd_pixel_size_in_file_names_the_file(tmp_path):
    path = tmp_path / "dpi72.tif"
    tifffile.imwrite(path, _pattern(), resolution=(72, 72), resolutionunit="INCH", metadata=None)
    with pytest.raises(InputError, match="dpi72.tif: stored.*absurd"):
        read_image(path)
    assert read_image(path, pixel_size_nm=1.0).pixel_size_nm == 1.0
