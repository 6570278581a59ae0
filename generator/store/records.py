"""The run directory's data model: the records that cross from analyses to pages.

Each record is a dataclass that round-trips exactly through plain JSON (``to_json`` /
``from_json``), so a run directory loads in a notebook with ``json`` and ``safetensors``
alone; these classes are a convenience, never a requirement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.store.names import name_problem
from generator.store.plain_data import build_dataclass, shown

class RecordFormatError(ValueError):
    """A stored record that does not match its type; the message names the source and the key."""


SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)  # version 1: analyses as bare names, no model source


@dataclass(frozen=True)
class Segment:
    """A named part of the token sequence: ``tokens[start:end]``, ``text[char_start:char_end]``."""

    name: str  # "question", "step 1", ..., "thought 1", ..., "answer"
    kind: str  # "question" | "step" | "latent" (a continuous thought) | "answer" | "other"
    start: int
    end: int
    char_start: int
    char_end: int

    @property
    def is_reasoning(self) -> bool:
        """A unit of reasoning that analyses of steps work on: a text step, or a continuous thought."""
        return self.kind in ("step", "latent")


def segment_ids(segments: tuple[Segment, ...], n_tokens: int) -> np.ndarray:
    """Index of each token's segment (-1 for none), for building segment matrices."""
    ids = np.full(n_tokens, -1, dtype=np.int64)
    for index, seg in enumerate(segments):
        ids[seg.start:seg.end] = index
    return ids


THOUGHTS_FILE = "thoughts.safetensors"  # a latent trajectory's thought inputs, beside its trajectory.json


@dataclass(frozen=True, eq=False)
class LatentThoughts:
    """The input vector of each continuous thought, in order (``inputs`` [thoughts, d] float32).

    Stored as ``thoughts.safetensors`` (key ``inputs``) beside ``trajectory.json``: each ``latent``
    segment, in order, is one row, and its token id is only a placeholder for it.
    """

    inputs: np.ndarray
    placeholder_id: int


@dataclass(frozen=True)
class Trajectory:
    """One example as the model saw and produced it."""

    example_id: str
    dataset: str
    prompt: str  # as given in the dataset
    generated_text: str  # what the model produced, decoded without special tokens
    text: str  # the decoded whole sequence; token offsets and segment spans index into it
    tokens: tuple[str, ...]  # display text of each token, special tokens by name ('<bos>')
    token_offsets: tuple[tuple[int, int], ...]  # character span in ``text``; specials are empty spans
    token_ids: tuple[int, ...]
    n_prompt_tokens: int
    segments: tuple[Segment, ...]
    expected_answer: str | None
    parsed_answer: str | None
    correct: bool | None
    metadata: dict[str, Any] = field(default_factory=dict)
    # the parsed answer as the run's check read it (a number's value, math-verify's reading); written
    # only by runs whose check is `numeric` or `math`
    normalized_answer: str | None = None
    # a latent trajectory's thought vectors: never in trajectory.json (read from thoughts.safetensors)
    thoughts: LatentThoughts | None = field(default=None, compare=False, repr=False)

    @property
    def latent_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.kind == "latent")

    @property
    def thought_positions(self) -> list[int]:
        """The token position of each continuous thought, in order (each is one position)."""
        return [s.start for s in self.latent_segments]

    def segment(self, name: str) -> Segment:
        for seg in self.segments:
            if seg.name == name:
                return seg
        raise KeyError(f"example {self.example_id!r} has no segment {name!r}")

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tokens"] = list(self.tokens)
        data["token_offsets"] = [list(o) for o in self.token_offsets]
        data["token_ids"] = list(self.token_ids)
        data["segments"] = [dataclasses.asdict(s) for s in self.segments]
        if self.normalized_answer is None:
            del data["normalized_answer"]  # runs with the exact check read as they always did
        del data["thoughts"]
        return data

    @classmethod
    def from_json(cls, data: Any, source: str = "trajectory.json") -> "Trajectory":
        """A trajectory from plain JSON, every field type-checked and every span inside the sequence."""
        if not isinstance(data, dict):
            raise RecordFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if "thoughts" in data:
            raise RecordFormatError(f"{source}: key 'thoughts': unknown key (thought vectors are stored in "
                                    f"{THOUGHTS_FILE})")
        trajectory = build_dataclass(cls, data, "", source, RecordFormatError, nonempty_strings=False)
        trajectory.check(source)
        return trajectory

    def check(self, source: str) -> None:
        """Names as on write; tokens, offsets and segments that index into this sequence."""
        for key in ("example_id", "dataset"):
            problem = name_problem(getattr(self, key))
            if problem:
                raise RecordFormatError(f"{source}: key '{key}': {problem}")
        n, length = len(self.tokens), len(self.text)
        for key in ("token_offsets", "token_ids"):
            if len(getattr(self, key)) != n:
                raise RecordFormatError(f"{source}: key '{key}': expected one entry per token ({n}), "
                                        f"got {len(getattr(self, key))}")
        for index, offset in enumerate(self.token_offsets):
            if len(offset) != 2 or not 0 <= offset[0] <= offset[1] <= length:
                raise RecordFormatError(f"{source}: key 'token_offsets[{index}]': expected [start, end] with "
                                        f"0 <= start <= end <= {length} (the text's length), got {list(offset)}")
        if not 0 <= self.n_prompt_tokens <= n:
            raise RecordFormatError(f"{source}: key 'n_prompt_tokens': expected 0 to {n}, got {self.n_prompt_tokens}")
        for index, seg in enumerate(self.segments):
            if not (0 <= seg.start <= seg.end <= n and 0 <= seg.char_start <= seg.char_end <= length):
                raise RecordFormatError(f"{source}: key 'segments[{index}]': span outside the sequence (tokens "
                                        f"{seg.start}:{seg.end} of {n}, characters {seg.char_start}:{seg.char_end} "
                                        f"of {length})")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    revision: str | None
    weights_sha256: str | None  # hash of the weight files, for local models without a revision
    architecture: str
    num_layers: int
    num_heads: int
    dtype: str
    device: str
    source: str | None = None  # "local", "hub" or "imported" (null in schema 1)


