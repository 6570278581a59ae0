"""Datasets in the shapes researchers have them: Parquet, CSV, JSON files or a hub id in the local cache.

Read through Hugging Face's ``datasets`` library (the loader the hub's own files are made for),
then mapped to our examples: which column is the id, the prompt and the answer, an answer
extracted from a worked solution (GSM8K's ``#### 72``: ``answer_format: hash``), rows kept
by a filter, shuffled with the run's seed and cut to ``limit``. A plain JSONL file with our
field names keeps its own strict reader (``generator/datasets.py``). Nothing is downloaded:
a hub id must already be in the local cache.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.answers import AnswerFormat, locate_answer
from generator.datasets import DatasetError, Example
from generator.store.names import name_problem
from generator.store.plain_data import shown

READERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}


@dataclass(frozen=True)
class FieldMap:
    """Which column holds each of an example's fields (``id: null``: the row's number)."""

    id: str | None = "id"
    prompt: str = "prompt"
    answer: str | None = "answer"


@dataclass(frozen=True)
class TableSource:
    """Where a dataset's rows come from and how they become examples."""

    path: str | None = None  # a file (.parquet, .csv, .json, .jsonl)
    hub: str | None = None  # or a hub dataset id, already in the local cache
    subset: str | None = None  # the hub dataset's configuration (GSM8K: main)
    split: str = "train"  # a file's rows are its 'train' split
    fields: FieldMap = field(default_factory=FieldMap)
    answer_format: AnswerFormat | None = None  # extract the answer from the answer column (hash: after ####)
    filter: dict[str, Any] = field(default_factory=dict)  # keep rows whose columns equal these values
    shuffle: bool = False  # shuffled with the run's seed (before limit)

    def where(self) -> str:
        return f"{self.path or self.hub} (split {self.split!r})"


def read_table(source: TableSource, seed: int, limit: int | None) -> tuple[list[Example], list[Path]]:
    """The examples, and the files they were read from (a resumed run checks their bytes).

    A file is converted in a temporary folder of ours (removed after), never in the user's cache.
    """
    with tempfile.TemporaryDirectory(prefix="atlas-dataset-") as scratch:
        table = _open(source, scratch)
        files = _files(source) or sorted({Path(f["filename"]) for f in table.cache_files})
        examples = _examples(table, source, seed, limit)
    return examples, files


def _examples(table, source: TableSource, seed: int, limit: int | None) -> list[Example]:
    for column in [c for c in (source.fields.id, source.fields.prompt, source.fields.answer) if c] + list(source.filter):
        if column not in table.column_names:
            raise DatasetError(f"{source.where()}: field {column!r}: no such column (columns: "
                               f"{', '.join(table.column_names)})")
    table = table.add_column("__row__", list(range(len(table))))
    if source.filter:
        table = table.filter(lambda row: all(row[k] == v for k, v in source.filter.items()))
    if source.shuffle:
        table = table.shuffle(seed=seed)
    if limit:
        table = table.select(range(min(limit, len(table))))
    examples = [_example(row, source) for row in table]
    if not examples:
        raise DatasetError(f"{source.where()}: no examples (after the filter)" if source.filter else
                           f"{source.where()}: no examples")
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise DatasetError(f"{source.where()}: field {source.fields.id!r}: {example.id!r} is used twice")
        seen.add(example.id)
    return examples


def _open(source: TableSource, scratch: str):
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # never a download in the middle of a run
    import datasets

    datasets.disable_progress_bars()
    try:
        if source.hub is not None:
            return datasets.load_dataset(source.hub, source.subset, split=source.split)
        path = Path(source.path)
        if not path.is_file():
            raise DatasetError(f"{path}: dataset file not found")
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise DatasetError(f"{path}: expected a .jsonl, .json, .csv or .parquet file")
        return datasets.load_dataset(reader, data_files={source.split: str(path)}, split=source.split,
                                     cache_dir=scratch, keep_in_memory=True)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the library's many kinds of failure, named in one line
        hint = (" (a hub dataset must be in the local cache: download it where there is a network)"
                if source.hub is not None else "")
        raise DatasetError(f"{source.where()}: cannot be read ({type(exc).__name__}: "
                           f"{shown(str(exc).splitlines()[0] if str(exc) else '', 200)}){hint}") from exc


def _files(source: TableSource) -> list[Path]:
    return [Path(source.path)] if source.path else []


def _example(row: dict, source: TableSource) -> Example:
    fields = source.fields
    where = f"{source.where()}: row {row['__row__']}"
    example_id = str(row[fields.id]) if fields.id else str(row["__row__"])
    if name_problem(example_id):
        raise DatasetError(f"{where}: field {fields.id!r}: {name_problem(example_id)} (it names files and a page; "
                           "set fields.id: null to number the rows)")
    prompt = row[fields.prompt]
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetError(f"{where}: field {fields.prompt!r}: expected a non-empty string, got {shown(prompt)}")
    answer = None if not fields.answer or row[fields.answer] is None else str(row[fields.answer])
    if answer is not None and source.answer_format is not None:
        found = locate_answer(answer, source.answer_format, "")
        if found is None:
            raise DatasetError(f"{where}: field {fields.answer!r}: no answer in the {source.answer_format!r} format "
                               f"in {shown(answer)}")
        answer = found.value
    used = {fields.id, fields.prompt, fields.answer, "__row__"}
    extra = {k: v for k, v in row.items() if k not in used and isinstance(v, (str, int, float, bool))}
    if fields.answer and source.answer_format is not None:
        extra["solution"] = str(row[fields.answer])  # the worked solution the answer came from
    return Example(example_id, prompt, answer, extra=extra)
