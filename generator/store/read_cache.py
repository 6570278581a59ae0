"""Run files read once per version, for a process that builds the site again and again (`atlas serve`).

A served site is rebuilt on every change; each rebuild's dataset page reads every example of
its dataset again (a thousand trajectories and three thousand result files: ~0.6 s on a 2-core
machine) although one example changed. With the cache enabled, a trajectory or result read
from a file whose version (size, modification time, inode and device, as ``os.lstat`` gives
them; a link has none) is the one read before is the record read then. Run files are replaced whole, never
changed in place (the same assumption as the render fingerprints), so a new version is a new
read. Records are frozen dataclasses and their arrays read-only, so sharing one is safe.

Off by default: a one-shot build reads each file about once, and the cache would only add
memory (``max_bytes`` bounds it; least recently used records are dropped first); a one-shot
build's dataset page uses one while it reads, filled from and left in the build's cache folder
(``kept_reads``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from stat import S_ISLNK
from typing import Any, Hashable

Version = tuple


class ReadCache:
    """Records by key, each with the version of the file(s) it was read from; at most ``max_bytes`` (estimated)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[Version, Any, int]] = OrderedDict()
        # while records are kept on disk too (``kept_reads``): the keys found or read, and those read
        self.used: set[Hashable] | None = None
        self.fresh: set[Hashable] | None = None

    def get(self, key: Hashable, version: Version | None) -> Any:
        """The record read from this version of the file, or None (never read, or since replaced)."""
        entry = self._entries.get(key)
        if entry is None or version is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        if self.used is not None:
            self.used.add(key)
        return entry[1]

    def put(self, key: Hashable, version: Version | None, record: Any, size: int) -> None:
        """Keep ``record`` (about ``size`` bytes), read from ``version``; one larger than the cache is not kept."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= old[2]
        if version is None or size > self.max_bytes:
            return
        self._entries[key] = (version, record, size)
        self.size += size
        if self.fresh is not None:  # set with ``used``, by ``kept_reads``
            self.used.add(key)
            self.fresh.add(key)
        while self.size > self.max_bytes:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.size -= dropped

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, keys: set[Hashable]) -> dict[Hashable, tuple[Version, Any, int]]:
        """The kept (version, record, size) of those of ``keys`` still kept."""
        return {key: self._entries[key] for key in keys if key in self._entries}

    def add(self, entries: dict[Hashable, tuple[Version, Any, int]]) -> None:
        """Entries kept elsewhere (on disk), as if read now; a key already kept keeps what this process read."""
        for key, (version, record, size) in entries.items():
            if key not in self._entries:
                self.put(key, version, record, size)


_cache: ReadCache | None = None


def enable(max_bytes: int = 256 * 1024 * 1024) -> None:
    """Keep what run files gave, in this process, from now on (`atlas serve` calls this once)."""
    global _cache
    if _cache is None or _cache.max_bytes != max_bytes:
        _cache = ReadCache(max_bytes)


def disable() -> None:
    global _cache
    _cache = None


def active() -> ReadCache | None:
    """The cache, or None when it is off (then callers read every time, as they always did)."""
    return _cache


def use(cache: ReadCache | None) -> ReadCache | None:
    """Make ``cache`` this process's (None: off) and return the one before, to be put back."""
    global _cache
    before, _cache = _cache, cache
    return before


def file_version(*paths: str | os.PathLike) -> Version | None:
    """The version of these files together (a missing one counts as missing); None if none can be looked at, or
    one is a link (its target could change under the same link: read every time).

    ``os.lstat``: a version is never a link's, so a record kept by version was read from the file itself, and on
    use only its folders need checking to stay inside the run (``RunLayout.confined_not_link``)."""
    version = []
    for path in paths:
        try:
            stat = os.lstat(path)
        except FileNotFoundError:
            version.append(None)
            continue
        except OSError:
            return None
        if S_ISLNK(stat.st_mode):
            return None
        version.append((stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev))
    return tuple(version) if any(part is not None for part in version) else None
