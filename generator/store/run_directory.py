"""Reading and writing run directories (the format is documented in docs/run-format.md).

Layout::

    <run>/manifest.json
    <run>/examples/<dataset>/<example_id>/trajectory.json
    <run>/examples/<dataset>/<example_id>/<analysis>.safetensors
    <run>/datasets/<dataset>/<analysis>.json           (dataset-level results, optional)

Results are read and written as typed records (``store/result_types.py``): this module
knows only their protocol (an analysis name, tensors or JSON), never a particular analysis.

Every path comes from ``store/layout.py`` (names checked, links out of the run refused) and
every file is read as untrusted (``store/untrusted_json.py``, typed records): a damaged run is
one ``RunFormatError`` naming the file and field, never a traceback or a write elsewhere.

A generated run is written example by example: each example's directory appears whole (it
is filled under a temporary name and renamed), ``atlas-run.json`` records the config it
belongs to, and ``manifest.json`` is written last, so a killed run resumes where it stopped
and a reader never sees half a run (runs without a manifest are not listed). Imported runs
are written whole into a temporary directory and renamed into place. Nothing that is not a
run of ours is ever replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from generator.store import read_cache
from generator.store.atomic import DIR_MODE, atomic_write_bytes, atomic_write_text, replace_directory
from generator.store.layout import RUN_STATE, RunFormatError, RunLayout, check_name
from generator.store.names import SAFE_NAME, name_problem
from generator.store.plain_data import shown
from generator.store.records import (READABLE_SCHEMA_VERSIONS, THOUGHTS_FILE, LatentThoughts, Manifest,
                                     RecordFormatError, Trajectory)
from generator.store.result_types import RESULT_TYPE_KEY, DatasetSummary, ExampleResult, ResultFormatError
from generator.store.untrusted_json import UntrustedJSONError, read_json_file

PRODUCER = "attention-atlas"
__all__ = ["SAFE_NAME", "RUN_STATE", "RunFormatError", "RunExistsError", "Run", "RunWriter", "check_name",
           "load_run", "list_runs", "list_runs_reporting", "open_run", "write_run"]


class RunExistsError(ValueError):
    """The target of a run holds something we may not replace; the message says how to go on."""


def run_owner_hash(directory: Path) -> str | None:
    """The inputs hash of a run of ours at ``directory`` (an import's: its source's); None if not ours."""
    directory = Path(directory)
    for name, key in ((RUN_STATE, "inputs_sha256"), ("manifest.json", "config_sha256")):
        try:
            data = read_json_file(directory / name)
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
    for folder in directory.parents:
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise RunExistsError(f"{folder}: is a file, not a folder; the run would be written at {directory} "
                                     "(set output_dir or --output-dir to a folder); nothing was written")
            break
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
        self.layout = RunLayout(self.root)

    def example_dir(self, dataset: str, example_id: str) -> Path:
        return self.layout.example_dir(dataset, example_id)

    def has_example(self, dataset: str, example_id: str) -> bool:
        return self.layout.trajectory(dataset, example_id).is_file()

    def has_result(self, dataset: str, example_id: str, analysis: str) -> bool:
        return self.layout.result(dataset, example_id, analysis).is_file()

    def _writable(self, path: Path) -> Path:
        """``path``, once its folder exists inside the run (a link out of the run is never written through)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.layout.confined(path.parent)
        return path

    def write_example(self, trajectory: Trajectory, results: list[ExampleResult]) -> None:
        """An example's trajectory and first results, appearing together or not at all."""
        final = self._writable(self.example_dir(trajectory.dataset, trajectory.example_id))
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
        for stale in self.layout.examples.glob("*/.*.tmp"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)

    def mark_complete(self) -> None:
        """The manifest is written: record the run as complete."""
        state = _read_state(self.root)
        self.write_state(state["inputs_sha256"], state["model"], "complete")

    def write_state(self, inputs_sha256: str, model: dict[str, Any], state: str) -> None:
        atomic_write_text(self._writable(self.layout.state), dumps(
            {"producer": PRODUCER, "inputs_sha256": inputs_sha256, "model": model, "state": state}))

    def write_trajectory(self, trajectory: Trajectory) -> None:
        path = self._writable(self.layout.trajectory(trajectory.dataset, trajectory.example_id))
        _write_trajectory_file(path.parent, trajectory)

    def write_result(self, dataset: str, example_id: str, result: ExampleResult) -> None:
        """One example's result of one analysis, as ``<analysis>.safetensors`` tagged with its type."""
        _write_result_file(self._writable(self.layout.result(dataset, example_id, result.analysis)).parent, result)

    def write_summary(self, dataset: str, summary: DatasetSummary) -> None:
        atomic_write_text(self._writable(self.layout.summary(dataset, summary.analysis)), dumps(summary.to_json()))

    def write_summary_statistics(self, summaries: dict[str, list[DatasetSummary]]) -> None:
        """Every dataset-level result of the run in one file: {dataset: {analysis: summary}}."""
        atomic_write_text(self._writable(self.layout.summary_statistics), dumps(
            {dataset: {s.analysis: s.to_json() for s in items} for dataset, items in summaries.items()}))

    def write_manifest(self, manifest: Manifest) -> None:
        atomic_write_text(self._writable(self.layout.manifest), dumps(manifest.to_json()))


