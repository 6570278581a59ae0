"""Search entries made from our own tokenizer's events equal those material's HTMLParser-based parser makes."""

from __future__ import annotations

import re

import pytest
from material.plugins.search.plugin import Parser

from generator.render.search_entries import feed_events, parser_events
from tests.render.test_mkdocs_build import _project
from tests.render.mkdocs_shortcuts import difference_caught


class Recorder(Parser):
    """material's parser, recording the calls HTMLParser makes to it."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def handle_starttag(self, tag, attrs):
        self.calls.append(("start", tag, list(attrs)))

    def handle_endtag(self, tag):
        self.calls.append(("end", tag))

    def handle_data(self, data):
        self.calls.append(("data", data))


def _htmlparser_calls(content: str) -> list:
    recorder = Recorder()
    recorder.feed(content)
    recorder.close()
    return recorder.calls


def _our_calls(content: str) -> list | None:
    events = parser_events(content)
    if events is None:
        return None
    recorder = Recorder()
    feed_events(recorder, events)
    return recorder.calls


def _same_calls(content: str) -> list | None:
    ours = _our_calls(content)
    if ours is not None:
        assert ours == _htmlparser_calls(content), content
    return ours


ARTICLE = re.compile(r'<article class="md-content__inner md-typeset">(.*?)</article>', re.S)


def test_every_page_of_a_built_site_gives_the_parser_the_same_calls(tiny_site):
    pages = sorted(tiny_site.rglob("*.html"))
    ours = 0
    for page in pages:
        content = ARTICLE.search(page.read_text(encoding="utf-8"))
        if content is not None and _same_calls(content.group(1)) is not None:
            ours += 1
        elif "/examples/" in page.as_posix():
            pytest.fail(f"{page}: an example page's HTML is not of the kind tokenized here")
    assert ours >= 5


WELL_FORMED = [
    '<h1 id="a">T &amp; U &#58; &lt;x&gt;</h1>\n<p>text &copy; &unknown; & done</p>',
    '<table class="atlas-table"><tbody><tr><th>A</th><td><code>Q&#58; 5&#42;3</code></td></tr></tbody></table>',
    '<DIV Class="X" hidden data-v="" title="a &gt; b &amp; c"><BR/><br /><input type="search"></DIV>',
    '<div class="atlas-plot" id="p" style="min-height: 376px"></div><script type="application/json" '
    'data-atlas-data="p"></script>',
    '<p title="x > y">a</p><img src="a.png" alt="a"/>',
    "<p>\n  spaced\n\n</p>  \n<p>tail</p> trailing text &amp",
    '<nav class="atlas-example-nav"><span>← first</span> · <a href="../index.html" rel="up">↑ arith</a></nav>',
]


@pytest.mark.parametrize("content", WELL_FORMED)
def test_well_formed_html_gives_the_same_calls(content):
    assert _same_calls(content) is not None


OTHER = [
    "<!-- comment --><p>a</p>", "<!DOCTYPE html><p>a</p>", "<p class='single'>a</p>", "<p>a < b</p>",
    "<script>var a = 1;</script>", "<p>a</ p>", "<p data-x=bare>a</p>", "<p>a<", "<?php x ?>", "<my-tag>a</my-tag>",
    "<style>p { color: red }</style>", "</p extra>",
]


@pytest.mark.parametrize("content", OTHER)
def test_other_html_is_left_to_htmlparser(content):
    assert parser_events(content) is None


@pytest.mark.slow
def test_entries_that_differ_are_caught_and_material_indexes_the_rest(tiny_run, tmp_path, monkeypatch, caplog):
    from generator.render import search_entries

    real = search_entries.feed_events
    plugin = difference_caught(monkeypatch, caplog, _project(tmp_path, tiny_run), search_entries,
                               "SearchEntriesPlugin", {"feed_events": lambda parser, events: real(  # as another
                                   parser, [event for event in events if event[0] != "data"])})  # HTMLParser might
    assert plugin.indexed == 0


def test_only_materials_entry_method_as_written_against_is_replaced(tmp_path, monkeypatch):
    from generator.render import search_entries
    from generator.render.mkdocs_build import load_mkdocs_config
    from tests.conftest import REPO_ROOT

    (tmp_path / "docs").mkdir()
    config = load_mkdocs_config(REPO_ROOT / "mkdocs.yml", {"docs_dir": str(tmp_path / "docs")})
    assert search_entries.usable(config)
    monkeypatch.setattr(search_entries, "ENTRY_METHOD", "0000")  # a material whose method changed
    assert not search_entries.usable(config)
    monkeypatch.undo()
    without = tmp_path / "mkdocs.yml"
    without.write_text((REPO_ROOT / "mkdocs.yml").read_text().replace("  - search\n", ""))
    assert not search_entries.usable(load_mkdocs_config(without, {"docs_dir": str(tmp_path / "docs")}))


def test_a_large_page_is_not_indexed_twice_to_check():
    from types import SimpleNamespace

    from generator.render.search_entries import CHECKED_SIZE, SearchEntriesPlugin

    plugin, indexed_by_material = SearchEntriesPlugin(), []
    table = SimpleNamespace(content="<p>row</p>" * (CHECKED_SIZE // 10 + 1), meta={}, toc=[], url="d/index.html")
    plugin._add_entry(SimpleNamespace(entries=[]), indexed_by_material.append, table)
    assert indexed_by_material == [table] and plugin.checked == 0 and plugin.indexed == 0


def _page(content: str):
    from types import SimpleNamespace

    return SimpleNamespace(content=content, meta={}, toc=[], url="d/index.html", title="Dataset",
                           file=SimpleNamespace(src_uri="d/index.md"))


@pytest.mark.parametrize("excluded", [True, False])
def test_a_large_page_is_checked_on_its_text_outside_what_material_leaves_out(excluded):
    """A dataset page (its table of every example left out of the search) is checked while the process checks: by
    material's parser on the page without that table, not on the whole page; the entries are material's own."""
    from material.plugins.search.plugin import SearchIndex

    from generator.render.search_entries import CHECKED_SIZE, SearchEntriesPlugin

    rows = "".join(f"<tr><td>q-{i}</td><td>{i} &amp; more</td></tr>" for i in range(CHECKED_SIZE // 30 + 1))
    attribute = " data-search-exclude" if excluded else ""
    content = (f'<h1 id="d">Dataset</h1><p>Accuracy <strong>50%</strong> of {CHECKED_SIZE} examples.</p>'
               f'<div class="atlas-scroll"{attribute}><table><tbody>{rows}</tbody></table></div>'
               '<h2 id="s">Salience</h2><p>Layer 1 &lt; layer 2.</p>')
    expected = SearchIndex()
    expected.add_entry_from_context(_page(content))
    plugin, index, seen = SearchEntriesPlugin(), SearchIndex(), []

    def material(page):
        seen.append(len(page.content))
        SearchIndex.add_entry_from_context(index, page)

    plugin._add_entry(index, material, _page(content))
    assert index.entries == expected.entries and len(expected.entries) == 2
    if excluded:  # checked both ways on the page without its table: ours is trusted from now on
        assert seen and max(seen) < CHECKED_SIZE and plugin.checked == 1 and plugin.indexed == 1
    else:  # nothing left out: too large to check twice, material indexes it alone
        assert seen == [len(content)] and plugin.checked == 0


def _sections(parser) -> list:
    return [(repr(section), section.id, list(section.title), list(section.text), section.is_excluded())
            for section in parser.data]


def _material_sections(content: str) -> list:
    parser = Parser()
    parser.feed(content)
    parser.close()
    return _sections(parser)


def _our_sections(content: str) -> tuple[list, int]:
    """Our sections, and how many events were left out as inside an excluded element."""
    from generator.render.search_entries import _void_tags, without_excluded_content

    events = parser_events(content)
    fed = without_excluded_content(events, _void_tags())
    parser = Parser()
    feed_events(parser, fed)
    parser.close()
    return _sections(parser), len(events) - len(fed)


def test_every_page_gives_materials_sections_with_excluded_content_left_out(tiny_site):
    left_out = 0
    for page in sorted(tiny_site.rglob("*.html")):
        content = ARTICLE.search(page.read_text(encoding="utf-8"))
        if content is None or parser_events(content.group(1)) is None:
            continue
        ours, skipped = _our_sections(content.group(1))
        assert ours == _material_sections(content.group(1)), page
        left_out += skipped
    assert left_out > 0  # the dataset pages' tables


EXCLUDED = [  # (content, whether its excluded inside may be left out)
    ('<h1 id="t">T</h1><p>before</p><div class="s" data-search-exclude><table><tr><td><a href="x">row</a></td>'
     '<td><code>Q</code><br></td></tr></table></div><p>after</p>', True),
    ('<h1 id="t">T</h1><div data-search-exclude><div>inner</div><p>still out?</p></div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><h2 id="in">Inside</h2><p>x</p></div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><p>x<p>y</div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><pre class="linenodiv">1</pre></div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><span data-search-exclude>a</span></div><p>after</p>',
     True),  # the outer element's inside is given whole, the inner one's left out
    ('<h1 id="t">T</h1><div data-search-exclude><p>a</br></p></div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><p/>a</div><p>after</p>', False),
    ('<h1 id="t">T</h1><div data-search-exclude><p>never closed</p>', False),
    ('<p>a preface</p><section data-search-exclude><p>x</p></section><h2 id="b">B</h2><p>b</p>', True),
]


@pytest.mark.parametrize("content, left_out", EXCLUDED)
def test_an_excluded_elements_inside_is_left_out_only_where_material_ignores_all_of_it(content, left_out):
    ours, skipped = _our_sections(content)
    assert ours == _material_sections(content)
    assert (skipped > 0) == left_out
