"""Plot data out of the page: MkDocs then parses only what a reader reads.

A rendered page embeds each plot's JSON in a ``<script type="application/json" data-atlas-...>``
element (``templates/_macros.md.j2``). Those blocks are most of a page's Markdown (token maps,
matrices, strips) and MkDocs' Markdown and HTML parsers walk every byte of them for nothing. Here
they move, whole, into one script beside the page (``<page>.data.js``, which registers them with
``atlasPageData``): a script element loads from file:// where a fetch would not. The element stays,
empty, with ``data-atlas-src`` naming that script; ``assets/atlas.js`` loads it before drawing.
"""

from __future__ import annotations

import html
import json
import posixpath
import re

from generator.render.embed import script_json

_DATA_OPENING = (r'<script type="application/json" (data-atlas-(?:data|plot|strip|tokens))="([^"]+)"'
                 r'((?: data-atlas-spec="[^"]*")?)>')
DATA_START = re.compile(_DATA_OPENING)  # a data block's opening tag
DATA_BLOCK = re.compile(_DATA_OPENING + r"(.*?)</script>", re.S)  # a whole block: what move_page_data finds
OPENING = '<script type="application/json" data-atlas-'
CLOSING = "</script>"
SUFFIX = ".data.js"


def move_page_data(text: str, page_path: str) -> tuple[str, str | None, str | None]:
    """The page without its plot data, the script that carries it, and that script's path (relative to the docs
    root, beside the page); the page unchanged and no script when it has no plot data.

    The JSON was written script-safe (no ``<``, ``>`` or ``&``; ``json.dumps`` escapes U+2028), so it is
    a valid JavaScript expression as it stands."""
    blocks: list[tuple[str, str]] = []
    name = posixpath.basename(page_path).rsplit(".", 1)[0] + SUFFIX

    pieces: list[str] = []
    done = 0
    start = text.find(OPENING)
    while start >= 0:  # DATA_BLOCK.sub, with str.find for the data's end (a lazy match walks every byte slowly)
        opening = DATA_START.match(text, start)
        end = text.find(CLOSING, opening.end()) if opening else -1
        if end < 0:
            start = text.find(OPENING, start + 1)
            continue
        attribute, target, spec = opening.groups()
        blocks.append((target, text[opening.end():end]))
        pieces += [text[done:start],
                   f'<script type="application/json" {attribute}="{target}"{spec} data-atlas-src="{name}"></script>']
        done = end + len(CLOSING)
        start = text.find(OPENING, done)
    moved = "".join(pieces) + text[done:]
    if not blocks:
        return text, None, None
    entries = ",\n".join(f"{_js_string(target)}: {data}" for target, data in blocks)
    script = f"atlasPageData({{\n{entries}\n}});\n"
    return moved, script, posixpath.join(posixpath.dirname(page_path), name)


def _js_string(attribute: str) -> str:
    """A target id as written in the page's attribute (entities decoded, as the browser reads it) as a
    JavaScript string literal that cannot close the script."""
    return script_json(html.unescape(attribute))


def read_page_data(script: str) -> dict:
    """The plots' data a ``<page>.data.js`` carries, by target (the script's argument is JSON)."""
    start, end = script.index("atlasPageData(") + len("atlasPageData("), script.rindex(");")
    return json.loads(script[start:end])
