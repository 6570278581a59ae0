"""The analyses' part of docs/run-format.md, generated from the result types themselves.

``python -m generator.format_doc`` rewrites the block between the markers in
docs/run-format.md; a test fails when the file and the types disagree, so the documented
format is always the one the code writes.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from pathlib import Path

from generator.results import RESULT_TYPES, declarations
from generator.store.atomic import atomic_write_text
from generator.store.result_types import annotation_text, field_doc

BEGIN = "<!-- BEGIN GENERATED from generator/results/ by `python -m generator.format_doc`; do not edit -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "run-format.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _records_inside(cls: type, seen: list[type]) -> None:
    """Nested dataclasses of a summary, in first-use order, each once."""
    for hint in typing.get_type_hints(cls).values():
        for inner in _dataclasses_in(hint):
            if inner not in seen:
                seen.append(inner)
                _records_inside(inner, seen)


def _dataclasses_in(hint) -> list[type]:
    if dataclasses.is_dataclass(hint):
        return [hint]
    return [found for arg in typing.get_args(hint) for found in _dataclasses_in(arg)]


def _field_table(cls: type) -> list[str]:
    lines = ["| field | type | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        lines.append(f"| `{f.name}` | `{_cell(annotation_text(cls, f.name))}` | {_cell(field_doc(f))} |")
    return lines


def generated_block() -> str:
    lines = [BEGIN, ""]
    records: list[type] = []
    for name in (d.name for d in declarations() if d.name in RESULT_TYPES):
        lines += _analysis_tables(name, RESULT_TYPES.get(name), records)
    if records:
        lines += ["### Records inside summaries", ""]
        for record in records:
            doc = (record.__doc__ or "").strip()
            lines += [f"`{record.__name__}`" + (f": {doc}" if doc and not doc.startswith(record.__name__ + "(") else ""),
                      ""] + _field_table(record) + [""]
    lines.append(END)
    return "\n".join(lines)


def _analysis_tables(name: str, types, records: list[type]) -> list[str]:
    """One analysis's files and fields; the records nested in its summary are added to ``records``."""
    lines = [f"### `{name}`", "", types.description, ""]
    if types.example is not None:
        lines += [f"`examples/<dataset>/<example_id>/{name}.safetensors` holds `{types.example.__name__}`: "
                  f"{types.example.__doc__.strip()}", "",
                  "| tensor | shape | dtype | meaning |", "|---|---|---|---|"]
        for f in dataclasses.fields(types.example):
            optional = " (optional)" if f.default is None else ""
            lines.append(f"| `{f.name}`{optional} | `{f.metadata['shape']}` | {f.metadata['dtype']} | "
                         f"{_cell(field_doc(f))} |")
        lines.append("")
    if types.summary is not None:
        doc = (types.summary.__doc__ or "").strip()
        intro = f": {doc}" if doc and not doc.startswith(types.summary.__name__ + "(") else "."
        lines += [f"`datasets/<dataset>/{name}.json` holds `{types.summary.__name__}`{intro}", ""]
        lines += _field_table(types.summary) + [""]
        _records_inside(types.summary, records)
    return lines


def updated(text: str) -> str:
    """``text`` with its generated block replaced by the current one."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{DOC}: the markers of the generated block are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + generated_block() + tail


def main() -> int:
    atomic_write_text(DOC, updated(DOC.read_text(encoding="utf-8")))
    print(f"Wrote the result tables into {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