@dataclass(frozen=True)
class AnalysisEntry:
    """An analysis that ran, and the record types its files hold (class names, for readers)."""

    name: str
    example_result: str | None
    dataset_summary: str | None


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    source: str
    example_ids: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSettings:
    """A dataset's entry in the recorded config, as pages read it."""

    description: str | None  # shown on the dataset's page
    agent: bool  # answered by the agent loop (``datasets[i].agent``)


@dataclass(frozen=True)
class Manifest:
    """What produced a run, so its numbers can be traced and reproduced."""

    schema_version: int
    run_name: str
    created: str
    model: ModelInfo
    config: dict[str, Any]
    config_sha256: str
    library_versions: dict[str, str]
    datasets: tuple[DatasetEntry, ...]
    analyses: tuple[AnalysisEntry, ...]
    producer: str = "attention-atlas"

    @property
    def analysis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.analyses)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["datasets"] = [
            {**dataclasses.asdict(d), "example_ids": list(d.example_ids)} for d in self.datasets
        ]
        data["analyses"] = [dataclasses.asdict(a) for a in self.analyses]
        return data

    @classmethod
    def from_json(cls, data: Any, source: str = "manifest.json") -> "Manifest":
        """Read schema 2, or schema 1 (analyses as bare names; the schema version stays as read).

        Every field is type-checked; dataset names and example ids are checked as on write.
        """
        if not isinstance(data, dict):
            raise RecordFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        if isinstance(data.get("analyses"), list):  # schema 1: bare names
            data["analyses"] = [{"name": a, "example_result": None, "dataset_summary": None} if isinstance(a, str)
                                else a for a in data["analyses"]]
        manifest = build_dataclass(cls, data, "", source, RecordFormatError, nonempty_strings=False)
        manifest.check(source)
        return manifest

    def check(self, source: str) -> None:
        try:
            dt.datetime.fromisoformat(self.created)
        except ValueError:
            raise RecordFormatError(f"{source}: key 'created': expected an ISO 8601 date and time, "
                                    f"got {shown(self.created)}") from None
        for key in ("num_layers", "num_heads"):
            if getattr(self.model, key) < 0:
                raise RecordFormatError(f"{source}: key 'model.{key}': expected a count (0 or more), "
                                        f"got {getattr(self.model, key)}")
        if not self.datasets:
            raise RecordFormatError(f"{source}: key 'datasets': expected at least one dataset")
        seen: set[str] = set()
        for index, entry in enumerate(self.datasets):
            problem = name_problem(entry.name)
            if problem:
                raise RecordFormatError(f"{source}: key 'datasets[{index}].name': {problem}")
            if entry.name in seen:
                raise RecordFormatError(f"{source}: key 'datasets[{index}].name': {entry.name!r} is listed twice")
            seen.add(entry.name)
            ids: set[str] = set()
            for position, example_id in enumerate(entry.example_ids):
                problem = name_problem(example_id)
                if problem:
                    raise RecordFormatError(f"{source}: key 'datasets[{index}].example_ids[{position}]': {problem}")
                if example_id in ids:
                    raise RecordFormatError(f"{source}: key 'datasets[{index}].example_ids[{position}]': "
                                            f"{example_id!r} is listed twice")
                ids.add(example_id)
        for index, entry in enumerate(self.analyses):
            problem = name_problem(entry.name)
            if problem:
                raise RecordFormatError(f"{source}: key 'analyses[{index}].name': {problem}")

    def dataset_settings(self, name: str) -> "DatasetSettings":
        """What pages need of the config's entry for dataset ``name``, typed.

        ``config`` is recorded as written and read back untyped: any shape is tolerated here, and
        what is not of the expected type counts as absent.
        """
        datasets = self.config.get("datasets")
        entry = next((d for d in datasets if isinstance(d, dict) and d.get("name") == name), {}) \
            if isinstance(datasets, list) else {}
        description = entry.get("description")
        return DatasetSettings(description if isinstance(description, str) else None, bool(entry.get("agent")))
