"""Plain pages converted without Python-Markdown, to the HTML it gives them.

After our own HTML blocks are stashed (``raw_html.py``), what is left of an example page is a
few headings and sentences, yet Python-Markdown takes about 2 ms to convert it (its fixed cost:
a block parser, fourteen inline patterns over every text, a tree, a serializer), a third of what
MkDocs spends on the page. A page whose text is *plain* is converted here instead, in one pass:

- blocks between blank lines: a heading (``#`` to ``######``, plain text) alone, or a paragraph
  whose lines start no other block (no indent, ``#``, ``>``, list marker, fence, table, HTML);
- inline: text, ``**strong**``, ``[text](target)``, entities, and tags of a few inline elements
  (``<span class="...">``), which Python-Markdown passes through as they are.

Anything else (``_emphasis_``, code spans, a lone ``*`` or ``[``, a backslash, a table ...) makes
the page not plain, and Python-Markdown converts it. Used only with MkDocs' default Markdown
extensions and no settings for them (``usable``). Link targets go through MkDocs' own function
for them, so links are rewritten, checked and reported as MkDocs does.

Exactness: each process converts its first ``CHECKED`` plain pages both ways and uses
Python-Markdown alone for the rest of the build if any differs (a Python-Markdown or MkDocs
that changed); tests compare both on every page of built sites and on hard cases.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import re
from dataclasses import dataclass, field
from typing import Callable

from markdown.extensions.toc import nest_toc_tokens, slugify, unique
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.pages import Page, _RelativePathTreeprocessor
from mkdocs.structure.toc import get_toc

from generator.render.parallel_pages import only_known_plugins

DEFAULT_EXTENSIONS = ["toc", "tables", "fenced_code"]  # MkDocs' default: what this converts as
CHECKED = 2  # plain pages each process converts both ways before it trusts this alone

HEADING = re.compile(r"(#{1,6}) +([^#\s](?:.*[^#\s])?)")
INLINE_TAG = re.compile(r'<(/?)(span|code|strong|em|b|i|sup|sub|small|abbr|kbd|mark)((?: [a-z-]+="[^"<>&\\]*")*)>')
ATTRIBUTE = re.compile(r' ([a-z-]+)="([^"]*)"')
STRONG = re.compile(r"\*\*([^*\s](?:[^*]*[^*\s])?)\*\*")
LINK = re.compile(r"(?<!!)\[([^\[\]]+)\]\(([A-Za-z0-9._~/#?=:+,;@$-]+)\)")
TOKEN = re.compile(f"(?P<tag>{INLINE_TAG.pattern})|(?P<strong>{STRONG.pattern})|(?P<link>{LINK.pattern})")
NOT_PLAIN_TEXT = re.compile(r"[\\`*\[\]<|\x00-\x09\x0b-\x1f\x7f]|!\[|  $|(?<!\w)_|_(?!\w)")
AMP = re.compile(r"&(?!(?:#[0-9]+|#x[0-9a-f]+|[0-9a-z]+);)", re.I)  # as Python-Markdown's serializer escapes &
BLOCK_START = re.compile(r"[#>=~`\-+*|<\s]|[0-9]+[.)]")
STRONG_START = re.compile(r"\*\*[^*\s]")
LINK_PLACEHOLDER = re.compile("\x00")  # a link's href until the page is known to be plain
CONTROL = re.compile(r"[\x00\r\t\x02\x03]")


class _NotPlain(Exception):
    """The text holds something only Python-Markdown converts as it should."""


@dataclass
class PlainPage:
    """A plain page as Python-Markdown and MkDocs' page render give it."""

    content: str
    toc_tokens: list[dict] = field(default_factory=list)  # as the toc extension makes them, flat
    title: str | None = None  # the first block's text when it is a level-1 heading
    tag_ids: set[str] = field(default_factory=set)  # ids of the inline tags (MkDocs counts them as anchors)


def convert_plain(markdown: str, link: Callable[[str], str]) -> PlainPage | None:
    """The page as Python-Markdown converts it (with MkDocs' default extensions), or None when it is not plain.

    ``link`` rewrites each Markdown link's target (MkDocs' ``path_to_url``), in document order."""
    if CONTROL.search(markdown):
        return None
    page = PlainPage("")
    used_ids: set[str] = set()
    counters: dict[str, int] = {}
    targets: list[str] = []  # the links' targets, resolved once the whole page is known to be plain
    parts = []
    try:
        for block in re.split(r"\n(?: *\n)+", markdown.strip("\n")):
            if block.strip():
                parts.append(_block(block, page, targets, used_ids, counters))
    except _NotPlain:
        return None
    page.content = "\n".join(parts)
    if targets:  # in document order, as MkDocs rewrites them (and says what it finds wrong)
        hrefs = iter([_attribute(link(target)) for target in targets])
        page.content = LINK_PLACEHOLDER.sub(lambda _: next(hrefs), page.content)
    if parts and parts[0].startswith("<h1 "):  # MkDocs' title: the first block, when it is a level-1 heading
        page.title = page.toc_tokens[0]["name"]
    return page


