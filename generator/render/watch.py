"""`atlas serve` picks up runs that finish while it is open.

A thread polls the runs folder for manifests (a run writes its manifest last, so a new or
changed manifest means a finished run) and calls back (``serve.py`` then builds again: only
that run's pages are rendered, and the open browser reloads). Only the manifests are looked at:
a run folder holds thousands of files.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable


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
                    print(f"atlas serve: could not act on the finished runs: {exc}")

    def stop(self) -> None:
        self.stopped.set()
