"""The cells manifest: paths resolved, empty masks are None, bad rows named."""

import pandas as pd
import pytest

from her2net.errors import InputError
from her2net.io import read_manifest


def test_paths_resolved_relative_to_manifest_and_empty_masks_are_none(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "cells.csv"
    pd.DataFrame({"image": ["a.tif", "/abs/b.tif"], "cell": [1, 2], "pixel_size_nm": [1.0, 0.8],
                  "mask": ["masks/a_mask.tif", ""]}).to_csv(path, index=False)
    table = read_manifest(path)
    assert table["image_path"][0] == (tmp_path / "sub" / "a.tif").resolve()
    assert str(table["image_path"][1]) == "/abs/b.tif"
    assert table["mask_path"][0] == (tmp_path / "sub" / "masks" / "a_mask.tif").resolve()
    assert table["mask"][1] is None and table["mask_path"][1] is None
    assert table["cell"].tolist() == ["1", "2"]


def test_manifest_without_mask_column(tmp_path):
    path = tmp_path / "cells.csv"
    pd.DataFrame({"image": ["a.tif"], "cell": ["c"], "pixel_size_nm": [1.0]}).to_csv(path, index=False)
    assert read_manifest(path)["mask_path"].tolist() == [None]


@pytest.mark.parametrize("frame, pattern", [
    ({"image": ["a.tif"], "cell": ["c"]}, "lacks column.*pixel_size_nm"),
    ({"image": ["a.tif"], "cell": ["c"], "pixel_size_nm": ["big"]}, "line 2: pixel_size_nm 'big' is not a number"),
    ({"image": ["a.tif"], "cell": ["c"], "pixel_size_nm": [0]}, "line 2: pixel size must be > 0"),
    ({"image": ["a.tif", "a.tif"], "cell": ["c", "d"], "pixel_size_nm": [1, 1]}, "listed twice"),
])
def test_bad_manifests(tmp_path, frame, pattern):
    path = tmp_path / "cells.csv"
    pd.DataFrame(frame).to_csv(path, index=False)
    with pytest.raises(InputError, match=pattern):
        read_manifest(path)
