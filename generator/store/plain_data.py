"""Dataclasses from plain data (YAML or JSON), checked against their own annotations.

One validator serves run configs, analysis options and stored results, so every error has
the same shape: the source (a file), the dotted key, and what was expected. It imports
nothing from the rest of the package: config, analyses and the run directory all sit above it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import types
import typing
from typing import Any, Callable, Literal


def shown(value: Any, limit: int = 60) -> str:
    """A short, printable excerpt of an untrusted value for a message (never the whole of a huge one).

    Control and bidirectional characters (not printable to Python) come out as escapes.
    """
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "..."
        return repr(text) if text.isprintable() else ascii(text)
    if isinstance(value, (int, float, bool)) or value is None:
        return repr(value)[:limit]
    size = f" of {len(value)} items" if hasattr(value, "__len__") else ""
    return f"a {type(value).__name__}{size}"


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


class _Mismatch(Exception):
    """The value does not fit the annotation (the caller words the error)."""


@dataclasses.dataclass(frozen=True)
class _Where:
    """Where a value sits, for the error that names it."""

    key: str
    source: str
    error: type[ValueError]
    nonempty: bool

    def at(self, key: str) -> "_Where":
        return dataclasses.replace(self, key=key)


def _literal(value: Any, tp: Any, where: _Where) -> Any:
    options = typing.get_args(tp)
    if value not in options or isinstance(value, bool) != any(isinstance(a, bool) for a in options):
        raise _Mismatch
    return value


def _union(value: Any, tp: Any, where: _Where) -> Any:
    for option in typing.get_args(tp):
        try:
            return _convert(value, option, where)
        except ValueError:
            continue
    raise _Mismatch


def _none(value: Any, tp: Any, where: _Where) -> None:
    if value is not None:
        raise _Mismatch


def _sequence(value: Any, tp: Any, where: _Where) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    (item_type, *_) = typing.get_args(tp)
    fast = _all_plain(value, item_type, where.nonempty)
    if fast is not None:
        return fast
    return tuple(_convert(v, item_type, where.at(f"{where.key}[{i}]")) for i, v in enumerate(value))


def _all_plain(values: list | tuple, item_type: Any, nonempty: bool) -> tuple | None:
    """The common case checked in one pass (a trajectory's tokens, ids and offsets: thousands of items): every
    item a str, an int (never a bool) or a tuple of ints, exactly as the annotation says; None when any item
    is not, so the item-by-item path finds it and names it."""
    if item_type is str:
        ok = all(type(v) is str for v in values) and (not nonempty or all(values))
        return tuple(map(sys.intern, values)) if ok else None  # tokens repeat across a dataset: one copy each
    elif item_type is int:
        ok = all(type(v) is int for v in values)
    elif typing.get_origin(item_type) is tuple and set(typing.get_args(item_type)) - {Ellipsis} == {int}:
        return _int_tuples(values, typing.get_args(item_type))
    else:
        return None
    return tuple(values) if ok else None


def _int_tuples(values: list | tuple, args: tuple) -> tuple | None:
    """Items that are each a tuple of ints (of the annotation's length, unless it ends with ``...``)."""
    length = None if Ellipsis in args else len(args)
    if length == 2:
        return _int_pairs(values)
    ok = all(type(v) in (list, tuple) and (length is None or len(v) == length) and all(type(x) is int for x in v)
             for v in values)
    return tuple(tuple(v) for v in values) if ok else None


def _int_pairs(values: list | tuple) -> tuple | None:
    """Token offsets: one check a pair, without a generator of its own; each pair shared (``_shared_pair``)."""
    ok = all(type(v) in (list, tuple) and len(v) == 2 and type(v[0]) is int and type(v[1]) is int for v in values)
    return tuple(_shared_pair(*v) for v in values) if ok else None


_PAIRS: dict[tuple[int, int], tuple[int, int]] = {}  # offset pairs read so far, each kept once
_PAIRS_KEPT = 1 << 20  # past this many, forgotten and begun again


def _shared_pair(start: int, end: int) -> tuple[int, int]:
    """One tuple for each offset pair read (the same pairs recur in every example of a dataset: a dataset page
    holding 5,000 trajectories kept 2.6 KB of pairs for each)."""
    pair = (start, end)
    shared = _PAIRS.get(pair)
    if shared is None:
        if len(_PAIRS) >= _PAIRS_KEPT:
            _PAIRS.clear()
        shared = _PAIRS[pair] = pair
    return shared


def _mapping(value: Any, tp: Any, where: _Where) -> dict:
    if not isinstance(value, dict):
        raise _Mismatch
    _, value_type = typing.get_args(tp)
    return {str(k): _convert(v if v is not None or not dataclasses.is_dataclass(value_type) else {}, value_type,
                             where.at(f"{where.key}.{k}")) for k, v in value.items()}


def _record(value: Any, tp: Any, where: _Where) -> Any:
    if not isinstance(value, dict):
        raise _Mismatch
    return build_dataclass(tp, value, where.key, where.source, where.error, where.nonempty)


def _exactly(kind: type) -> Callable[[Any, Any, _Where], Any]:
    """A bool is an int to Python, never to a config: each is checked as itself."""
    def check(value: Any, tp: Any, where: _Where) -> Any:
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise _Mismatch
        return value
    return check


def _float(value: Any, tp: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Mismatch
    try:
        number = float(value)
    except OverflowError:
        raise _Mismatch from None
    if not math.isfinite(number):
        raise _Mismatch
    return number


def _string(value: Any, tp: Any, where: _Where) -> str:
    if not isinstance(value, str) or (where.nonempty and not value):
        raise where.error(f"{where.source}: key '{where.key}': expected a {'non-empty ' if where.nonempty else ''}"
                          f"string, got {shown(value)}")
    return value


# (does it handle this annotation?, how to convert), tried in order
_CONVERTERS: list[tuple[Callable[[Any, Any], bool], Callable[[Any, Any, _Where], Any]]] = [
    (lambda tp, origin: origin is Literal, _literal),
    (lambda tp, origin: origin in (typing.Union, types.UnionType), _union),
    (lambda tp, origin: tp is type(None), _none),
    (lambda tp, origin: tp is Any, lambda value, tp, where: value),
    (lambda tp, origin: origin in (tuple, list), _sequence),
    (lambda tp, origin: origin is dict, _mapping),
    (lambda tp, origin: dataclasses.is_dataclass(tp), _record),
    (lambda tp, origin: tp is bool, _exactly(bool)),
    (lambda tp, origin: tp is int, _exactly(int)),
    (lambda tp, origin: tp is float, _float),
    (lambda tp, origin: tp is str, _string),
]


def _convert(value: Any, tp: Any, where: _Where) -> Any:
    """Check ``value`` against the annotation ``tp``; raise ``where.error`` naming the key."""
    try:
        convert = _converter_for(tp)
    except TypeError:  # an annotation that cannot be a cache key
        convert = _converter_for.__wrapped__(tp)
    if convert is None:
        raise TypeError(f"unsupported annotation {tp!r} at {where.key!r}")
    try:
        return convert(value, tp, where)
    except _Mismatch:
        raise where.error(f"{where.source}: key '{where.key}': expected {describe(tp)}, "
                          f"got {shown(value)}") from None


@functools.lru_cache(maxsize=None)
def _converter_for(tp: Any) -> Callable[[Any, Any, _Where], Any] | None:
    """The first of ``_CONVERTERS`` that handles ``tp`` (found once per annotation: a run's thousand
    trajectories check the same few dozen)."""
    origin = typing.get_origin(tp)
    for applies, convert in _CONVERTERS:
        if applies(tp, origin):
            return convert
    return None


def _key_text(key: Any) -> str:
    """An untrusted key as a message quotes it: short, on one line (control characters as escapes)."""
    text = str(key)
    text = text if len(text) <= 60 else text[:60] + "..."
    return text if text.isprintable() else ascii(text)[1:-1]


@functools.lru_cache(maxsize=None)
def _annotations(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    """A dataclass's resolved type hints and init fields (resolving them costs more than most records)."""
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def build_dataclass(cls: type, data: dict, prefix: str, source: str, error: type[ValueError] = PlainDataError,
                    nonempty_strings: bool = True):
    """``cls(**data)`` with every field checked against its annotation; unknown keys refused.

    A ``__post_init__`` that raises ``OptionError`` is reported under ``prefix.<field>``.
    """
    hints, fields = _annotations(cls)
    unknown = sorted(set(data) - set(fields), key=str)  # YAML keys may be null or numbers: compared as text
    if unknown:
        where = f"{prefix}.{_key_text(unknown[0])}" if prefix else _key_text(unknown[0])
        raise error(f"{source}: key '{where}': unknown key; expected one of {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise error(f"{source}: key '{key}': required, expected {describe(hints[name])}")
            continue
        kwargs[name] = _convert(data[name], hints[name], _Where(key, source, error, nonempty_strings))
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
