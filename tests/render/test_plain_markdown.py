"""Plain pages converted without Python-Markdown give exactly what Python-Markdown and MkDocs give them."""

from __future__ import annotations

import json

import markdown
import pytest
from markdown.extensions.toc import nest_toc_tokens

from generator.render.plain_markdown import DEFAULT_EXTENSIONS, convert_plain
from generator.render.raw_html import stash_own_blocks
from tests.conftest import REPO_ROOT
from tests.render.mkdocs_shortcuts import difference_caught
from tests.render.test_mkdocs_build import _project

MARKER = "ATLASBLOCK0123456789abcdefX"


def _python_markdown(text: str) -> tuple[str, list]:
    converter = markdown.Markdown(extensions=DEFAULT_EXTENSIONS)
    return converter.convert(text), converter.toc_tokens


def _same_as_python_markdown(text: str):
    """Our conversion (None: not plain), checked against Python-Markdown's where there is one."""
    plain = convert_plain(text, lambda target: target)  # Python-Markdown alone leaves links as written
    if plain is not None:
        html, toc = _python_markdown(text)
        assert plain.content == html, text
        assert nest_toc_tokens([dict(token) for token in plain.toc_tokens]) == toc, text
    return plain


def test_every_page_of_a_built_site_converts_as_python_markdown(tiny_site):
    from mkdocs.utils.meta import get_data

    pages = sorted((tiny_site.parent / "docs").rglob("*.md"))
    examples = [page for page in pages if "/examples/" in page.as_posix()]
    assert len(examples) >= 3
    plain = []
    for page in pages:
        body, _ = get_data(page.read_text(encoding="utf-8"))  # MkDocs takes the front matter off first
        if _same_as_python_markdown(stash_own_blocks(body, MARKER)[0]) is not None:
            plain.append(page)
    assert set(examples) <= set(plain)  # every example page is converted here


