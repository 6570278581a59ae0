"""Prompt datasets: JSONL files, one example per line, validated line by line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.store.names import name_problem
from generator.store.plain_data import shown
from generator.store.untrusted_json import UntrustedJSONError, parse_json


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names file, line and field."""


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    answer: str | None = None
    difficulty: str | None = None
    category: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the text the model reads when it is not ``prompt`` itself: the prompt through the tokenizer's chat
    # template (``prompts.format: chat``), which writes its own special tokens
    model_input: str | None = None

    def model_text(self) -> tuple[str, bool]:
        """What the model reads, and whether the tokenizer should add its special tokens (<bos>) to it."""
        return (self.prompt, True) if self.model_input is None else (self.model_input, False)

    def trajectory_metadata(self) -> dict[str, Any]:
        """What a trajectory of this example keeps of it: difficulty, category, extra fields, the rendered prompt."""
        metadata = {k: v for k, v in (("difficulty", self.difficulty), ("category", self.category)) if v}
        metadata.update(self.extra)
        if self.model_input is not None:
            metadata["rendered_prompt"] = self.model_input  # what the model read: the chat template's rendering
        return metadata


KNOWN_FIELDS = {"id", "prompt", "query", "answer", "difficulty", "category"}


def _optional_text(value: Any, where: str, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DatasetError(f"{where}: field '{name}': expected a string or number, got {type(value).__name__}")
    return str(value)


def parse_example(data: Any, where: str) -> Example:
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if "prompt" not in data and "query" in data:  # agent datasets name it the query
        data = {**data, "prompt": data["query"]}
    for name in ("id", "prompt"):
        if name not in data:
            raise DatasetError(f"{where}: field '{name}': missing (required; agent datasets may name it 'query')"
                               if name == "prompt" else f"{where}: field '{name}': missing (required)")
    example_id, prompt = data["id"], data["prompt"]
    if isinstance(example_id, int) and not isinstance(example_id, bool):
        example_id = str(example_id)
    if name_problem(example_id):
        raise DatasetError(f"{where}: field 'id': {name_problem(example_id)} (it names files and a page)")
    if not isinstance(prompt, str) or not prompt:
        raise DatasetError(f"{where}: field 'prompt': expected a non-empty string, got {shown(prompt)}")
    return Example(
        id=example_id,
        prompt=prompt,
        answer=_optional_text(data.get("answer"), where, "answer"),
        difficulty=_optional_text(data.get("difficulty"), where, "difficulty"),
        category=_optional_text(data.get("category"), where, "category"),
        extra={k: v for k, v in data.items() if k not in KNOWN_FIELDS},
    )


def load_dataset(path: Path, limit: int | None = None) -> list[Example]:
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory; expected a JSONL file (one JSON object per line)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: dataset file not found") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc})") from exc
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = parse_json(line)
        except UntrustedJSONError as exc:
            raise DatasetError(f"{where}: {exc}") from exc
        example = parse_example(data, where)
        if example.id in seen:
            raise DatasetError(f"{where}: field 'id': {example.id!r} already used on line {seen[example.id]}")
        seen[example.id] = number
        examples.append(example)
    if not examples:
        raise DatasetError(f"{path}: no examples (expected one JSON object per line)")
    return examples[:limit] if limit else examples
