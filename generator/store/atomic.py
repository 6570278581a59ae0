"""The one way we write to disk: into a temporary sibling, then an atomic rename.

A crash or a validation error part-way never leaves a half-written file or directory where
a reader (or a later build) would pick it up, and whatever was there before survives. Inside a
folder that is itself built that way (``replace_directory``), new files are written directly
(``write_into_staging``): the folder is the temporary sibling.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# mkstemp/mkdtemp create private (0600/0700) entries; give results the usual permissions.
FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_into_staging(path: Path, text: str) -> None:
    """Write a new file into a folder that is itself being built (``replace_directory``'s temporary folder):
    that folder is swapped in whole or removed, so the file needs no temporary sibling of its own. A file
    already there is never written through (it may be a link to the last build's): it is replaced whole."""
    path = Path(path)
    try:
        handle = open(path, "x", encoding="utf-8")  # the folder is made only when missing: a thousand pages
    except FileNotFoundError:                       # share one, and each mkdir is a system call
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "x", encoding="utf-8")
    except FileExistsError:
        atomic_write_text(path, text)
        return
    with handle:
        handle.write(text)


def link_or_copy(source: Path | str, target: Path | str) -> None:
    """``target`` as a hard link to ``source`` where the file system allows one, else a copy (times kept).

    Safe only between files that are replaced whole, never changed in place (every file we write):
    then a link is as good as a copy. ``target`` must not exist yet."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def replace_directory(path: Path, fill: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """Build a directory with ``fill(tmp)`` and swap it in place of ``path`` only on success.

    The temporary folder is ``.<name>.<random><suffix>`` beside ``path``; one that a killed
    process left is removed by ``remove_stale`` on the next run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent))
    try:
        os.chmod(tmp, DIR_MODE)
        fill(tmp)
        swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_in(new: Path, path: Path) -> None:
    """``new`` takes the place of ``path``; the old one is moved into a fresh folder of ours, then removed.

    The aside folder is made here (``.<name>.<random>.old``), so no folder of anyone else's is
    ever removed; one a killed process left is removed by ``remove_stale``.
    """
    aside = None
    if path.exists() or path.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, aside / path.name)
    os.replace(new, path)
    if aside is not None:
        shutil.rmtree(aside)


class OutsideOwnedFolderError(ValueError):
    """A path that would leave the folder a command owns; nothing was written."""


def owned_path(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refused unless it (through any link) stays inside ``root``.

    Every page and figure of a build is written through here or through paths made from
    checked names, so no name read from a run can place a file elsewhere.
    """
    root = Path(root)
    path = root / relative
    resolved_root = os.path.realpath(root)  # strings: Path.resolve costs more than the write (a thousand pages)
    target = os.path.realpath(path)
    if not target.startswith(os.path.join(resolved_root, "")):
        raise OutsideOwnedFolderError(f"{relative}: would be written outside {root} (to {target}); nothing was written")
    return path


def remove_stale(folder: Path, pattern: str) -> None:
    """Temporary folders a killed command of ours left in ``folder`` (ours by their dotted names)."""
    for stale in Path(folder).glob(pattern):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
