"""Reading and writing run directories (the format is documented in docs/run-format.md).

Layout::

    <run>/manifest.json
    <run>/examples/<dataset>/<example_id>/trajectory.json
    <run>/examples/<dataset>/<example_id>/<analysis>.safetensors
    <run>/datasets/<dataset>/<analysis>.json           (dataset-level results, optional)

Results are read and written as typed records (``store/result_types.py``): this module
knows only their protocol (an analysis name, tensors or JSON), never a particular analysis.

A run is written whole into a temporary directory and renamed into place, so an
interrupted run never replaces or half-overwrites a finished one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from generator.store.atomic import atomic_write_bytes, atomic_write_text, replace_directory
from generator.store.records import READABLE_SCHEMA_VERSIONS, Manifest, Trajectory
from generator.store.result_types import RESULT_TYPE_KEY, DatasetSummary, ExampleResult, ResultFormatError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RunFormatError(ValueError):
    """A run directory that does not match the documented format."""


def check_name(value: str, what: str) -> str:
    """Names become path components; refuse anything that could escape the run directory."""
    if not SAFE_NAME.match(value or ""):
        raise RunFormatError(f"{what} {value!r}: expected letters, digits, '.', '_' or '-' only")
    return value


def dumps(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


class RunWriter:
    """Writes the files of one run inside a directory that is not yet visible."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def example_dir(self, dataset: str, example_id: str) -> Path:
        return self.root / "examples" / check_name(dataset, "dataset") / check_name(example_id, "example id")

    def write_trajectory(self, trajectory: Trajectory) -> None:
        path = self.example_dir(trajectory.dataset, trajectory.example_id) / "trajectory.json"
        atomic_write_text(path, dumps(trajectory.to_json()))

    def write_result(self, dataset: str, example_id: str, result: ExampleResult) -> None:
        """One example's result of one analysis, as ``<analysis>.safetensors`` tagged with its type."""
        from safetensors.numpy import save

        tensors = dict(sorted(result.to_tensors().items()))
        path = self.example_dir(dataset, example_id) / f"{check_name(result.analysis, 'analysis')}.safetensors"
        atomic_write_bytes(path, save(tensors, metadata={RESULT_TYPE_KEY: type(result).__name__}))

    def write_summary(self, dataset: str, summary: DatasetSummary) -> None:
        path = self.root / "datasets" / check_name(dataset, "dataset") / f"{check_name(summary.analysis, 'analysis')}.json"
        atomic_write_text(path, dumps(summary.to_json()))

    def write_summary_statistics(self, summaries: dict[str, list[DatasetSummary]]) -> None:
        """Every dataset-level result of the run in one file: {dataset: {analysis: summary}}."""
        atomic_write_text(self.root / "summary_statistics.json", dumps(
            {dataset: {s.analysis: s.to_json() for s in items} for dataset, items in summaries.items()}))

    def write_manifest(self, manifest: Manifest) -> None:
        atomic_write_text(self.root / "manifest.json", dumps(manifest.to_json()))


R = TypeVar("R", bound=ExampleResult)
D = TypeVar("D", bound=DatasetSummary)


def write_run(directory: Path, fill: Callable[[RunWriter], None]) -> Path:
    """Create or replace the run at ``directory`` only once ``fill`` has finished."""
    replace_directory(Path(directory), lambda tmp: fill(RunWriter(tmp)))
    return Path(directory)


@dataclass(frozen=True)
class Run:
    """A run directory opened for reading; tensors load lazily, per example."""

    root: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.run_name

    def dataset_names(self) -> list[str]:
        return [d.name for d in self.manifest.datasets]

    def example_ids(self, dataset: str) -> list[str]:
        for entry in self.manifest.datasets:
            if entry.name == dataset:
                return list(entry.example_ids)
        raise KeyError(f"{self.root}: run has no dataset {dataset!r}")

    def trajectory(self, dataset: str, example_id: str) -> Trajectory:
        path = self.root / "examples" / dataset / example_id / "trajectory.json"
        return Trajectory.from_json(_read_json(path))

    def trajectories(self, dataset: str) -> Iterator[Trajectory]:
        for example_id in self.example_ids(dataset):
            yield self.trajectory(dataset, example_id)

    def has_tensors(self, dataset: str, example_id: str, analysis: str) -> bool:
        return (self.root / "examples" / dataset / example_id / f"{analysis}.safetensors").exists()

    def tensors(self, dataset: str, example_id: str, analysis: str) -> dict[str, np.ndarray]:
        """The raw arrays of one example's result (what a notebook gets from safetensors alone)."""
        from safetensors.numpy import load_file

        path = self.root / "examples" / dataset / example_id / f"{analysis}.safetensors"
        if not path.exists():
            raise RunFormatError(f"{path}: missing; the run has no {analysis!r} result for {example_id!r}")
        try:
            return load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
            raise RunFormatError(f"{path}: not a readable safetensors file ({exc})") from exc

    def result(self, dataset: str, example_id: str, kind: type[R]) -> R | None:
        """One example's typed result, or None when that analysis did not run on it."""
        if not self.has_tensors(dataset, example_id, kind.analysis):
            return None
        path = self.root / "examples" / dataset / example_id / f"{kind.analysis}.safetensors"
        try:
            return kind.from_tensors(self.tensors(dataset, example_id, kind.analysis), str(path))
        except ResultFormatError as exc:
            raise RunFormatError(str(exc)) from exc

    def summary(self, dataset: str, kind: type[D]) -> D | None:
        """A dataset's typed summary, or None when that analysis has none for it."""
        path = self.root / "datasets" / dataset / f"{kind.analysis}.json"
        if not path.exists():
            return None
        try:
            return kind.from_json(_read_json(path), str(path))
        except ResultFormatError as exc:
            raise RunFormatError(str(exc)) from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunFormatError(f"{path}: missing") from exc
    except json.JSONDecodeError as exc:
        raise RunFormatError(f"{path}: not valid JSON ({exc})") from exc


def load_run(directory: Path) -> Run:
    root = Path(directory)
    data = _read_json(root / "manifest.json")
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version not in READABLE_SCHEMA_VERSIONS:
        raise RunFormatError(f"{root / 'manifest.json'}: field 'schema_version': expected one of "
                             f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}, got {version!r}")
    try:
        manifest = Manifest.from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RunFormatError(f"{root / 'manifest.json'}: does not match schema {version} ({exc})") from exc
    return Run(root, manifest)


def list_runs(base: Path) -> list[Run]:
    base = Path(base)
    if not base.is_dir():
        return []
    return [load_run(p) for p in sorted(base.iterdir()) if (p / "manifest.json").is_file()]
