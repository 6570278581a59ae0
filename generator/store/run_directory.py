"""Reading and writing run directories (the format is documented in docs/run-format.md).

Layout::

    <run>/manifest.json
    <run>/examples/<dataset>/<example_id>/trajectory.json
    <run>/examples/<dataset>/<example_id>/<analysis>.safetensors
    <run>/datasets/<dataset>/<analysis>.json           (dataset-level results, optional)

Results are read and written as typed records (``store/result_types.py``): this module
knows only their protocol (an analysis name, tensors or JSON), never a particular analysis.

A generated run is written example by example: each example's directory appears whole (it
is filled under a temporary name and renamed), ``atlas-run.json`` records the config it
belongs to, and ``manifest.json`` is written last, so a killed run resumes where it stopped
and a reader never sees half a run (runs without a manifest are not listed). Imported runs
are written whole into a temporary directory and renamed into place. Nothing that is not a
run of ours is ever replaced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from generator.store.atomic import DIR_MODE, atomic_write_bytes, atomic_write_text, replace_directory
from generator.store.records import READABLE_SCHEMA_VERSIONS, Manifest, Trajectory
from generator.store.result_types import RESULT_TYPE_KEY, DatasetSummary, ExampleResult, ResultFormatError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # used with fullmatch: no trailing newline
# {"producer", "inputs_sha256" (config and dataset files), "model" (weights identity), "state": "running" | "complete"}
RUN_STATE = "atlas-run.json"
PRODUCER = "attention-atlas"


class RunFormatError(ValueError):
    """A run directory that does not match the documented format."""


class RunExistsError(ValueError):
    """The target of a run holds something we may not replace; the message says how to go on."""


def check_name(value: str, what: str) -> str:
    """Names become path components; refuse anything that could escape the run directory."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise RunFormatError(f"{what} {value!r}: expected 1 to 128 letters, digits, '.', '_' or '-', "
                             "starting with a letter or digit")
    return value


