"""The one Jinja environment, and the one place page text is made inert.

Pages are Markdown with raw HTML inside, so a string from a model or an imported file must be
inert as both. Every ``{{ value }}`` passes through ``inert`` (the environment's ``finalize``):
HTML's special characters and every character Markdown gives a meaning to become numeric
character references, which browsers show as the character and Markdown leaves alone. A
label ``[x](javascript:alert(1))`` is shown as written, never as a link. Only ``Markup`` passes
unchanged: plot JSON (``render/embed.py``) and what the filters below return, each built
from inert text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from markupsafe import Markup

from generator.results import declarations
from generator.shipped import shipped

TEMPLATES = Path(os.environ.get("ATLAS_TEMPLATES", shipped("templates")))

# HTML's specials; Markdown's inline syntax (emphasis, code, links, images, attribute lists,
# footnotes, tables, strike-through, super/subscript, math); ':' so no 'javascript:' or
# 'https:' survives for an extension that links bare URLs; and line breaks, so a value never
# starts a Markdown line (list markers, headings and rules only mean something there).
_INERT = {ord(c): f"&#{ord(c)};" for c in "&<>\"'`\\*_[](){}#!|~:^$"} | {ord("\n"): "&#10;", ord("\r"): None}
# Control characters (NUL, escape, ...) and the bidirectional controls that reorder what follows
# them (U+202E turns the rest of a table cell around) are shown as visible escapes: \u202e.
_INVISIBLE = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F,
              *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_VISIBLE = {code: f"\\u{code:04x}" for code in _INVISIBLE} | {ord("\r"): None}
_INERT |= {code: f"&#92;u{code:04x}" for code in _INVISIBLE}


def inert(value: Any) -> Markup:
    """Any value as text that neither HTML nor Markdown interprets; ``Markup`` is left as built."""
    if isinstance(value, Markup):
        return value
    return Markup(str(value).translate(_INERT))


def visible(value: Any) -> str:
    """The text ``inert`` shows, as plain text (for data a script draws as text): control and bidirectional
    characters as visible escapes, carriage returns dropped, nothing else changed."""
    return str(value).translate(_VISIBLE)


def multiline(value: Any) -> Markup:
    """Inert text whose line breaks show (in ``<pre>``, ``<code>``, titles): ``inert`` already
    keeps them as character references, so a value never makes the blank line that would end
    a raw HTML block and let Markdown reinterpret what follows."""
    return inert(value)


def inert_join(values: Iterable[Any], separator: str = "") -> Markup:
    """Jinja's ``join``, with every item and the separator made inert."""
    return Markup(str(inert(separator)).join(str(inert(v)) for v in values))


def template_folders(overrides: Sequence[str | Path] = ()) -> list[Path]:
    """Where templates are looked up, first match wins: a report project's own folders (``overrides``,
    each file there replacing ours), ours, then those of analyses declared outside this package."""
    declared = [d.templates for d in declarations() if d.templates is not None]
    return [*map(Path, overrides), TEMPLATES, *declared]


def template_environment(overrides: Sequence[str | Path] = (), bytecode_cache=None):
    """Our pages' environment; ``bytecode_cache`` (``figure_cache.template_bytecode``) keeps compiled templates."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    if not TEMPLATES.is_dir():
        raise FileNotFoundError(f"templates directory not found: {TEMPLATES} (set ATLAS_TEMPLATES)")
    env = Environment(
        loader=FileSystemLoader([str(folder) for folder in template_folders(overrides)]),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=inert,
        bytecode_cache=bytecode_cache,
    )
    env.filters["multiline"] = multiline
    env.filters["join"] = inert_join
    return env
