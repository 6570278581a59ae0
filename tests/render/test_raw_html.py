"""Our HTML block lines, stashed around Python-Markdown, give exactly the HTML it gives on its own."""

import markdown
import pytest

from generator.render.raw_html import block_anchors, restore_own_blocks, stash_own_blocks, top_level_elements
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


def _mkdocs_raw_html_anchors(lines):
    from mkdocs.structure.pages import _HTMLHandler

    handler = _HTMLHandler()
    handler.feed("\n".join(lines))
    handler.close()
    return handler.present_anchor_ids


def test_the_anchors_of_our_blocks_are_those_mkdocs_finds_in_them(tiny_site):
    found = 0
    for page in sorted((tiny_site.parent / "docs").rglob("*.md")):
        _, lines = stash_own_blocks(page.read_text(encoding="utf-8"), MARKER)
        assert block_anchors(lines) == _mkdocs_raw_html_anchors(lines), page
        found += len(block_anchors(lines))
    assert found > 10
    lines = ['<div class="atlas-x" ID="a&amp;b"><a name="n" href="x.html">x</a><span name="not-a-link"></span></div>']
    assert block_anchors(lines) == _mkdocs_raw_html_anchors(lines) == {"a&b", "n"}


def test_a_link_to_an_anchor_in_our_blocks_is_checked_as_without_the_stash(tmp_path, caplog):
    from generator.render.mkdocs_build import run_mkdocs

    examples = tmp_path / "docs/runs/r/d/examples"
    examples.mkdir(parents=True)
    (tmp_path / "runs").mkdir()
    (tmp_path / "docs/index.md").write_text("# Home\n\n[strip](runs/r/d/examples/a.md#atlas-a-tokens) "
                                            "[named](runs/r/d/examples/a.md#atlas-nav) "
                                            "[gone](runs/r/d/examples/a.md#atlas-gone)\n")
    (examples / "a.md").write_text('# A\n\n<div class="atlas-tokens" id="atlas-a-tokens"></div>\n\n'
                                   '<nav class="atlas-example-nav"><a name="atlas-nav" href="../index.html">up</a>'
                                   '</nav>\n')
    with caplog.at_level("INFO"):
        run_mkdocs(REPO_ROOT / "mkdocs.yml", {"docs_dir": str(tmp_path / "docs"), "site_dir": str(tmp_path / "site"),
                                              "validation": {"links": {"anchors": "warn"}}}, tmp_path / "runs")
    about_anchors = [r.getMessage() for r in caplog.records if "does not contain an anchor" in r.getMessage()]
    assert len(about_anchors) == 1 and "#atlas-gone" in about_anchors[0]
