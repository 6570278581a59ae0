"""Run-file reads kept on disk between builds, for the page that reads every example (a dataset page).

After one example changed, `atlas build` renders its dataset page again, and that page reads every
trajectory and result file of the dataset (0.35 s at 1,000 examples, 2.3 s at 5,000 on a 2-core
machine) although one changed. Inside ``kept(folder)`` what run files give goes through a
``read_cache.ReadCache`` that starts with the records kept in ``folder``: a record whose file still
has the version it was read from (size, modification time, inode and device) is taken, the others
are read; afterwards the folder keeps what was used. In `atlas serve` the server's own cache is
used and the folder fills it once, so its first rebuild after a change is warm too.

Trust: records are pickled. The folder is inside the build's own cache folder (created by us, with
our marker, never a link; ``render/figure_cache.ours``), trusted as the compiled templates in the same
folder already are (Jinja runs them as code). Records are taken only while the code that read them
is the same: the source of every module of ``generator/store`` and ``generator/results`` (read as
files: the store never imports the results), and of each kept record's own module when it lives
elsewhere (an analysis plugin's; records of a module without a source file are not kept), with
Python's and numpy's versions; any change reads every file again. A damaged file is ignored (every
file is read again), and a record that cannot be kept never fails the page.

Two files: ``base.pickle`` and ``delta.pickle`` (records read since the base was written; loaded
after it, so they win). A rebuild after one change writes the few records it read, not the
thousands it took; the base is written again when the delta passes an eighth of it, or when an
eighth of it is no longer used (examples removed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Hashable, Iterator

import numpy as np

from generator.store import read_cache
from generator.store.atomic import atomic_write_bytes

BASE, DELTA = "base.pickle", "delta.pickle"
FORMAT = 1
MAX_BYTES = 256 * 1024 * 1024  # records a one-shot build keeps while a page reads (estimated; as `atlas serve`)
REWRITE_FRACTION = 8  # the base is written again past a delta (or unused part) of 1/8 of it
RECORD_CODE = ("store", "results")  # the package's folders whose code reads run files into records

Entries = dict[Hashable, tuple[read_cache.Version, Any, int]]


@dataclasses.dataclass
class _OnDisk:
    """What a folder held when this process last loaded or saved it."""

    base: set[Hashable]
    delta: set[Hashable]
    versions: tuple  # the two files' versions then: unchanged, the server need not load them again


_seen: dict[str, _OnDisk] = {}  # by folder, in this process


@contextlib.contextmanager
def kept(folder: Path | None) -> Iterator[None]:
    """Run files read inside this block are taken from (and left in) the records kept in ``folder``."""
    if folder is None:
        yield
        return
    own = read_cache.active()
    cache = own if own is not None else read_cache.ReadCache(MAX_BYTES)
    disk = _seen.get(str(folder))
    if disk is None or own is None or disk.versions != _versions(folder):
        disk = _load(folder, cache)
    cache.used, cache.fresh = set(), set()
    before = read_cache.use(cache)
    try:
        yield
        _save(folder, cache, disk)
    finally:
        cache.used = cache.fresh = None
        read_cache.use(before)


def _versions(folder: Path) -> tuple:
    return read_cache.file_version(folder / BASE), read_cache.file_version(folder / DELTA)


def _load(folder: Path, cache: read_cache.ReadCache) -> _OnDisk:
    """Add the folder's records to ``cache`` (the delta's over the base's); what each file held."""
    versions = _versions(folder)
    base, delta = _read(folder / BASE), _read(folder / DELTA)
    entries = {**base, **delta}
    for _, record, _ in entries.values():
        _freeze(record)
    cache.add(entries)
    disk = _OnDisk(set(base), set(delta), versions)
    _seen[str(folder)] = disk
    return disk


def _read(path: Path) -> Entries:
    """A file's records, or none (missing, damaged, from other code, or a link)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        with os.fdopen(fd, "rb") as handle:
            header = json.loads(handle.readline())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return {}
            modules = header.get("modules")
            if header.get("code") != _package_code() or not isinstance(modules, dict) or any(
                    _module_digest(str(name)) != digest for name, digest in modules.items()):
                return {}
            with _collector_paused():  # a million new objects at 5,000 examples: the collector's passes cost
                entries = pickle.load(handle)  # more than the load (0.5 -> 0.2 s), and find nothing to free
        return entries if isinstance(entries, dict) else {}
    except Exception:  # noqa: BLE001 - a damaged or foreign file: every run file is read again
        return {}


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _save(folder: Path, cache: read_cache.ReadCache, disk: _OnDisk) -> None:
    """Leave in ``folder`` the records this block used: only those it read, unless the base needs writing again."""
    used, fresh = cache.used or set(), cache.fresh or set()
    delta = (disk.delta & used) | fresh
    unused = disk.base - used
    rewrite = not disk.base or REWRITE_FRACTION * max(len(delta), len(unused)) > len(disk.base)
    if rewrite:
        if not used:
            return
        _write(folder / BASE, cache.entries(used))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / DELTA)
        disk.base, disk.delta = set(used), set()
    elif delta != disk.delta or fresh:
        _write(folder / DELTA, cache.entries(delta))
        disk.delta = delta
    else:
        return
    disk.versions = _versions(folder)
    _seen[str(folder)] = disk


def _write(path: Path, entries: Entries) -> None:
    modules = sorted({type(record).__module__ for _, record, _ in entries.values()}
                     - {f"generator.{folder}.{path.stem}" for folder in RECORD_CODE
                        for path in (_package() / folder).glob("*.py")})
    digests = {name: _module_digest(name) for name in modules}
    if None in digests.values():
        return  # a record whose code cannot be checked next time (a class made in a notebook, say): not kept
    header = {"format": FORMAT, "code": _package_code(), "modules": digests}
    try:
        atomic_write_bytes(path, json.dumps(header).encode() + b"\n" + pickle.dumps(entries, protocol=5))
    except Exception:  # noqa: BLE001 - a record pickle refuses, a full disk: a cache, the next build reads again
        pass


def _freeze(record: Any) -> None:
    """Arrays read-only again, as ``Run`` makes them (a record may be shared; pickling made them writable)."""
    if not dataclasses.is_dataclass(record):
        return
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        elif dataclasses.is_dataclass(value):
            _freeze(value)


def _package() -> Path:
    return Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def _package_code() -> str:
    """The source of the store and the results (what reads a run file into a record), Python's and numpy's versions."""
    digest = hashlib.sha256(f"python {sys.version}|numpy {np.__version__}".encode())
    for folder in RECORD_CODE:
        for path in sorted((_package() / folder).glob("*.py")):
            digest.update(f"{folder}/{path.name}|{path.stat().st_size}|".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _module_digest(name: str) -> str | None:
    """The sha256 of a record's module's source (None: no source found), once per process."""
    try:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else None
        if origin is None:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec else None
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else None
    except (ImportError, ValueError, OSError):
        return None
