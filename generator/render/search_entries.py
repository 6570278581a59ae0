"""Search entries of well-formed pages made without Python's HTMLParser, to the same entries.

mkdocs-material's search plugin splits each page's HTML into sections with a subclass of
``html.parser.HTMLParser``: about 2 ms an example page, a third of it in HTMLParser's own
tokenizer (pure Python, several regular expressions and calls a tag). Our pages' HTML is
well formed: tags whose attributes are double-quoted or bare, text without ``<``, empty script
elements. Such HTML is tokenized here with one regular expression, and material's own parser is
given the calls HTMLParser would make (each start and end tag, lower-cased, attributes
unescaped; each run of text with character references converted). Any other HTML (a comment, a
single-quoted attribute, a lone ``<``, a script with content) is fed to HTMLParser as before.
What lies inside an element material leaves out of the index (``data-search-exclude``: a dataset
page's table of every example) is not given at all where material would ignore every call of it
(``without_excluded_content``).

Only with the search plugin's entry method as it was written against (``ENTRY_METHOD``); each
process makes its first ``CHECKED`` pages' entries both ways and uses material's alone for the
rest of the build if any differs; tests compare both on every page of built sites. A large page
is checked on its HTML without what material would ignore in it (``without_excluded_html``: a
dataset page without its table of every example, whose inside material's parser took 0.5 s of a
one-change rebuild at 5,000 examples); a page still too large to index twice cheaply is left to
material until the process has checked enough others.
"""

from __future__ import annotations

import functools
import hashlib
import html
import inspect
import logging
import re

from mkdocs.plugins import BasePlugin, event_priority

from generator.render.parallel_pages import search_index

CHECKED = 2  # pages each process indexes both ways before it trusts this alone
CHECKED_SIZE = 50_000  # characters of HTML: a larger page is not indexed twice to check (material indexes it)
ENTRY_METHOD = "4ca78ac4321f7704"  # sha256 of material's SearchIndex.add_entry_from_context source, its start
TAG = re.compile(r'<(?:/([a-zA-Z][a-zA-Z0-9]*)|([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*'
                 r'(?:="[^"]*")?)*)\s*(/?))>')
ATTRIBUTE = re.compile(r'\s+([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?')
RAW_TEXT = frozenset({"script", "style"})  # HTMLParser reads their content as it is: ours are empty


def parser_events(content: str, spans: list[tuple[int, int]] | None = None) -> list[tuple] | None:
    """The calls HTMLParser makes for ``content``, in order, their text and attributes as written
    (``feed_events`` converts character references and reads attributes, only for what it gives); None unless
    the HTML is of the well-formed kind described above. ``spans``: filled with each event's place in ``content``."""
    events: list[tuple] = []
    at, end = 0, len(content)
    while at < end:
        opening = content.find("<", at)
        if opening < 0:
            opening = end
        if opening > at:
            text = content[at:opening]
            events.append(("data", text))
            if spans is not None:
                spans.append((at, opening))
        if opening == end:
            break
        tag = TAG.match(content, opening)
        if tag is None:
            return None
        closing, name, attributes, self_closing = tag.groups()
        if closing is not None:
            events.append(("end", closing.lower()))
        else:
            name = name.lower()
            events.append(("startend" if self_closing else "start", name, attributes))
            if name in RAW_TEXT and not self_closing and not content.startswith(f"</{name}>", tag.end()):
                return None
        if spans is not None:
            spans.append((opening, tag.end()))
        at = tag.end()
    return events


def _attributes(written: str) -> list[tuple[str, str | None]]:
    """A tag's attributes as HTMLParser gives them, from their text in the tag."""
    return [_attribute(found.group(1), found.group(2)) for found in ATTRIBUTE.finditer(written)]


def _attribute(name: str, value: str | None) -> tuple[str, str | None]:
    """As HTMLParser gives an attribute: the name lower-cased, the value unescaped (None when there is none)."""
    return name.lower(), (html.unescape(value) if value and "&" in value else value)


HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
EXCLUDED = "data-search-exclude"  # material leaves such an element out of the index, and all inside it


def without_excluded_content(events: list[tuple], void: frozenset[str]) -> list[tuple]:
    """The events with what lies inside each ``data-search-exclude`` element left out, where material's parser
    ignores all of it anyway (a dataset page's table of every example: most of that page's events).

    material's parser still tracks the elements inside (it compares them by tag name alone, and any heading
    starts a section), so a subtree is left out only when nothing in it can change that: its tags balanced,
    no heading, no element of the excluded one's name, nothing excluded again, no ``linenodiv``, no
    self-closing tag. ``void`` is material's set of tags without content. Anything else is given whole."""
    return [events[at] for at in _kept(events, void)]


def _kept(events: list[tuple], void: frozenset[str]) -> list[int]:
    """The places of the events ``without_excluded_content`` keeps."""
    kept: list[int] = []
    at = 0
    while at < len(events):
        event = events[at]
        end = _end_of_excluded(events, at, void) if event[0] == "start" and event[1] not in void else None
        if end is None:
            kept.append(at)
            at += 1
        else:
            kept += (at, end)
            at = end + 1
    return kept


