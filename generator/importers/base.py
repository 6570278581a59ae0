"""What every importer shares: validation errors, a manifest for data no model produced here."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from generator.store.records import SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, ModelInfo, Trajectory
from generator.store.result_types import DatasetSummary, ExampleResult
from generator.store.untrusted_json import UntrustedJSONError, parse_json
from generator.store.run_directory import RunWriter, check_name, check_target, write_run


class ImportValidationError(ValueError):
    """Input that cannot be imported; the message names the file, the field and what was expected."""


@dataclass
class ImportedExample:
    trajectory: Trajectory
    results: tuple[ExampleResult, ...]  # typed results, as an analysis of ours would have written them


@dataclass
class ImportedRun:
    model: str
    num_layers: int
    num_heads: int
    examples: list[ImportedExample]
    summaries: dict[str, list[DatasetSummary]] = field(default_factory=dict)  # dataset -> its summaries


@dataclass(frozen=True)
class Importer:
    kind: str
    help: str
    read: Callable[[Path], ImportedRun]  # validates everything; raises ImportValidationError


def safe_id(value: Any, taken: set[str]) -> str:
    """A file-safe, unique example id made from any text."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-.") or "example"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def finite_array(value: Any, where: str, field_name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """A float32 array of the given rank (or one of the given ranks) with no NaN or infinity, or a clear error."""
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    wanted = " or ".join(f"{r}-D" for r in ranks)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImportValidationError(f"{where}: field '{field_name}': expected a {wanted} array of numbers ({exc})") from exc
    if array.ndim not in ranks:
        raise ImportValidationError(f"{where}: field '{field_name}': expected a {wanted} array, got shape {array.shape}")
    if array.size == 0:
        raise ImportValidationError(f"{where}: field '{field_name}': expected a non-empty array")
    if not np.isfinite(array).all():
        raise ImportValidationError(f"{where}: field '{field_name}': contains NaN or infinity")
    if np.abs(array).max() > np.finfo(np.float32).max:
        raise ImportValidationError(f"{where}: field '{field_name}': values too large for float32")
    return array.astype(np.float32)


def read_json(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportValidationError(f"{path}: cannot read ({exc})") from exc
    try:
        return parse_json(text, nan_as_float=True)  # NaN is named later, by field
    except UntrustedJSONError as exc:
        raise ImportValidationError(f"{path}: {exc}") from exc


def require(data: Any, key: str, kind: type | tuple, where: str, expected: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ImportValidationError(f"{where}: field '{key}': missing (expected {expected})")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ImportValidationError(f"{where}: field '{key}': expected {expected}, got {type(value).__name__}")
    return value


def source_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def import_run(importer: Importer, source: Path, run_name: str, runs_dir: Path, overwrite: bool = False) -> Path:
    """Validate ``source`` completely, then write the run directory in one atomic step.

    The target may be absent, empty, or an import of ours from the same source; an import of
    another source is replaced only with ``overwrite``, and anything else never.
    """
    check_name(run_name, "run name")
    source = Path(source)
    if not source.exists():
        raise ImportValidationError(f"{source}: not found")
    files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    check_target(Path(runs_dir) / run_name, source_hash(files), overwrite)
    imported = importer.read(source)
    datasets: dict[str, list[str]] = {}
    analyses: dict[str, AnalysisEntry] = {}
    for example in imported.examples:
        datasets.setdefault(example.trajectory.dataset, []).append(example.trajectory.example_id)
        for result in example.results:
            analyses.setdefault(result.analysis, AnalysisEntry(result.analysis, type(result).__name__, None))
    for summary in (s for items in imported.summaries.values() for s in items):
        entry = analyses.get(summary.analysis, AnalysisEntry(summary.analysis, None, None))
        analyses[summary.analysis] = AnalysisEntry(entry.name, entry.example_result, type(summary).__name__)
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        run_name=run_name,
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        model=ModelInfo(imported.model, None, None, "unknown (imported)", imported.num_layers, imported.num_heads,
                        "unknown", "none", source="imported"),
        config={"import": importer.kind, "source": source.name},
        config_sha256=source_hash(files),
        library_versions={},
        datasets=tuple(DatasetEntry(name, source.name, tuple(ids)) for name, ids in datasets.items()),
        analyses=tuple(analyses[name] for name in sorted(analyses)),
    )

    def fill(writer: RunWriter) -> None:
        for example in imported.examples:
            writer.write_trajectory(example.trajectory)
            for result in example.results:
                writer.write_result(example.trajectory.dataset, example.trajectory.example_id, result)
        for dataset, summaries in imported.summaries.items():
            for summary in summaries:
                writer.write_summary(dataset, summary)
        writer.write_summary_statistics(imported.summaries)
        writer.write_manifest(manifest)

    return write_run(Path(runs_dir) / run_name, fill)


def text_trajectory(example_id: str, dataset: str, tokens: list[str], prompt: str = "", generated: str = "",
                    segments=(), metadata: dict | None = None) -> Trajectory:
    """A trajectory for imported tokens: the text is the tokens joined; token ids are unknown (-1)."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token)
    return Trajectory(example_id=example_id, dataset=dataset, prompt=prompt, generated_text=generated,
                      text="".join(tokens), tokens=tuple(tokens), token_offsets=tuple(offsets),
                      token_ids=tuple([-1] * len(tokens)), n_prompt_tokens=len(tokens), segments=tuple(segments),
                      expected_answer=None, parsed_answer=None, correct=None, metadata=metadata or {})
