"""Static figures drawn once: a figure whose inputs have not changed is copied, not drawn again.

A dataset page is rendered again when any of its examples changes, and its small multiples over
every example take seconds at a thousand examples, though a changed answer or metadata leaves
them as they were. Each figure function marked ``@reusable`` keys its output by everything that
draws it (the function, the code of the figure modules and matplotlib's version, and every
argument but where it is written); the files are kept in a cache folder beside the docs (in the
build folder ``atlas build`` owns), and a build that asks for the same key copies them. The cache
is used only inside ``figure_cache(folder)``, which collects the keys its figures used (a page
copied from the last build keeps its keys in the render state, so they survive the prune that
ends each build); without one, every figure is drawn. A folder is used (and pruned) only if it
is ours: we created it and left our marker file in it; inside it only entries named by a key
are ever removed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable

import numpy as np

_FOLDER: ContextVar[Path | None] = ContextVar("atlas_figure_cache", default=None)
_USED: ContextVar[list[str] | None] = ContextVar("atlas_figure_cache_used", default=None)
LISTING = "files.json"
MARKER = "ATLAS-FIGURE-CACHE"  # in a cache folder we created: none, and the folder is neither used nor pruned
ENTRY = re.compile(r"\.?[0-9a-f]{64}(\.[A-Za-z0-9_]+)?")  # a key, or a key's staging folder (.<key>.<random>)
FIGURE_CODE = ("figures.py", "colour_scale.py", "figure_cache.py")  # what draws a figure, beside this file


class _Unhashable(Exception):
    """An argument the key cannot describe: the figure is drawn (never a wrong reuse)."""


@contextlib.contextmanager
def figure_cache(folder: Path | None):
    """Figures drawn inside reuse those in ``folder`` (None: draw every one); yields the list of keys used."""
    used: list[str] = []
    token = _FOLDER.set(ours(Path(folder)) if folder is not None else None)
    used_token = _USED.set(used)
    try:
        yield used
    finally:
        _FOLDER.reset(token)
        _USED.reset(used_token)


def ours(folder: Path) -> Path | None:
    """The cache folder, created with our marker when missing; None when something else is there.

    Not safe to race: a second process can find the folder before its marker is written. A build
    therefore calls it once before its workers start (``render_docs``)."""
    try:
        folder.mkdir(parents=True)
        (folder / MARKER).write_text("Static figures kept by atlas build; safe to delete.\n", encoding="utf-8")
    except FileExistsError:
        pass
    except OSError:
        return None
    marked = not folder.is_symlink() and (folder / MARKER).is_file() and not (folder / MARKER).is_symlink()
    return folder if marked else None


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The figure code and matplotlib's version: a change to either draws every figure again."""
    import matplotlib

    digest = hashlib.sha256(matplotlib.__version__.encode())
    for name in FIGURE_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, functools.partial):
        _feed(digest, (value.func, value.args, value.keywords))
    elif isinstance(value, (str, int, float, bool, type(None), np.generic)):
        digest.update(f"{type(value).__name__}:{value!r}".encode())
    elif callable(value) and hasattr(value, "__qualname__"):
        digest.update(f"F{value.__module__}.{value.__qualname__}".encode())
    else:
        raise _Unhashable(type(value).__name__)


def figure_key(draw: Callable, arguments: dict[str, Any]) -> str | None:
    digest = hashlib.sha256(f"{draw.__module__}.{draw.__qualname__}|{code_version()}".encode())
    try:
        _feed(digest, arguments)
    except _Unhashable:
        return None
    return digest.hexdigest()


def reusable(draw: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Mark a figure function (one with a ``stem`` argument, returning the files it wrote) as reusable."""
    signature = inspect.signature(draw)

    @functools.wraps(draw)
    def drawn_or_copied(*args, **kwargs) -> list[Path]:
        folder = _FOLDER.get()
        if folder is None:
            return draw(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        stem = Path(bound.arguments.pop("stem"))
        key = figure_key(draw, bound.arguments)
        if key is None:
            return draw(*args, **kwargs)
        used = _USED.get()
        if used is not None:
            used.append(key)
        copied = _copy_out(folder / key, stem)
        if copied is not None:
            return copied
        written = draw(*args, **kwargs)
        _keep(folder / key, written)
        return written

    return drawn_or_copied


def _copy_out(entry: Path, stem: Path) -> list[Path] | None:
    try:
        suffixes = json.loads((entry / LISTING).read_text(encoding="utf-8"))
        stem.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for suffix in suffixes:
            target = stem.with_suffix(suffix)
            shutil.copyfile(entry / f"figure{suffix}", target)
            written.append(target)
        return written
    except (OSError, ValueError, TypeError):
        return None  # not cached, or a damaged entry: draw it


def _keep(entry: Path, written: list[Path]) -> None:
    """Store the files under ``entry``, whole or not at all (a temporary folder renamed into place)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        for path in written:
            shutil.copyfile(path, staging / f"figure{path.suffix}")
        (staging / LISTING).write_text(json.dumps([path.suffix for path in written]), encoding="utf-8")
        os.rename(staging, entry)
    except OSError:  # another process kept the same figure first, or the disk said no: the figure is drawn anyway
        shutil.rmtree(staging, ignore_errors=True)


def prune(folder: Path, keep: set[str]) -> None:
    """Remove the entries whose key is not in ``keep`` (the keys the site's pages use, drawn now or copied
    with their page), and what a killed build left; only in a folder of ours, only folders named by a key."""
    if not folder.is_dir() or ours(folder) is None:
        return
    for entry in folder.iterdir():
        if not ENTRY.fullmatch(entry.name) or (entry.name in keep):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)