def _write_trajectory_file(example_dir: Path, trajectory: Trajectory) -> None:
    if trajectory.thoughts is not None:  # first: a trajectory.json is never there without its thoughts
        from safetensors.numpy import save

        atomic_write_bytes(example_dir / THOUGHTS_FILE, save(
            {"inputs": np.ascontiguousarray(trajectory.thoughts.inputs, dtype=np.float32)},
            metadata={"placeholder_id": str(trajectory.thoughts.placeholder_id)}))
    atomic_write_text(example_dir / "trajectory.json", dumps(trajectory.to_json()))


def read_thoughts(path: Path, trajectory: Trajectory) -> LatentThoughts:
    """A latent trajectory's thought inputs: one row per ``latent`` segment, at placeholder ids (checked)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            inputs, metadata = handle.get_tensor("inputs"), handle.metadata() or {}
        placeholder = int(metadata["placeholder_id"])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file fails in several ways
        raise RunFormatError(f"{path}: not a readable thoughts file (key 'inputs' and metadata 'placeholder_id' "
                             f"expected; {type(exc).__name__})") from exc
    latent = trajectory.latent_segments
    if inputs.ndim != 2 or len(inputs) != len(latent):
        raise RunFormatError(f"{path}: key 'inputs': expected [{len(latent)}, d] (one row per latent segment), "
                             f"got {list(inputs.shape)}")
    if any(trajectory.token_ids[s.start] != placeholder or s.end != s.start + 1 for s in latent):
        raise RunFormatError(f"{path}: metadata 'placeholder_id' {placeholder}: the latent segments are not one "
                             "placeholder token each")
    return LatentThoughts(inputs.astype(np.float32), placeholder)


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


def staging_directory(directory: Path) -> Path:
    """Where a run that replaces ``directory`` (``--overwrite``) is written until it is complete."""
    directory = Path(directory)
    return directory.with_name(f".{directory.name}.replacing")


def open_run(directory: Path, inputs_sha256: str, model: dict[str, Any], overwrite: bool = False
             ) -> tuple[RunWriter, str]:
    """A writer for a run that grows example by example, and whether it is "new", "resume" or "replace".

    A run of ours from the same inputs and model weights resumes (its finished examples stay),
    as does a killed replacement;
    one from other inputs is replaced only with ``overwrite``, and only once the new run is
    complete: until ``publish_run`` the new run grows in ``staging_directory`` (a killed
    replacement resumes there) and the old one stays whole. Anything else is refused.
    """
    directory = Path(directory)
    mode = check_target(directory, inputs_sha256, overwrite)
    if mode == "resume":
        recorded = _read_state(directory).get("model")
        if recorded != model and not overwrite:
            raise RunExistsError(f"{directory}: was started with other model weights ({recorded}); rerun with "
                                 "--overwrite to replace it, or give this run another run_name")
        mode = "resume" if recorded == model else "replace"
    staging = staging_directory(directory)
    staged_resume = _clear_staging(staging, directory, mode == "replace", inputs_sha256, model)
    root = staging if mode == "replace" else directory
    root.mkdir(parents=True, exist_ok=True)
    writer = RunWriter(root)
    writer.remove_stale_temporaries()
    if mode != "resume" and not staged_resume:
        writer.write_state(inputs_sha256, model, "running")
    return writer, "resume" if staged_resume else mode


def _clear_staging(staging: Path, directory: Path, replacing: bool, inputs_sha256: str, model: dict) -> bool:
    """Whether a killed replacement for the same inputs waits in ``staging`` (it resumes); any other
    staging folder of ours is removed, and one that is not ours is refused when it is needed."""
    if not staging.exists() or staging.is_symlink():
        return False
    owner = run_owner_hash(staging)
    if replacing and owner == inputs_sha256 and _read_state(staging).get("model") == model:
        return True
    if owner is not None or (staging.is_dir() and not any(staging.iterdir())):
        shutil.rmtree(staging)  # an earlier replacement of ours, for other inputs or no longer wanted
    elif replacing:
        raise RunExistsError(f"{staging}: exists and is not a run of Attention Atlas, and a replacement of "
                             f"{directory.name} would be written there; move it away (nothing was written)")
    return False


def run_root_for_rank(directory: Path) -> Path:
    """Where ranks other than 0 write, once rank 0 has opened the run (the staging folder while replacing)."""
    staging = staging_directory(directory)
    ours = staging.is_dir() and not staging.is_symlink() and run_owner_hash(staging) is not None
    return staging if ours else Path(directory)


def publish_run(writer: RunWriter, directory: Path) -> None:
    """A complete replacement takes the place of the old run (moved aside, then removed); others: nothing to do."""
    directory = Path(directory)
    if writer.root == directory:
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".replaced", dir=directory.parent))
    if directory.exists():
        os.replace(directory, aside / directory.name)
    os.replace(writer.root, directory)
    shutil.rmtree(aside)
    writer.root = directory
    writer.layout = RunLayout(directory)


def _read_state(directory: Path) -> dict[str, Any]:
    try:
        data = read_json_file(Path(directory) / RUN_STATE)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}



@dataclass(frozen=True)
class Run:
    """A run directory opened for reading; tensors load lazily, per example.

    ``manifest`` is None only while a run is still being written (its examples can be read).
    Every file is read as untrusted: a damaged one is a ``RunFormatError`` naming it.
    """

    root: Path
    manifest: Manifest | None

    @classmethod
    def unsealed(cls, root: Path) -> "Run":
        """A run still being written: its examples and results can be read; it has no manifest yet."""
        return cls(Path(root), None)

    @property
    def name(self) -> str:
        """The run's directory name: unique among the runs of one folder (a copied run is its own run)."""
        return self.root.name

    @functools.cached_property
    def layout(self) -> RunLayout:
        """One layout per opened run: it remembers the real paths of the run's folders."""
        return RunLayout(self.root)

    def dataset_names(self) -> list[str]:
        return [d.name for d in self.manifest.datasets]

    def example_ids(self, dataset: str) -> list[str]:
        for entry in self.manifest.datasets:
            if entry.name == dataset:
                return list(entry.example_ids)
        raise KeyError(f"{self.root}: run has no dataset {dataset!r}")

    def trajectory(self, dataset: str, example_id: str) -> Trajectory:
        path = self.layout.trajectory(dataset, example_id)
        return self._kept_or_read(("trajectory", str(path)), (path, path.with_name(THOUGHTS_FILE)),
                                  lambda: self._read_trajectory(path, dataset, example_id), _trajectory_bytes)

    def _kept_or_read(self, key: tuple, files: tuple[Path, ...], read: Callable[[], Any],
                      size: Callable[[Any], int]) -> Any:
        """``read()``, or, with ``read_cache`` on, the record read before from the same version of ``files`` (the
        first of which is still confined to the run: one now reached through a link out of it is refused; a
        version is never a link's, so only the folders are looked at)."""
        cache = read_cache.active()
        if cache is None:
            return read()
        version = read_cache.file_version(*files)
        record = cache.get(key, version)
        if record is None:
            record = read()
            if record is not None:  # a result the run does not have is looked for again
                cache.put(key, version, record, size(record))
        else:
            self.layout.confined_not_link(files[0])
        return record

    def _read_trajectory(self, path: Path, dataset: str, example_id: str) -> Trajectory:
        try:
            trajectory = Trajectory.from_json(_read_json(self.layout.confined(path)), str(path))
        except RecordFormatError as exc:
            raise RunFormatError(str(exc)) from exc
        for key, expected in (("example_id", example_id), ("dataset", dataset)):
            if getattr(trajectory, key) != expected:
                raise RunFormatError(f"{path}: key '{key}': expected {expected!r} (the folder it is in), "
                                     f"got {getattr(trajectory, key)!r}")
        if trajectory.latent_segments:
            thoughts_path = path.with_name(THOUGHTS_FILE)
            if not thoughts_path.is_file():
                raise RunFormatError(f"{thoughts_path}: missing; the trajectory has latent segments")
            trajectory = dataclasses.replace(trajectory, thoughts=read_thoughts(self.layout.confined(thoughts_path),
                                                                               trajectory))
        return trajectory

    def correctness(self, dataset: str) -> list[bool | None]:
        """Whether each example was answered correctly (None: not scored), read without building the whole
        trajectories (the run and index pages need only this)."""
        flags = []
        for example_id in self.example_ids(dataset):
            path = self.layout.confined(self.layout.trajectory(dataset, example_id))
            key = _file_key(path)
            if key is not None and key in _CORRECT_BY_FILE:
                flags.append(_CORRECT_BY_FILE[key])
                continue
            data = _read_json(path)
            correct = data.get("correct") if isinstance(data, dict) else None
            if not isinstance(data, dict) or (correct is not None and not isinstance(correct, bool)):
                raise RunFormatError(f"{path}: key 'correct': expected true, false or null, got {shown(correct)}")
            if key is not None:
                _CORRECT_BY_FILE[key] = correct
            flags.append(correct)
        return flags

    def trajectories(self, dataset: str) -> Iterator[Trajectory]:
        for example_id in self.example_ids(dataset):
            yield self.trajectory(dataset, example_id)

    def has_tensors(self, dataset: str, example_id: str, analysis: str) -> bool:
        return self.layout.result(dataset, example_id, analysis).exists()

    def tensors(self, dataset: str, example_id: str, analysis: str) -> dict[str, np.ndarray]:
        """The raw arrays of one example's result (what a notebook gets from safetensors alone)."""
        from safetensors.numpy import load_file

        path = self.layout.result(dataset, example_id, analysis)
        if not path.exists():
            raise RunFormatError(f"{path}: missing; the run has no {analysis!r} result for {example_id!r}")
        try:
            return load_file(str(self.layout.confined(path)))
        except RunFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
            raise RunFormatError(f"{path}: not a readable safetensors file ({exc})") from exc

    def result(self, dataset: str, example_id: str, kind: type[R]) -> R | None:
        """One example's typed result, or None when that analysis did not run on it.

        Only the tensors ``kind`` declares are read (a projection reads a few of a large file).
        Float tensors hold finite numbers or NaN (not measured; pages show it as missing), never infinity.
        """
        path = self.layout.result(dataset, example_id, kind.analysis)
        return self._kept_or_read(("result", str(path), kind), (path,), lambda: self._read_result(path, kind),
                                  _result_bytes)

    def _read_result(self, path: Path, kind: type[R]) -> R | None:
        from safetensors import safe_open

        if not path.exists():
            return None
        self.layout.confined(path)
        wanted = {f.name for f in dataclasses.fields(kind)}
        try:
            with safe_open(str(path), framework="np") as handle:
                names = list(handle.keys())
                if kind.projection:
                    names = [name for name in names if name in wanted]
                tensors = {name: handle.get_tensor(name) for name in names}
        except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
            raise RunFormatError(f"{path}: not a readable safetensors file ({exc})") from exc
        for name, array in tensors.items():
            if array.dtype.kind == "f" and np.isinf(array).any():
                raise RunFormatError(f"{path}: key {name!r}: holds infinite values; result tensors hold finite "
                                     "numbers, or NaN for a value that was not measured (docs/run-format.md)")
            array.setflags(write=False)  # records are shared (``read_cache``): a page never changes what it read
        try:
            return kind.from_tensors(tensors, str(path))
        except ResultFormatError as exc:
            raise RunFormatError(str(exc)) from exc

    def summary(self, dataset: str, kind: type[D]) -> D | None:
        """A dataset's typed summary, or None when that analysis has none for it."""
        path = self.layout.summary(dataset, kind.analysis)
        if not path.exists():
            return None
        key = (_file_key(self.layout.confined(path)), kind)  # every example page reads the same few summaries
        if key[0] is not None and key in _SUMMARIES:
            return _SUMMARIES[key]
        try:
            summary = kind.from_json(_read_json(path), str(path))
        except ResultFormatError as exc:
            raise RunFormatError(str(exc)) from exc
        if key[0] is not None:
            if len(_SUMMARIES) >= 256:
                _SUMMARIES.clear()
            _SUMMARIES[key] = summary  # records are frozen: sharing one is safe
        return summary