def without_excluded_html(content: str) -> tuple[list[tuple], str] | None:
    """A page's events and its HTML without what ``without_excluded_content`` leaves out (for material's parser,
    the same page: the events of each of the two give the same entries); None for HTML of another kind."""
    spans: list[tuple[int, int]] = []
    events = parser_events(content, spans)
    if events is None:
        return None
    return events, "".join(content[spans[at][0]:spans[at][1]] for at in _kept(events, _void_tags()))


def _end_of_excluded(events: list[tuple], start: int, void: frozenset[str]) -> int | None:
    """Where the excluded element starting at ``start`` ends, if its inside may be left out; else None."""
    name, written = events[start][1], events[start][2]
    if EXCLUDED not in written.lower() or not any(key == EXCLUDED for key, _ in _attributes(written)):
        return None
    open_tags = [name]
    for at in range(start + 1, len(events)):
        kind = events[at][0]
        if kind == "data":
            continue
        tag = events[at][1]
        if kind == "end":
            if open_tags[-1] != tag:
                return None
            open_tags.pop()
            if not open_tags:
                return at
        elif kind != "start" or tag == name or tag in HEADINGS or _may_exclude(events[at][2]):
            return None
        elif tag not in void:
            open_tags.append(tag)
    return None


def _may_exclude(written: str) -> bool:
    """Whether a tag's attributes could exclude it from the index (read broadly: any mention counts)."""
    lowered = written.lower()
    return EXCLUDED in lowered or "linenodiv" in lowered


def feed_events(parser, events: list[tuple]) -> None:
    """Give an HTMLParser subclass the calls HTMLParser itself would make for the page (``parser_events``)."""
    for event in events:
        if event[0] == "data":
            parser.handle_data(html.unescape(event[1]) if "&" in event[1] else event[1])
        elif event[0] == "start":
            parser.handle_starttag(event[1], _attributes(event[2]))
        elif event[0] == "end":
            parser.handle_endtag(event[1])
        else:
            parser.handle_startendtag(event[1], _attributes(event[2]))


def usable(config) -> bool:
    """Whether material's search plugin is in use with the entry method this was written against (a material
    whose method changed keeps its own)."""
    from material.plugins.search.plugin import SearchIndex  # here: a build that runs no MkDocs need not import it

    if not {"search", "material/search"} & set(config.plugins.keys()):
        return False
    try:
        source = inspect.getsource(SearchIndex.add_entry_from_context)
    except (OSError, TypeError):
        return False
    return hashlib.sha256(source.encode()).hexdigest().startswith(ENTRY_METHOD)


class SearchEntriesPlugin(BasePlugin):
    """Makes the search plugin's entries from ``parser_events`` where the page's HTML allows it."""

    def __init__(self) -> None:
        super().__init__()
        self.checked = 0  # pages indexed both ways in this process (a forked worker inherits it)
        self.trusted = True  # False once a check differed: material indexes every page for the rest of the build
        self.indexed = 0  # pages indexed here

    @event_priority(-100)  # the search plugin made its index in on_config
    def on_pre_build(self, *, config):
        index = search_index(config)
        if index is not None:  # what the search plugin calls for each page, on this index only
            index.add_entry_from_context = functools.partial(self._add_entry, index, index.add_entry_from_context)

    def _add_entry(self, index, original, page) -> None:
        if not self.trusted:
            original(page)
            return
        checking, checked_html = self.checked < CHECKED, page.content
        if checking and len(page.content) > CHECKED_SIZE:
            found = without_excluded_html(page.content)  # a dataset page: checked on its text outside its table
            if found is None or len(found[1]) > CHECKED_SIZE:
                original(page)
                return
            events, checked_html = found
        else:
            events = parser_events(page.content)
            if events is None:
                original(page)
                return
        if not checking:
            _index(index, page, events)
            self.indexed += 1
            return
        self._check(index, original, page, events, checked_html)

    def _check(self, index, original, page, events: list[tuple], checked_html: str) -> None:
        """Index ``page`` both ways: material's parser on ``checked_html`` (the page, or the page without what
        material would ignore in it), ours on ``events``; material's alone for the rest of the build if they differ."""
        before = len(index.entries)
        content = page.content
        page.content = checked_html
        try:
            original(page)
        finally:
            page.content = content
        expected = index.entries[before:]
        del index.entries[before:]
        _index(index, page, events)
        self.checked += 1
        if index.entries[before:] == expected:
            self.indexed += 1
            return
        self.trusted = False
        del index.entries[before:]
        original(page)
        logging.getLogger(__name__).info("Search entries are made by material's parser for the rest of this build: "
                                         "ours differed on %s (please report it)", page.file.src_uri)


@functools.lru_cache(maxsize=1)
def _void_tags() -> frozenset[str]:
    from material.plugins.search.plugin import void

    return frozenset(void)


def _index(index, page, events: list[tuple]) -> None:
    """material's ``SearchIndex.add_entry_from_context`` (whose source ``usable`` checks), its parser fed the
    events instead of the HTML."""
    from material.plugins.search.plugin import Parser

    search = page.meta.get("search") or {}
    if search.get("exclude"):
        return
    parser = Parser()
    feed_events(parser, without_excluded_content(events, _void_tags()))
    parser.close()
    for section in parser.data:
        if not section.is_excluded():
            index.create_entry_for_section(section, page.toc, page.url, page)
