"""Reading micrographs, manifests and masks; writing outputs safely."""

from her2net.io._tiff import write_tiff
from her2net.io.atomic import atomic_output_dir, atomic_write, check_output_dir, check_output_file
from her2net.io.image import SUPPORTED_EXTENSIONS, MicrographImage, read_image
from her2net.io.manifest import MANIFEST_COLUMNS, read_manifest
from her2net.io.pixel_size import check_pixel_size_nm, to_nm
from her2net.io.tables import read_csv_file

__all__ = [
    "MicrographImage",
    "read_image",
    "write_tiff",
    "read_manifest",
    "MANIFEST_COLUMNS",
    "SUPPORTED_EXTENSIONS",
    "atomic_output_dir",
    "atomic_write",
    "check_output_dir",
    "check_output_file",
    "check_pixel_size_nm",
    "to_nm",
    "read_csv_file",
]
