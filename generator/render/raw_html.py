"""Our own HTML blocks kept out of Python-Markdown's HTML parser, with the same output.

Python-Markdown finds raw HTML blocks by running Python's ``html.parser`` over the whole page,
which is most of the time MkDocs spends on our pages (token strips, tables and plot containers
are one line of HTML each). Those lines are ours: each starts with one of our own block tags
(``<div class="atlas-``, ...), every value in them is escaped, and each stands alone between
blank lines, which is exactly what Python-Markdown passes through untouched (writing each
top-level element of the line on a line of its own). So before the conversion each such line
becomes a placeholder paragraph, and after it the line comes back where the paragraph was, as
Python-Markdown would have written it (tests compare both on every page of built sites). A
line with text between its elements is left to Python-Markdown, and so are lines inside fenced
code; after a line that leaves an element open (a block spanning lines, whose inside is raw),
nothing more on the page is stashed. MkDocs finds the anchors of a page's raw HTML by scanning
its Markdown, where our lines are placeholders by then, so their anchors (``block_anchors``) are
added to the page's after the conversion: a link to one is checked as without the stash.
"""

from __future__ import annotations

import html
import re
import secrets

from mkdocs.plugins import BasePlugin

OWN_BLOCK = re.compile(r'<(div|table|nav|details) class="atlas-')
FENCE = re.compile(r"(`{3,}|~{3,})")
TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^<>]*>")
START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)>")
ANCHOR_ATTRIBUTE = re.compile(r'\s(id|name)="([^"]*)"', re.I)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def top_level_elements(line: str) -> list[str] | None:
    """The line's top-level elements (Python-Markdown writes each on its own line); None unless the line is
    elements only, each closed, nothing between them."""
    parts, depth, start = [], 0, 0
    for match in TAG.finditer(line):
        closing, name = match.group(1), match.group(2).lower()
        if name in VOID:
            continue
        if depth == 0 and (closing or match.start() != start):
            return None  # text between elements, or a closing tag with nothing open
        depth += -1 if closing else 1
        if depth == 0:
            parts.append(line[start:match.end()])
            start = match.end()
    return parts if parts and depth == 0 and start == len(line) else None


def _fence_after(line: str, fence: str | None) -> tuple[str | None, bool]:
    """The code fence open after ``line`` (None: none), and whether the line is fenced code or a fence itself."""
    opened = FENCE.match(line)
    if fence is None:
        return (opened.group(1), True) if opened else (None, False)
    closes = opened is not None and line.rstrip() == fence  # Python-Markdown closes on the same fence only
    return (None if closes else fence), True


def stash_own_blocks(markdown: str, marker: str) -> tuple[str, list[str]]:
    """``markdown`` with each of our HTML block lines replaced by ``<marker><n>``; the lines, in order."""
    lines = markdown.split("\n")
    stash: list[str] = []
    fence = None
    for index, line in enumerate(lines):
        fence, in_code = _fence_after(line, fence)
        if in_code or not TAG.match(line):
            continue
        elements = top_level_elements(line)
        if elements is None:
            break  # HTML left open (a block spanning lines): what follows may be inside it, raw; stash no more
        alone = ((index == 0 or not lines[index - 1].strip())
                 and (index + 1 == len(lines) or not lines[index + 1].strip()))
        if alone and OWN_BLOCK.match(line) and marker not in line:
            lines[index] = f"{marker}{len(stash)}"
            stash.append("\n".join(elements))
    return "\n".join(lines), stash


def restore_own_blocks(html: str, marker: str, stash: list[str]) -> str:
    """The converted page with each placeholder paragraph replaced by its line, as Python-Markdown writes
    a raw block."""
    if not stash:
        return html
    restored = re.sub(rf"<p>{re.escape(marker)}(\d+)</p>", lambda match: stash[int(match.group(1))] + "\n", html)
    return restored.rstrip("\n")  # Python-Markdown strips the page's end, a raw block's newline included


def block_anchors(lines: list[str]) -> set[str]:
    """What MkDocs' scan of raw HTML finds in our block lines: every element's id, every link's name (our
    attributes are double-quoted, their values escaped)."""
    anchors = set()
    for line in lines:
        for tag in START_TAG.finditer(line):
            for name, value in ANCHOR_ATTRIBUTE.findall(tag.group(2)):
                if name.lower() == "id" or tag.group(1).lower() == "a":
                    anchors.add(html.unescape(value))
    return anchors


class OwnHtmlBlocksPlugin(BasePlugin):
    """Stashes our HTML block lines before MkDocs converts a page and puts them back after."""

    def __init__(self) -> None:
        super().__init__()
        self.marker = f"ATLASBLOCK{secrets.token_hex(8)}X"
        self._stashes: dict[str, list[str]] = {}

    def on_page_markdown(self, markdown, *, page, config, files):
        text, stash = stash_own_blocks(markdown, self.marker)
        self._stashes[page.file.src_uri] = stash
        return text

    def on_page_content(self, html, *, page, config, files):
        stash = self._stashes.pop(page.file.src_uri, [])
        if stash and page.present_anchor_ids is not None:
            page.present_anchor_ids = page.present_anchor_ids | block_anchors(stash)
        return restore_own_blocks(html, self.marker, stash)
