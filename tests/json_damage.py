"""Shared by the property tests: every key path in a JSON value, and a copy with one of them replaced."""

from __future__ import annotations

from typing import Any, Iterator


def json_paths(value: Any, prefix: tuple = (), max_items: int | None = None) -> Iterator[tuple]:
    """Every key path in ``value`` (its containers too); lists contribute at most ``max_items`` items."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, prefix + (key,), max_items)
    elif isinstance(value, list):
        for index, item in enumerate(value[:max_items]):
            yield from json_paths(item, prefix + (index,), max_items)


def replaced(value: Any, path: tuple, new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced by ``new`` (``value`` is left as it was)."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy
