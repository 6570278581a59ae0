"""The one Jinja environment: autoescaped, strict, templates from the top-level templates/."""

from __future__ import annotations

import os
from pathlib import Path

from markupsafe import Markup, escape

TEMPLATES = Path(os.environ.get("ATLAS_TEMPLATES", Path(__file__).resolve().parents[2] / "templates"))


def multiline(value: str) -> Markup:
    """Escape text and keep its line breaks without ever producing a blank line.

    A blank line would end the raw HTML block and let Markdown reinterpret model text.
    """
    return Markup(str(escape(value)).replace("\r", "").replace("\n", "&#10;"))


def template_environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    if not TEMPLATES.is_dir():
        raise FileNotFoundError(f"templates directory not found: {TEMPLATES} (set ATLAS_TEMPLATES)")
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["multiline"] = multiline
    return env