_CORRECT_BY_FILE: dict[tuple, bool | None] = {}  # a trajectory file (path, size, time, inode) -> its 'correct'
_SUMMARIES: dict[tuple, Any] = {}  # (a summary file's version, its type) -> the summary read from it


def _result_bytes(result: ExampleResult) -> int:
    arrays = (getattr(result, f.name) for f in dataclasses.fields(result))
    return sum(array.nbytes for array in arrays if array is not None) + 512


def _trajectory_bytes(trajectory: Trajectory) -> int:
    """About what a trajectory takes in memory (its tokens dominate), for ``read_cache``'s bound."""
    thoughts = trajectory.thoughts.inputs.nbytes if trajectory.thoughts is not None else 0
    return 4 * (len(trajectory.text) + len(trajectory.prompt) + len(trajectory.generated_text)) + 200 * len(
        trajectory.tokens) + thoughts + 2048


def _file_key(path: Path) -> tuple | None:
    """A file as it is now: run files are replaced whole, never changed in place, so a new version has a new key."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def known_correctness() -> list[list]:
    """What ``Run.correctness`` read so far, as JSON-ready rows (kept by a site build for the next one)."""
    return [[*key, correct] for key, correct in _CORRECT_BY_FILE.items()]


def remember_correctness(rows: Any) -> None:
    """Rows ``known_correctness`` gave earlier; malformed rows are ignored (the file is read again)."""
    if not isinstance(rows, list):
        return
    for row in rows:
        if (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str)
                and all(isinstance(n, int) and not isinstance(n, bool) for n in row[1:4])
                and (row[4] is None or isinstance(row[4], bool))):
            _CORRECT_BY_FILE[tuple(row[:4])] = row[4]


def _read_json(path: Path) -> Any:
    """A run file as strict JSON; every way it can fail is a RunFormatError naming the file."""
    try:
        return read_json_file(path)
    except FileNotFoundError as exc:
        raise RunFormatError(f"{path}: missing") from exc
    except OSError as exc:
        raise RunFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except UntrustedJSONError as exc:
        raise RunFormatError(f"{path}: {exc}") from exc


def load_run(directory: Path) -> Run:
    """Open a finished run: its folder name and every manifest field checked (as on write)."""
    root = Path(directory)
    problem = name_problem(root.name)
    if problem:
        raise RunFormatError(f"{root.parent / shown(root.name)}: run folder name: {problem}")
    layout = RunLayout(root)
    data = _read_json(layout.confined(layout.manifest))
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, bool) or version not in READABLE_SCHEMA_VERSIONS:
        raise RunFormatError(f"{layout.manifest}: key 'schema_version': expected one of "
                             f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}, got {shown(version)}")
    try:
        manifest = Manifest.from_json(data, str(layout.manifest))
    except RecordFormatError as exc:
        raise RunFormatError(str(exc)) from exc
    return Run(root, manifest)


def list_runs(base: Path) -> list[Run]:
    """Finished runs under ``base``; hidden (temporary, replaced) directories and unfinished runs are skipped."""
    runs, problems = list_runs_reporting(base)
    if problems:
        raise RunFormatError(problems[0])
    return runs


def list_runs_reporting(base: Path) -> tuple[list[Run], list[str]]:
    """Like ``list_runs``, with runs that cannot be read reported (by file and field) instead of raised."""
    base = Path(base)
    if not base.is_dir():
        return [], []
    runs, problems = [], []
    for path in sorted(base.iterdir()):
        manifest = path / "manifest.json"
        if path.name.startswith(".") or not (manifest.exists() or manifest.is_symlink()):
            continue  # unfinished (the manifest is written last), or not a run
        try:
            runs.append(load_run(path))
        except RunFormatError as exc:
            problems.append(str(exc))
    return runs, problems
