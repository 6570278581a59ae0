"""`atlas serve` picks up runs that finish while it is open.

A thread polls the runs folder for manifests (a run writes its manifest last, so a new or
changed manifest means a finished run), renders again (incremental: only that run's pages
change) and copies what changed into the folder ``mkdocs serve`` watches, which rebuilds and
reloads the open browser. Rendering never happens inside the watched folder itself: the
renderer replaces its output folder whole, which a file watcher cannot follow.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Callable

SERVE_MARKER = ".atlas-serve"  # marks a folder this module fills, so sync_tree never deletes in another



class ServeFolderError(FileExistsError):
    """The folder `atlas serve` would sync into holds files it did not write."""

def runs_signature(runs_dir: Path) -> tuple:
    """Every run's manifest by name, time and size: changes when a run finishes or is replaced."""
    found = []
    for manifest in sorted(Path(runs_dir).glob("*/manifest.json")):
        try:
            stat = manifest.stat()
        except OSError:
            continue
        found.append((manifest.parent.name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def sync_tree(source: Path, target: Path) -> int:
    """Make ``target`` a copy of ``source``, writing only files whose bytes differ; returns how many changed.

    ``target`` must be new or a folder this function made before (it holds SERVE_MARKER).
    """
    source, target = Path(source), Path(target)
    if target.exists() and not (target / SERVE_MARKER).is_file():
        raise ServeFolderError(f"{target}: exists and was not made by `atlas serve`; refusing to write into it")
    target.mkdir(parents=True, exist_ok=True)
    (target / SERVE_MARKER).touch()
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    changed = 0
    for relative in sorted(wanted):
        src, dst = source / relative, target / relative
        if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        temporary = dst.with_name(f".{dst.name}.atlas-tmp")
        shutil.copyfile(src, temporary)
        os.replace(temporary, dst)
        changed += 1
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target)
        if path.is_file() and relative not in wanted and path.name != SERVE_MARKER:
            path.unlink()
            changed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changed


class RunsWatcher(threading.Thread):
    """Calls ``on_change`` whenever the runs folder's manifests change (checked every ``interval`` s)."""

    def __init__(self, runs_dir: Path, on_change: Callable[[], None], interval: float = 2.0) -> None:
        super().__init__(name="atlas-runs-watcher", daemon=True)
        self.runs_dir, self.on_change, self.interval = Path(runs_dir), on_change, interval
        self.stopped = threading.Event()
        self.last = runs_signature(self.runs_dir)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            current = runs_signature(self.runs_dir)
            if current != self.last:
                self.last = current
                try:
                    self.on_change()
                except Exception as exc:  # noqa: BLE001 - a bad run must not stop the server
                    print(f"atlas serve: could not render the runs again: {exc}")

    def stop(self) -> None:
        self.stopped.set()
