"""Typed analysis results: the records that cross from analyses to pages, importers and notebooks.

Every analysis declares two frozen dataclasses: an ``ExampleResult`` (numpy arrays, one
safetensors file per example) and a ``DatasetSummary`` (plain JSON, one file per dataset).
Each field says its shape and meaning in its metadata; docs/run-format.md is generated from
those (``generator.format_doc``), so the documentation cannot drift from the types.
Both load back exactly (``load(save(x)) == x``) and need nothing but json and safetensors.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from generator.registry import Registry
from generator.store.plain_data import build_dataclass, to_plain

RESULT_TYPE_KEY = "atlas.result"  # safetensors metadata: which ExampleResult a file holds


class ResultFormatError(ValueError):
    """A stored result that does not match its type; the message names the file and the key."""


def tensor(shape: str, doc: str, dtype: str = "float32", optional: bool = False) -> Any:
    """A tensor field; ``shape`` is written like ``[L, H, T]`` (checked on load: the rank)."""
    metadata = {"shape": shape, "doc": doc, "dtype": dtype}
    return dataclasses.field(default=None, metadata=metadata) if optional else dataclasses.field(metadata=metadata)


def value(doc: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A JSON field of a summary (or of a record inside one)."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"doc": doc})


def rank(shape: str) -> int:
    inside = shape.strip()[1:-1].strip()
    return 0 if not inside else len(inside.split(","))


E = TypeVar("E", bound="ExampleResult")
S = TypeVar("S", bound="DatasetSummary")


@dataclass(frozen=True, eq=False)
class ExampleResult:
    """One example's result of one analysis: named numpy arrays (``None`` for absent optional ones).

    A *projection* (``projection = True``) declares a subset of another record's tensors, to read
    only those from its file (e.g. what a dataset summary needs of every example).
    """

    analysis: ClassVar[str]
    projection: ClassVar[bool] = False

    def to_tensors(self) -> dict[str, np.ndarray]:
        return {f.name: np.ascontiguousarray(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def __post_init__(self) -> None:
        """Every array has its declared rank and dtype: a result that would not load is never made."""
        for f in dataclasses.fields(self):
            array = getattr(self, f.name)
            if array is None:
                if f.default is dataclasses.MISSING:
                    raise ResultFormatError(f"{type(self).__name__}: key {f.name!r}: missing")
                continue
            if not isinstance(array, np.ndarray):
                raise ResultFormatError(f"{type(self).__name__}: key {f.name!r}: expected a numpy array, "
                                        f"got {type(array).__name__}")
            if array.ndim != rank(f.metadata["shape"]):
                raise ResultFormatError(f"{type(self).__name__}: key {f.name!r}: expected shape "
                                        f"{f.metadata['shape']}, got {list(array.shape)}")
            if array.dtype.name != f.metadata["dtype"]:
                raise ResultFormatError(f"{type(self).__name__}: key {f.name!r}: expected {f.metadata['dtype']}, "
                                        f"got {array.dtype.name}")

    @classmethod
    def from_tensors(cls: type[E], tensors: dict[str, np.ndarray], source: str) -> E:
        """The record stored in one safetensors file; errors name ``source`` and the key."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(tensors) - set(fields))
        if unknown and not cls.projection:
            raise ResultFormatError(f"{source}: key {unknown[0]!r}: not a tensor of {cls.__name__} "
                                    f"(expected some of {', '.join(fields)})")
        missing = [name for name, f in fields.items() if name not in tensors and f.default is dataclasses.MISSING]
        if missing:
            raise ResultFormatError(f"{source}: key {missing[0]!r}: missing ({cls.__name__} needs it, "
                                    f"shape {fields[missing[0]].metadata['shape']})")
        try:
            return cls(**{name: array for name, array in tensors.items() if name in fields})
        except ResultFormatError as exc:
            raise ResultFormatError(f"{source}: {str(exc).split(': ', 1)[1]}") from exc

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if (a is None) != (b is None):
                return False
            if a is not None and not (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset's summary of one analysis: plain JSON values, nested dataclasses allowed."""

    analysis: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_json(cls: type[S], data: Any, source: str) -> S:
        if not isinstance(data, dict):
            raise ResultFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
        return build_dataclass(cls, data, "", source, ResultFormatError, nonempty_strings=False)


@dataclass(frozen=True)
class ResultTypes:
    """The two record types of one analysis, for documentation and for readers of old runs."""

    analysis: str
    example: type[ExampleResult] | None
    summary: type[DatasetSummary] | None
    description: str


RESULT_TYPES: Registry[ResultTypes] = Registry("result types")  # filled by results.declaration.declare_analysis


def field_doc(f: dataclasses.Field) -> str:
    return f.metadata.get("doc", "")


def annotation_text(cls: type, name: str) -> str:
    """A field's annotation as a reader would write it (``float | None``, ``MeanWithCI``)."""
    hint = typing.get_type_hints(cls)[name]
    text = re.sub(r"\b(?:typing|generator\.[\w.]+)\.", "", str(hint) if typing.get_origin(hint) else hint.__name__)
    return text.replace("NoneType", "None")
