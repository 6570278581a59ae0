"""JSON from files we did not write: strict (no NaN or Infinity), bounded in depth, UTF-8 only.

Python's ``json`` accepts ``NaN`` and ``Infinity`` (JSON does not) and recurses once per
nesting level, so a line of 100,000 ``[`` is a RecursionError deep in the parser. Every run
file, dataset line and imported file is read through here, so each of those is one clear
error that names the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MAX_DEPTH = 200  # far beyond any record of ours; the parser itself fails near 1,000
MAX_FILE_BYTES = 1 << 30  # a JSON file of ours is at most tens of MB (a long agent trajectory): 1 GiB is damage


class UntrustedJSONError(ValueError):
    """Text that is not the strict JSON we accept; the message says why (the caller names the file)."""


def _refuse_constant(name: str):
    raise UntrustedJSONError(f"{name} is not valid JSON (write null for a missing number)")


def parse_json(text: str, nan_as_float: bool = False) -> Any:
    """Strict JSON; errors are ``UntrustedJSONError`` with a short reason.

    ``nan_as_float`` reads NaN and Infinity as floats, for a caller that names them by field itself.
    """
    try:
        data = json.loads(text, parse_constant=(lambda name: float(name)) if nan_as_float else _refuse_constant)
    except UntrustedJSONError:
        raise
    except RecursionError as exc:
        raise UntrustedJSONError(f"nested more than {MAX_DEPTH} levels deep") from exc
    except json.JSONDecodeError as exc:
        raise UntrustedJSONError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    if _may_fail_check(text):
        check_tree(data)
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")  # JSON's only way to write a surrogate


def _may_fail_check(text: str) -> bool:
    """Whether ``check_tree`` could refuse what ``text`` parses to: a lone surrogate needs a ``\\uD800``-``\\uDFFF``
    escape or one in the text itself (not UTF-8 encodable), and a depth past MAX_DEPTH needs that many
    brackets. Most files have none of these and are not walked again (a trajectory is hundreds of strings)."""
    if text.count("[") + text.count("{") > MAX_DEPTH or ("\\u" in text and _SURROGATE_ESCAPE.search(text)):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_json_file(path: Path) -> Any:
    """A JSON file as strict JSON; OSError (missing, unreadable) passes through to the caller."""
    size = Path(path).stat().st_size
    if size > MAX_FILE_BYTES:
        raise UntrustedJSONError(f"{size:,} bytes, more than any file of this kind holds ({MAX_FILE_BYTES:,})")
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UntrustedJSONError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from exc
    return parse_json(text)


def check_tree(value: Any) -> None:
    """Depth bounded, and no lone surrogate (valid JSON escapes, but no UTF-8 file or page can hold one).

    Walked without recursion: the value may be as deep as the parser allowed.
    """
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if isinstance(item, dict):
            for key in item:  # YAML keys may be numbers or null too
                if isinstance(key, str):
                    _check_text(key)
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > MAX_DEPTH:
            raise UntrustedJSONError(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, level + 1) for child in children)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UntrustedJSONError(f"a string holds a lone surrogate ({ascii(text[exc.start:exc.end])}), which is "
                                 "not a character; write the character itself") from exc
