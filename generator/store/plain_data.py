"""Dataclasses from plain data (YAML or JSON), checked against their own annotations.

One validator serves run configs, analysis options and stored results, so every error has
the same shape: the source (a file), the dotted key, and what was expected. It imports
nothing from the rest of the package: config, analyses and the run directory all sit above it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal


def shown(value: Any, limit: int = 60) -> str:
    """A short, printable excerpt of an untrusted value for a message (never the whole of a huge one).

    Control and bidirectional characters come out as escapes (``repr`` of a string does that).
    """
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "..."
        return ascii(text) if _needs_escape(text) else repr(text)
    if isinstance(value, (int, float, bool)) or value is None:
        return repr(value)[:limit]
    size = f" of {len(value)} items" if hasattr(value, "__len__") else ""
    return f"a {type(value).__name__}{size}"


def _needs_escape(text: str) -> bool:
    return any(not ch.isprintable() or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" for ch in text)


class PlainDataError(ValueError):
    """Data that does not fit a dataclass; the message names the source and the key."""


class OptionError(ValueError):
    """Raised by a dataclass's ``__post_init__`` for one field; reported as ``<prefix>.<field>``."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def describe(tp: Any) -> str:
    """What a value of annotation ``tp`` looks like, in words for an error message."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"a list of {describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, key: str, source: str, error: type[ValueError], nonempty: bool) -> Any:
    """Check ``value`` against the annotation ``tp``; raise ``error`` naming ``key``."""
    origin = typing.get_origin(tp)
    fail = error(f"{source}: key '{key}': expected {describe(tp)}, got {shown(value)}")
    if origin is Literal:
        if value not in typing.get_args(tp) or isinstance(value, bool) != any(isinstance(a, bool) for a in typing.get_args(tp)):
            raise fail
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, key, source, error, nonempty)
            except ValueError:
                continue
        raise fail
    if tp is type(None):
        if value is not None:
            raise fail
        return None
    if tp is Any:
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise fail
        (item_type, *_) = typing.get_args(tp)
        return tuple(_convert(v, item_type, f"{key}[{i}]", source, error, nonempty) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise fail
        _, value_type = typing.get_args(tp)
        return {str(k): _convert(v if v is not None or not dataclasses.is_dataclass(value_type) else {}, value_type,
                                 f"{key}.{k}", source, error, nonempty) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail
        return build_dataclass(tp, value, key, source, error, nonempty)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail
        try:
            number = float(value)
        except OverflowError:
            raise fail from None
        if not math.isfinite(number):
            raise fail
        return number
    if tp is str:
        if not isinstance(value, str) or (nonempty and not value):
            raise error(f"{source}: key '{key}': expected a {'non-empty ' if nonempty else ''}string, got {shown(value)}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {key!r}")


def build_dataclass(cls: type, data: dict, prefix: str, source: str, error: type[ValueError] = PlainDataError,
                    nonempty_strings: bool = True):
    """``cls(**data)`` with every field checked against its annotation; unknown keys refused.

    A ``__post_init__`` that raises ``OptionError`` is reported under ``prefix.<field>``.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise error(f"{source}: key '{where}': unknown key; expected one of {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise error(f"{source}: key '{key}': required, expected {describe(hints[name])}")
            continue
        kwargs[name] = _convert(data[name], hints[name], key, source, error, nonempty_strings)
    try:
        return cls(**kwargs)
    except OptionError as exc:
        key = f"{prefix}.{exc.field_name}" if prefix else exc.field_name
        raise error(f"{source}: key '{key}': {exc.message}") from exc


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and dicts as JSON-ready lists and dicts (the inverse of ``build_dataclass``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value