def run_owner_hash(directory: Path) -> str | None:
    """The inputs hash of a run of ours at ``directory`` (an import's: its source's); None if not ours."""
    directory = Path(directory)
    for name, key in ((RUN_STATE, "inputs_sha256"), ("manifest.json", "config_sha256")):
        try:
            data = json.loads((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("producer") == PRODUCER and isinstance(data.get(key), str):
            return data[key]
    return None


def check_target(directory: Path, config_sha256: str, overwrite: bool) -> str:
    """What writing a run at ``directory`` means: "new", "resume" or "replace"; or a clear refusal.

    Only an absent path, an empty directory, or a run of ours may be written; a run of ours made
    from other inputs (``config_sha256``: the hash a run's inputs are identified by) is replaced
    only with ``overwrite``.
    """
    directory = Path(directory)
    if not directory.exists():
        return "new"
    if directory.is_dir() and not any(directory.iterdir()):
        return "new"
    owner = run_owner_hash(directory)
    if owner is None:
        raise RunExistsError(f"{directory}: exists and is not a run of Attention Atlas; nothing was written "
                             "(choose another run name or output directory)")
    if owner == config_sha256:
        return "resume"
    if not overwrite:
        raise RunExistsError(f"{directory}: holds a run made from another config or other dataset files; rerun "
                             "with --overwrite to replace it, or give this run another run_name")
    return "replace"


def dumps(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


class RunWriter:
    """Writes the files of one run; every file atomically, every new example directory whole."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def example_dir(self, dataset: str, example_id: str) -> Path:
        return self.root / "examples" / check_name(dataset, "dataset") / check_name(example_id, "example id")

    def has_example(self, dataset: str, example_id: str) -> bool:
        return (self.example_dir(dataset, example_id) / "trajectory.json").is_file()

    def has_result(self, dataset: str, example_id: str, analysis: str) -> bool:
        return (self.example_dir(dataset, example_id) / f"{check_name(analysis, 'analysis')}.safetensors").is_file()

    def write_example(self, trajectory: Trajectory, results: list[ExampleResult]) -> None:
        """An example's trajectory and first results, appearing together or not at all."""
        final = self.example_dir(trajectory.dataset, trajectory.example_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        try:
            os.chmod(tmp, DIR_MODE)
            _write_trajectory_file(tmp, trajectory)
            for result in results:
                _write_result_file(tmp, result)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def remove_stale_temporaries(self) -> None:
        """Temporary example directories a killed run left behind (ours by name: ``.<id>.<random>.tmp``)."""
        for stale in (self.root / "examples").glob("*/.*.tmp"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)

    def mark_complete(self) -> None:
        """The manifest is written: record the run as complete."""
        state = _read_state(self.root)
        self.write_state(state["inputs_sha256"], state["model"], "complete")

    def write_state(self, inputs_sha256: str, model: dict[str, Any], state: str) -> None:
        atomic_write_text(self.root / RUN_STATE, dumps({"producer": PRODUCER, "inputs_sha256": inputs_sha256,
                                                        "model": model, "state": state}))

    def write_trajectory(self, trajectory: Trajectory) -> None:
        _write_trajectory_file(self.example_dir(trajectory.dataset, trajectory.example_id), trajectory)

    def write_result(self, dataset: str, example_id: str, result: ExampleResult) -> None:
        """One example's result of one analysis, as ``<analysis>.safetensors`` tagged with its type."""
        _write_result_file(self.example_dir(dataset, example_id), result)

    def write_summary(self, dataset: str, summary: DatasetSummary) -> None:
        path = self.root / "datasets" / check_name(dataset, "dataset") / f"{check_name(summary.analysis, 'analysis')}.json"
        atomic_write_text(path, dumps(summary.to_json()))

    def write_summary_statistics(self, summaries: dict[str, list[DatasetSummary]]) -> None:
        """Every dataset-level result of the run in one file: {dataset: {analysis: summary}}."""
        atomic_write_text(self.root / "summary_statistics.json", dumps(
            {dataset: {s.analysis: s.to_json() for s in items} for dataset, items in summaries.items()}))

    def write_manifest(self, manifest: Manifest) -> None:
        atomic_write_text(self.root / "manifest.json", dumps(manifest.to_json()))


def _write_trajectory_file(example_dir: Path, trajectory: Trajectory) -> None:
    atomic_write_text(example_dir / "trajectory.json", dumps(trajectory.to_json()))


def _write_result_file(example_dir: Path, result: ExampleResult) -> None:
    from safetensors.numpy import save

    tensors = dict(sorted(result.to_tensors().items()))
    path = example_dir / f"{check_name(result.analysis, 'analysis')}.safetensors"
    atomic_write_bytes(path, save(tensors, metadata={RESULT_TYPE_KEY: type(result).__name__}))


R = TypeVar("R", bound=ExampleResult)
D = TypeVar("D", bound=DatasetSummary)


def write_run(directory: Path, fill: Callable[[RunWriter], None]) -> Path:
    """Create or replace the run at ``directory`` only once ``fill`` has finished (whole, for imports)."""
    replace_directory(Path(directory), lambda tmp: fill(RunWriter(tmp)))
    return Path(directory)


def open_run(directory: Path, inputs_sha256: str, model: dict[str, Any], overwrite: bool = False
             ) -> tuple[RunWriter, str]:
    """A writer for a run that grows example by example, and whether it is "new", "resume" or "replace".

    A run of ours from the same inputs and model weights resumes (its finished examples stay);
    one from other inputs is moved aside and removed only with ``overwrite``; anything else is
    refused.
    """
    directory = Path(directory)
    mode = check_target(directory, inputs_sha256, overwrite)
    if mode == "resume":
        recorded = _read_state(directory).get("model")
        if recorded != model and not overwrite:
            raise RunExistsError(f"{directory}: was started with other model weights ({recorded}); rerun with "
                                 "--overwrite to replace it, or give this run another run_name")
        mode = "resume" if recorded == model else "replace"
    if mode == "replace":
        aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".replaced", dir=directory.parent))
        os.replace(directory, aside / directory.name)
        shutil.rmtree(aside)
    directory.mkdir(parents=True, exist_ok=True)
    writer = RunWriter(directory)
    writer.remove_stale_temporaries()
    if mode != "resume":
        writer.write_state(inputs_sha256, model, "running")
    return writer, mode


def _read_state(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(directory) / RUN_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}



@dataclass(frozen=True)
class Run:
    """A run directory opened for reading; tensors load lazily, per example.

    ``manifest`` is None only while a run is still being written (its examples can be read).
    """

    root: Path
    manifest: Manifest | None

    @property
    def name(self) -> str:
        """The run's directory name: unique among the runs of one folder (a copied run is its own run)."""
        return self.root.name

    def dataset_names(self) -> list[str]:
        return [d.name for d in self.manifest.datasets]

    def example_ids(self, dataset: str) -> list[str]:
        for entry in self.manifest.datasets:
            if entry.name == dataset:
                return list(entry.example_ids)
        raise KeyError(f"{self.root}: run has no dataset {dataset!r}")

    def trajectory(self, dataset: str, example_id: str) -> Trajectory:
        path = self.root / "examples" / dataset / example_id / "trajectory.json"
        try:
            return Trajectory.from_json(_read_json(path))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, RunFormatError):
                raise
            raise RunFormatError(f"{path}: does not match the trajectory format ({type(exc).__name__}: {exc})") from exc

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
        """One example's typed result, or None when that analysis did not run on it.

        Only the tensors ``kind`` declares are read (a projection reads a few of a large file).
        """
        from safetensors import safe_open

        path = self.root / "examples" / dataset / example_id / f"{kind.analysis}.safetensors"
        if not path.exists():
            return None
        wanted = {f.name for f in dataclasses.fields(kind)}
        try:
            with safe_open(str(path), framework="np") as handle:
                names = list(handle.keys())
                if kind.projection:
                    names = [name for name in names if name in wanted]
                tensors = {name: handle.get_tensor(name) for name in names}
        except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
            raise RunFormatError(f"{path}: not a readable safetensors file ({exc})") from exc
        try:
            return kind.from_tensors(tensors, str(path))
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
    """Finished runs under ``base``; hidden (temporary, replaced) directories and unfinished runs are skipped."""
    runs, problems = list_runs_reporting(base)
    if problems:
        raise RunFormatError(problems[0])
    return runs


def list_runs_reporting(base: Path) -> tuple[list[Run], list[str]]:
    """Like ``list_runs``, with runs whose manifest cannot be read reported (by file) instead of raised."""
    base = Path(base)
    if not base.is_dir():
        return [], []
    runs, problems = [], []
    for path in sorted(base.iterdir()):
        if path.name.startswith(".") or not (path / "manifest.json").is_file():
            continue
        try:
            runs.append(load_run(path))
        except RunFormatError as exc:
            problems.append(str(exc))
    return runs, problems
