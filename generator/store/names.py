"""Names that become path components and page titles: one rule, checked on write and on read.

A run folder, dataset name, example id or analysis name turns into a folder, a file, a URL and
a navigation title. Only letters, digits, '.', '_' and '-' (starting with a letter or digit)
are allowed: no separators, no '..', nothing HTML, Markdown or a URL would interpret. ``index``
and ``README`` are refused too: MkDocs makes ``index.md`` and ``README.md`` the same page, so
such a name would collide with a folder's own index page.
"""

from __future__ import annotations

import re
from typing import Any

from generator.store.plain_data import shown

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # used with fullmatch: no trailing newline
RESERVED_NAMES = frozenset({"index", "readme", "index.md", "readme.md"})  # compared in lower case
EXPECTED = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (not 'index' or 'README')"


def name_problem(value: Any) -> str | None:
    """Why ``value`` cannot name a folder or page (a sentence for an error message), or None."""
    if not isinstance(value, str):
        return f"expected {EXPECTED}, got {type(value).__name__}"
    if not SAFE_NAME.fullmatch(value):
        return f"expected {EXPECTED}, got {shown(value)}"
    if value.lower() in RESERVED_NAMES:
        return f"{value!r} is reserved (MkDocs makes index.md and README.md a folder's own page); choose another name"
    return None
