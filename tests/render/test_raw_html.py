"""Our HTML block lines, stashed around Python-Markdown, give exactly the HTML it gives on its own."""

import markdown
import pytest

from generator.render.raw_html import restore_own_blocks, stash_own_blocks, top_level_elements
from tests.conftest import REPO_ROOT

MARKER = "ATLASBLOCK0123456789abcdefX"


@pytest.fixture(scope="module")
def new_converter(tmp_path_factory):
    """Python-Markdown as our mkdocs.yml configures it (its docs_dir need not exist on a fresh clone)."""
    from mkdocs.config import load_config

    config = load_config(str(REPO_ROOT / "mkdocs.yml"), docs_dir=str(tmp_path_factory.mktemp("docs")))
    return lambda: markdown.Markdown(extensions=config.markdown_extensions, extension_configs=config.mdx_configs)


def _both(text, new):
    stashed, lines = stash_own_blocks(text, MARKER)
    return new().convert(text), restore_own_blocks(new().convert(stashed), MARKER, lines), lines


def test_every_page_of_a_built_site_converts_the_same(tiny_site, new_converter):
    new = new_converter
    pages = sorted((tiny_site.parent / "docs").rglob("*.md"))
    assert len(pages) > 5
    stashed = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        plain, fast, lines = _both(text, new)
        assert fast == plain, page
        stashed += len(lines)
    assert stashed > 20  # the stash did work: token strips, tables, plots, strips with their data


@pytest.mark.parametrize("text", [
    'Intro\n\n<div class="atlas-x">a</div>\n\nEnd.',
    '<div class="atlas-x"><span>a</span></div><script type="application/json">{}</script>',
    'Text\n<div class="atlas-x">not alone</div>\n\nMore.',  # not between blank lines: left alone
    '<div class="atlas-x">a</div> and text after',
    '<div class="atlas-x">open, never closed\n\nNext paragraph.',
    '<div class="atlas-x"></div>text<div class="atlas-y"></div>',
    '```\n<div class="atlas-x">in a fence</div>\n```\n\n<div class="atlas-y">out</div>',
    '~~~~\n<div class="atlas-x">in</div>\n~~~\n<div class="atlas-x">still in</div>\n~~~~\n\n<table class="atlas-t"><tr><td>x</td></tr></table>',
    '<nav class="atlas-n"><a href="x.html">x</a><br></nav>\n\n<details class="atlas-d"><summary>s</summary></details>',
    f'<div class="atlas-x">{MARKER}0</div>',
    '<div class="atlas-compare"><div>\n\n<div class="atlas-x">inside an open block</div>\n\n</div></div>\n\n'
    '<div class="atlas-y">after it</div>',
    '<span>inline start</span> text\n\n<div class="atlas-x">a</div>',
    '~~~~\n<div class="atlas-x">in</div>\n~~~~~\n\n<div class="atlas-y">still in</div>\n~~~~\n\n<div class="atlas-z">out</div>',
])
def test_hard_cases_convert_the_same(text, new_converter):
    plain, fast, _ = _both(text, new_converter)
    assert fast == plain


def test_only_whole_elements_are_taken():
    assert top_level_elements('<div class="a"></div><script></script>') == ['<div class="a"></div>', "<script></script>"]
    assert top_level_elements('<div class="a"><br></div>') == ['<div class="a"><br></div>']
    assert top_level_elements('<div class="a"></div> tail') is None
    assert top_level_elements('<div class="a">') is None
    assert top_level_elements('<div class="a"></div></div>') is None
