"""The run directory's data model: the records that cross from analyses to pages.

Each record is a dataclass that round-trips exactly through plain JSON (``to_json`` /
``from_json``), so a run directory loads in a notebook with ``json`` and ``safetensors``
alone; these classes are a convenience, never a requirement.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)  # version 1: analyses as bare names, no model source


@dataclass(frozen=True)
class Segment:
    """A named part of the token sequence: ``tokens[start:end]``, ``text[char_start:char_end]``."""

    name: str  # "question", "step 1", ..., "answer"
    kind: str  # "question" | "step" | "answer" | "other"
    start: int
    end: int
    char_start: int
    char_end: int


def segment_ids(segments: tuple[Segment, ...], n_tokens: int) -> np.ndarray:
    """Index of each token's segment (-1 for none), for building segment matrices."""
    ids = np.full(n_tokens, -1, dtype=np.int64)
    for index, seg in enumerate(segments):
        ids[seg.start:seg.end] = index
    return ids


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
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Trajectory":
        data = dict(data)
        data["tokens"] = tuple(data["tokens"])
        data["token_offsets"] = tuple(tuple(o) for o in data["token_offsets"])
        data["token_ids"] = tuple(data["token_ids"])
        data["segments"] = tuple(Segment(**s) for s in data["segments"])
        return cls(**data)


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
    def from_json(cls, data: dict[str, Any]) -> "Manifest":
        """Read schema 2, or schema 1 (analyses as bare names; the schema version stays as read)."""
        data = dict(data)
        data["model"] = ModelInfo(**data["model"])
        data["datasets"] = tuple(
            DatasetEntry(d["name"], d["source"], tuple(d["example_ids"])) for d in data["datasets"]
        )
        data["analyses"] = tuple(AnalysisEntry(a, None, None) if isinstance(a, str) else AnalysisEntry(**a)
                                 for a in data["analyses"])
        return cls(**data)