PLAIN = [
    "# T\n\ntext\n\n## T\n\n## T",  # the same heading thrice: ids made unique as the toc extension makes them
    "# a&#95;b  c\n\nMore.",
    "x &#X41; y &copy &amp; z > w",
    "**a &#95; b** and **c** then **a**b**c**",
    "[a&#95;b](x.md) and [c](d.md#e)[f](g.md) (a note)",
    '<span class="k" id="s1">x</span> y\nsecond <span class="atlas-correct">✓</span> line',
    "snake_case_name and gsm8k_test and a__b",
    "100% sure (n = 12) ± 0.3; “quotes” 'single' -- dash: yes! 3.5 tokens",
    "## Ünïcödé heading, déjà vu\n\n### Sub-section (x 2)\n\n#### 4th",
    "# Title\n\n\n\n   \npara\nsecond line\n\n\nthird",
    f"# q-1\n\n{MARKER}0\n\n## Part\n\n{MARKER}1\n\n**neuron 3** (max 1.5)\n\n{MARKER}2",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_converts_as_python_markdown(text):
    assert _same_as_python_markdown(text) is not None


NOT_PLAIN = [
    "a _b_ c", "_a_b", "a_ b", "`code`", "* item", "- item", "+ item", "1. item", "2) item", "> quote",
    "a | b\n--|--\n1 | 2", "    code", "text\n===", "text\n---", "---", "***", "line  \nbreak", "![img](a.png)",
    "<div>x</div>", '<a href="x.md">x</a>', "a\\*b", "[ref][1]", "[x]", "**unclosed", "** a**", "# H\ntext under",
    "## trailing ##", "#H", "####### seven", "<https://x.org>", "a\tb", "a\rb", "<!-- c -->", "text <div>x</div>",
    "```\ncode\n```", "~~~\ncode\n~~~", "[TOC]", "a *b* c", "x**y", '<span title="a&b">x</span>', "[a](b c.md)",
    "[a](<b.md>)", "a &", "text\n  indented", " lead",
]


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_anything_else_is_left_to_python_markdown_or_converts_the_same(text):
    _same_as_python_markdown(text)  # may be plain if we convert it the same; most are not


def test_what_python_markdown_makes_more_of_is_not_plain():
    for text in ["a _b_ c", "`code`", "* item", "1. item", "> quote", "a | b\n--|--\n1 | 2", "    code", "text\n===",
                 "line  \nbreak", "![img](a.png)", "<div>x</div>", "a\\*b", "[ref][1]", "a *b* c", "# H\ntext under"]:
        assert convert_plain(text, lambda target: target) is None, text


def test_links_are_rewritten_in_document_order_only_once_the_page_is_plain():
    seen = []

    def link(target):
        seen.append(target)
        return target.replace(".md", ".html")

    plain = convert_plain("# A\n\n[one](1.md) and [two](2.md#x)\n\n[three](3.md)", link)
    assert seen == ["1.md", "2.md#x", "3.md"]
    assert plain.content == ('<h1 id="a">A</h1>\n<p><a href="1.html">one</a> and <a href="2.html#x">two</a></p>\n'
                             '<p><a href="3.html">three</a></p>')
    assert plain.title == "A"
    seen.clear()
    assert convert_plain("[one](1.md)\n\n`code`", link) is None and seen == []  # nothing said for a page not ours


@pytest.mark.slow
def test_a_conversion_that_differs_is_caught_and_python_markdown_converts_the_rest(tiny_run, tmp_path, monkeypatch,
                                                                                    caplog):
    from generator.render import plain_markdown

    real = plain_markdown.convert_plain

    def wrong(text, link):  # as a newer Python-Markdown might differ from us
        plain = real(text, link)
        if plain is not None:
            plain.content += "\n<p>not what Python-Markdown gives</p>"
        return plain

    plugin = difference_caught(monkeypatch, caplog, _project(tmp_path, tiny_run), plain_markdown,
                               "PlainMarkdownPlugin", {"convert_plain": wrong})
    assert plugin.converted == 0


def test_plain_pages_are_converted_here_only_with_mkdockss_default_markdown(tmp_path):
    from generator.render.mkdocs_build import load_mkdocs_config
    from generator.render.plain_markdown import usable

    (tmp_path / "docs").mkdir()
    docs = {"docs_dir": str(tmp_path / "docs")}
    assert usable(load_mkdocs_config(REPO_ROOT / "mkdocs.yml", docs))
    for extra in ("markdown_extensions:\n  - admonition\n", "markdown_extensions:\n  - toc:\n      permalink: true\n",
                  "plugins:\n  - search\n  - tags\n"):
        other = tmp_path / "mkdocs.yml"
        base = (REPO_ROOT / "mkdocs.yml").read_text()
        other.write_text(base.replace("plugins:\n  - search\n", "plugins:\n") + extra if "plugins" in extra
                         else base + extra)
        assert not usable(load_mkdocs_config(other, docs)), extra


@pytest.mark.slow
def test_a_broken_link_on_a_plain_page_is_reported_once_as_mkdocs_reports_it(tmp_path, caplog):
    from generator.render import plain_markdown
    from generator.render.mkdocs_build import run_mkdocs

    docs = tmp_path / "docs"
    examples = docs / "runs/r/d/examples"
    examples.mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n")
    for index in range(4):  # the first two are converted both ways (the check), the others here alone
        (examples / f"e{index}.md").write_text(f"# E{index}\n\n[gone](missing-{index}.md)\n")
    (tmp_path / "runs").mkdir()

    def warnings(name):
        caplog.clear()
        with caplog.at_level("INFO"):
            run_mkdocs(REPO_ROOT / "mkdocs.yml", {"docs_dir": str(docs), "site_dir": str(tmp_path / name)},
                       tmp_path / "runs", jobs=1)
        return sorted(r.getMessage() for r in caplog.records if "missing-" in r.getMessage())

    ours = warnings("ours")
    assert len(ours) == 4
    real = plain_markdown.usable
    plain_markdown.usable = lambda config: False
    try:
        assert warnings("theirs") == ours
    finally:
        plain_markdown.usable = real
    assert json.loads((tmp_path / "ours/search/search_index.json").read_text()) == \
        json.loads((tmp_path / "theirs/search/search_index.json").read_text())