def _block(block: str, page: PlainPage, targets: list[str], used_ids: set[str],
           counters: dict[str, int]) -> str:
    lines = block.split("\n")
    heading = HEADING.fullmatch(lines[0])
    if heading is not None:
        if len(lines) > 1:
            raise _NotPlain()  # text under a heading, in the same block
        level, inner = len(heading.group(1)), _text(heading.group(2))
        name = " ".join(inner.split())
        anchor = unique(slugify(html.unescape(name), "-"), used_ids, counters)
        page.toc_tokens.append({"level": level, "id": anchor, "name": name, "html": inner, "data-toc-label": ""})
        return f'<h{level} id="{anchor}">{inner}</h{level}>'
    for line in lines:
        if BLOCK_START.match(line) and not (INLINE_TAG.match(line) or STRONG_START.match(line)):
            raise _NotPlain()
    return "<p>" + "\n".join(_inline(line, page, targets) for line in lines) + "</p>"


def _inline(line: str, page: PlainPage, targets: list[str]) -> str:
    out, at = [], 0
    for match in TOKEN.finditer(line):
        out.append(_text(line[at:match.start()]))
        if match.lastgroup == "tag":
            page.tag_ids.update(html.unescape(value) for name, value in ATTRIBUTE.findall(match.group(0))
                                if name == "id")
            out.append(match.group(0))
        elif match.lastgroup == "strong":
            out.append(f"<strong>{_text(match.group(0)[2:-2])}</strong>")
        else:
            label, target = match.group(0)[1:-1].split("](", 1)
            targets.append(target)
            out.append(f'<a href="\x00">{_text(label)}</a>')
        at = match.end()
    out.append(_text(line[at:]))
    return "".join(out)


def _text(text: str) -> str:
    """Plain text as Python-Markdown's serializer writes it; _NotPlain when it would be more than text."""
    if NOT_PLAIN_TEXT.search(text):
        raise _NotPlain()
    if "&" in text:
        text = AMP.sub("&amp;", text)
    return text.replace(">", "&gt;")


def _attribute(value: str) -> str:
    """An attribute value as Python-Markdown's HTML serializer writes it."""
    if "&" in value:
        value = AMP.sub("&amp;", value)
    return value.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def usable(config) -> bool:
    """Whether pages may be converted here: MkDocs' default Markdown extensions with no settings, and only
    plugins we know (checked before our own plugins are added)."""
    return (list(config.markdown_extensions) == DEFAULT_EXTENSIONS and not config.mdx_configs
            and only_known_plugins(config))


class PlainMarkdownPlugin(BasePlugin):
    """Plain pages converted by ``convert_plain``, the others by MkDocs' own page render."""

    def __init__(self) -> None:
        super().__init__()
        self.checked = 0  # plain pages converted both ways in this process (a forked worker inherits it)
        self.trusted = True  # False once a check differed: MkDocs converts every page for the rest of the build
        self.converted = 0  # pages converted here

    @event_priority(-100)  # after every plugin that changes the Markdown (ours stashes our HTML blocks)
    def on_page_markdown(self, markdown, *, page, config, files):
        if self.trusted:
            page.render = functools.partial(self._render, page)  # what MkDocs calls next, for this page only
        return markdown

    def _render(self, page, config, files) -> None:
        links = _RelativePathTreeprocessor(page.file, files, config)
        if not self.trusted or self.checked >= CHECKED:
            plain = convert_plain(page.markdown, links.path_to_url) if self.trusted else None
            if plain is None:
                Page.render(page, config, files)
            else:
                _apply(page, plain, links)
                self.converted += 1
            return
        Page.render(page, config, files)
        expected = _rendered(page)
        with _quiet(PAGES_LOGGER):  # MkDocs has just said what it finds wrong with the links
            plain = convert_plain(page.markdown, links.path_to_url)
        if plain is None:
            return
        kept = (page.content, page.toc, page._title_from_render, page.present_anchor_ids, page.links_to_anchors)
        _apply(page, plain, links)
        self.checked += 1
        if _rendered(page) != expected:
            self.trusted = False
            (page.content, page.toc, page._title_from_render, page.present_anchor_ids, page.links_to_anchors) = kept
            logging.getLogger(__name__).info("Plain pages are converted by Python-Markdown for the rest of this build: "
                                             "ours differed on %s (please report it)", page.file.src_uri)
        else:
            self.converted += 1


PAGES_LOGGER = "mkdocs.structure.pages"  # where MkDocs' page render says what it finds wrong


def _apply(page, plain: PlainPage, links) -> None:
    """Set on ``page`` what MkDocs' ``Page.render`` sets."""
    page.content = plain.content
    page.toc = get_toc(nest_toc_tokens([dict(token) for token in plain.toc_tokens]))
    page._title_from_render = plain.title
    page.present_anchor_ids = {token["id"] for token in plain.toc_tokens} | plain.tag_ids
    if logging.getLogger(PAGES_LOGGER).getEffectiveLevel() > logging.DEBUG:
        page.links_to_anchors = links.links_to_anchors


def _rendered(page) -> tuple:
    """What a page render set, in a form that compares by value."""
    def items(toc) -> list:
        return [(item.title, item.id, item.level, getattr(item, "active", False), items(item.children))
                for item in toc]

    links = {target.src_uri: dict(anchors) for target, anchors in (page.links_to_anchors or {}).items()}
    return (page.content, items(page.toc), page._title_from_render, page.present_anchor_ids, links)


@contextlib.contextmanager
def _quiet(name: str):
    """Nothing ``name``'s logger says is let through (it was said once already)."""
    logger = logging.getLogger(name)
    drop = _DropAll()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False
