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

The same folder keeps three more things a rebuild would otherwise make again: interactive plots'
documents (``@reusable_item``: a Bokeh ``json_item`` as JSON, keyed by its arguments, the plot
code and Bokeh's version; only for dataset pages, ``figure_cache(folder, items=True)``), Jinja's
compiled templates (``template_bytecode``, in its ``jinja/`` folder; Jinja checks each against
its template's source), and what a dataset page read of its run (``kept_folder``; the files are
``store/kept_reads.py``'s). The folder is trusted as the build's own: compiled templates run as
code and kept reads are unpickled.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
_ITEMS: ContextVar[bool] = ContextVar("atlas_figure_cache_items", default=False)
LISTING = "files.json"
ITEM = "item.json"  # a reusable interactive plot's document, in its entry folder
MARKER = "ATLAS-FIGURE-CACHE"  # in a cache folder we created: none, and the folder is neither used nor pruned
ENTRY = re.compile(r"\.?[0-9a-f]{64}(\.[A-Za-z0-9_]+)?")  # a key, or a key's staging folder (.<key>.<random>)
FIGURE_CODE = ("figures.py", "colour_scale.py", "figure_cache.py")  # what draws a figure, beside this file
ITEM_CODE = ("plots.py", "colour_scale.py", "figure_cache.py")  # what makes an interactive plot's document


class _Unhashable(Exception):
    """An argument the key cannot describe: the figure is drawn (never a wrong reuse)."""


@contextlib.contextmanager
def figure_cache(folder: Path | None, items: bool = False):
    """Figures drawn inside reuse those in ``folder`` (None: draw every one); yields the list of keys used.

    ``items``: interactive plots' documents (``@reusable_item``) are reused too; asked for by pages that
    a changed example renders again (dataset pages), not by the example pages themselves (one use each)."""
    used: list[str] = []
    token = _FOLDER.set(ours(Path(folder)) if folder is not None else None)
    used_token = _USED.set(used)
    items_token = _ITEMS.set(items)
    try:
        yield used
    finally:
        _FOLDER.reset(token)
        _USED.reset(used_token)
        _ITEMS.reset(items_token)


def kept_folder(name: str) -> Path | None:
    """Inside ``figure_cache``: a folder of ours for what a page keeps besides figures (a dataset page's run reads,
    ``store/kept_reads.py``), named by a key of ``name`` and counted as used, so the prune keeps it while the page
    is in the site (drawn or copied); None without a cache folder."""
    folder = _FOLDER.get()
    if folder is None:
        return None
    key = hashlib.sha256(f"kept|{name}".encode()).hexdigest()
    used = _USED.get()
    if used is not None:
        used.append(key)
    entry = folder / key
    try:
        entry.mkdir(exist_ok=True)
    except OSError:
        return None
    return None if entry.is_symlink() or not entry.is_dir() else entry


def cache_folder(docs_dir: Path) -> Path:
    """The build's cache beside its docs folder (in the build folder ``atlas build`` owns)."""
    return Path(docs_dir).parent / f".{Path(docs_dir).name}.figures"


def template_bytecode(folder: Path | None):
    """Jinja's compiled templates kept under ``folder`` (a cache of ours, see ``ours``), so that a build loads
    what an earlier one compiled (Jinja checks each against its template's source); None: compile each."""
    from jinja2 import FileSystemBytecodeCache

    if folder is None or ours(Path(folder)) is None:
        return None
    compiled = Path(folder) / "jinja"
    try:
        compiled.mkdir(exist_ok=True)
    except OSError:
        return None
    return None if compiled.is_symlink() or not compiled.is_dir() else FileSystemBytecodeCache(str(compiled))


def ours(folder: Path) -> Path | None:
    """The cache folder, created with our marker when missing; None when something else is there.

    Not safe to race: a second process can find the folder before its marker is written. A build
    therefore calls it once before its workers start (``render_docs``)."""
    try:
        folder.mkdir(parents=True)
        (folder / MARKER).write_text("Kept by atlas build to skip work done before (figures, plot documents, compiled "
                                     "templates); safe to delete.\n", encoding="utf-8")
    except FileExistsError:
        pass
    except OSError:
        return None
    marked = not folder.is_symlink() and (folder / MARKER).is_file() and not (folder / MARKER).is_symlink()
    return folder if marked else None


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The figure code and matplotlib's installed version: a change to either draws every figure again (read
    without importing matplotlib, which a build whose figures are all kept need not do)."""
    from importlib import metadata

    return _version_of(metadata.version("matplotlib"), FIGURE_CODE)


@functools.lru_cache(maxsize=1)
def item_code_version() -> str:
    """The plot code and Bokeh's installed version (read without importing Bokeh, which is what reuse saves)."""
    from importlib import metadata

    return _version_of(metadata.version("bokeh"), ITEM_CODE)


def _version_of(library_version: str, code_files: tuple[str, ...]) -> str:
    digest = hashlib.sha256(library_version.encode())
    for name in code_files:
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
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):  # a record (a mean with its interval)
        digest.update(f"R{type(value).__module__}.{type(value).__qualname__}".encode())
        _feed(digest, [getattr(value, field.name) for field in dataclasses.fields(value)])
    elif isinstance(value, functools.partial):
        _feed(digest, (value.func, value.args, value.keywords))
    elif isinstance(value, (str, int, float, bool, type(None), np.generic)):
        digest.update(f"{type(value).__name__}:{value!r}".encode())
    elif callable(value) and hasattr(value, "__qualname__"):
        digest.update(f"F{value.__module__}.{value.__qualname__}".encode())
    else:
        raise _Unhashable(type(value).__name__)


def figure_key(draw: Callable, arguments: dict[str, Any], version: Callable[[], str] = code_version) -> str | None:
    digest = hashlib.sha256(f"{draw.__module__}.{draw.__qualname__}|{version()}".encode())
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


def reusable_item(make: Callable[..., dict]) -> Callable[..., dict]:
    """Mark a function returning a plot's JSON document (a Bokeh ``json_item``) as reusable: kept as JSON under
    its key, so that a page rendered again with the same plot needs neither Bokeh nor the drawing."""
    signature = inspect.signature(make)

    @functools.wraps(make)
    def made_or_read(*args, **kwargs) -> dict:
        folder = _FOLDER.get()
        if folder is None or not _ITEMS.get():
            return make(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = figure_key(make, bound.arguments, item_code_version)
        if key is None:
            return make(*args, **kwargs)
        used = _USED.get()
        if used is not None:
            used.append(key)
        try:
            kept = json.loads((folder / key / ITEM).read_text(encoding="utf-8"))
            if isinstance(kept, dict):
                return kept
        except (OSError, ValueError):
            pass  # not kept yet, or a damaged entry: made again
        item = make(*args, **kwargs)
        _keep_text(folder / key, ITEM, json.dumps(item))
        return item

    return made_or_read


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
    def fill(staging: Path) -> None:
        for path in written:
            shutil.copyfile(path, staging / f"figure{path.suffix}")
        (staging / LISTING).write_text(json.dumps([path.suffix for path in written]), encoding="utf-8")

    _keep_entry(entry, fill)


def _keep_text(entry: Path, name: str, text: str) -> None:
    _keep_entry(entry, lambda staging: (staging / name).write_text(text, encoding="utf-8"))


def _keep_entry(entry: Path, fill: Callable[[Path], Any]) -> None:
    """An entry folder filled by ``fill``, whole or not at all (a temporary folder renamed into place)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        fill(staging)
        os.rename(staging, entry)
    except OSError:  # another process kept the same entry first, or the disk said no: it is made anyway
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

