"""Where every file of a run directory lives: the one owner of run paths, for writers and readers.

Every path is made from names checked by ``store/names.py`` and, before it is read or
written, resolved and required to stay inside the run (a link that points out of the run is
refused). Run directories travel between people, so nothing read from one is trusted to name
a path by itself.

Layout::

    <run>/manifest.json
    <run>/atlas-run.json                                  (a generated run's inputs and state)
    <run>/summary_statistics.json
    <run>/examples/<dataset>/<example_id>/trajectory.json
    <run>/examples/<dataset>/<example_id>/<analysis>.safetensors
    <run>/datasets/<dataset>/<analysis>.json
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.store.names import name_problem, shown

MANIFEST = "manifest.json"
RUN_STATE = "atlas-run.json"  # {"producer", "inputs_sha256", "model", "state": "running" | "complete"}
SUMMARY_STATISTICS = "summary_statistics.json"


class RunFormatError(ValueError):
    """A run directory that does not match the documented format; the message names the file and field."""


def check_name(value: object, what: str) -> str:
    """Names become path components and page titles; refuse anything that could escape or mean more."""
    problem = name_problem(value)
    if problem:
        raise RunFormatError(f"{what}: {problem}")
    return value  # type: ignore[return-value]


class RunLayout:
    """The paths of one run directory; each derived from checked names, each confined to the run."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._real_folders: dict[str, str] = {}  # a folder of the run -> its real path (a page reads several files)
        self._example_dirs: dict[tuple, Path] = {}  # (dataset, example id) -> its folder (names checked once)
        self._real_root: tuple[str, str] | None = None  # the run's real path, and it as a folder prefix

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def state(self) -> Path:
        return self.root / RUN_STATE

    @property
    def summary_statistics(self) -> Path:
        return self.root / SUMMARY_STATISTICS

    @property
    def examples(self) -> Path:
        return self.root / "examples"

    def example_dir(self, dataset: str, example_id: str) -> Path:
        known = self._example_dirs.get((dataset, example_id))  # a build asks for each a dozen times
        if known is None:
            known = self.examples / check_name(dataset, f"{self.root}: dataset") / check_name(
                example_id, f"{self.root}: dataset {dataset}: example id")
            if len(self._example_dirs) >= 65536:
                self._example_dirs.clear()
            self._example_dirs[(dataset, example_id)] = known
        return known

    def trajectory(self, dataset: str, example_id: str) -> Path:
        return self.example_dir(dataset, example_id) / "trajectory.json"

    def result(self, dataset: str, example_id: str, analysis: str) -> Path:
        return self.example_dir(dataset, example_id) / f"{check_name(analysis, 'analysis')}.safetensors"

    def dataset_summaries(self, dataset: str) -> Path:
        return self.root / "datasets" / check_name(dataset, f"{self.root}: dataset")

    def summary(self, dataset: str, analysis: str) -> Path:
        return self.dataset_summaries(dataset) / f"{check_name(analysis, 'analysis')}.json"

    def confined(self, path: Path) -> Path:
        """``path`` if it (through any link) stays inside the run; a RunFormatError naming it otherwise.

        Run files are read for thousands of pages: the real path of each folder is resolved once per
        layout (a run that arrived with its links, not one that changes while it is read), the file's
        own name is checked each time."""
        return self._inside(path, self._real(os.fspath(path)))

    def confined_not_link(self, path: Path) -> Path:
        """``confined`` for a file known (by ``os.lstat``) not to be a link: only its folders are looked at."""
        return self._inside(path, self._real(os.fspath(path), not_link=True))

    def _inside(self, path: Path, target: str) -> Path:
        if self._real_root is None:  # strings: Path.resolve and .parents cost more than the read
            root = self._real(os.fspath(self.root))
            self._real_root = (root, os.path.join(root, ""))
        root, inside = self._real_root
        if target != root and not target.startswith(inside):
            raise RunFormatError(f"{path}: leads out of the run directory (to {shown(str(target), 120)}); "
                                 "links out of a run are not followed")
        return path if isinstance(path, Path) else Path(path)

    def _real(self, path: str, not_link: bool = False) -> str:
        """``os.path.realpath(path)``, with its folder's real path remembered (``not_link``: known not to be one)."""
        folder, name = os.path.split(path)
        if not folder or name in ("", ".", "..") or (not not_link and os.path.islink(path)):
            return os.path.realpath(path)
        return os.path.join(self._real_folder(folder), name)

    def _real_folder(self, folder: str) -> str:
        """A folder's real path from its parent's (remembered) and its own name, unless it is a link: one
        lstat per new folder instead of one per component of its path (each example has its own folder)."""
        real = self._real_folders.get(folder)
        if real is None:
            if len(self._real_folders) >= 65536:
                self._real_folders.clear()
            parent, name = os.path.split(folder)
            if not parent or parent == folder or name in ("", ".", "..") or os.path.islink(folder):
                real = os.path.realpath(folder)
            else:
                real = os.path.join(self._real_folder(parent), name)
            self._real_folders[folder] = real
        return real
