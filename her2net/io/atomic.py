"""Write outputs so that a failure leaves nothing half-written.

Files and folders are written under a temporary sibling name and renamed into place only when the
work succeeded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from her2net.errors import InputError

__all__ = ["atomic_write", "atomic_output_dir", "check_output_dir", "check_output_file"]


@contextlib.contextmanager
def atomic_write(path, *, mode: str = "w", **open_kwargs):
    """Open a temporary file beside ``path`` and move it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or Path
        Final file path.
    mode : {'w', 'wb'}
        Open mode of the temporary file.

    Yields
    ------
    file object
        Writable file; on an exception it is deleted and ``path`` is left untouched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: the folder {parent} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write in {parent} ({exc.strerror or exc})") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600
    try:
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def check_output_dir(path, *, overwrite: bool = False) -> Path:
    """Check that ``path`` can become an output folder; return it as a Path.

    Raises
    ------
    InputError
        If ``path`` is a file, a non-empty folder (unless ``overwrite``), or its parent is missing
        or not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{path}: folder is not empty (use --overwrite to replace it)")
    _check_parent(path)
    return path


def check_output_file(path) -> Path:
    """Check, before any work, that a file can be written at ``path``; return it as a Path.

    Raises
    ------
    InputError
        If ``path`` is a folder, or its folder is missing or not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file name")
    _check_parent(path)
    return path


def _check_parent(path: Path) -> None:
    """The folder that will hold ``path`` exists and takes a file (permissions, read-only mounts:
    a temporary file is created and removed there)."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{path}: the folder {parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(prefix=f".{path.name}.", suffix=".probe", dir=parent):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot write in {parent} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def atomic_output_dir(path, *, overwrite: bool = False):
    """Build an output folder under a temporary name and rename it to ``path`` on success.

    Parameters
    ----------
    path : str or Path
        Final folder. An existing empty folder is replaced; a non-empty one only with
        ``overwrite=True``.
    overwrite : bool
        Replace an existing non-empty folder.

    Yields
    ------
    Path
        The temporary folder to write into. On an exception it is removed and ``path`` is left as
        it was.
    """
    path = check_output_dir(path, overwrite=overwrite)
    parent = path.resolve().parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=parent))
    except OSError as exc:
        raise InputError(f"{path}: cannot write in {parent} ({exc.strerror or exc})") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; give the folder the usual permissions
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.rename(path, old / "x")
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
