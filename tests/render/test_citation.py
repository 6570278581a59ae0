"""Citing what the site shows: figure snippets, the site's BibTeX entry, and site_url honoured end to end."""

import html
import json
import re

import pytest

from generator.render.citation import (CitedRun, FigureCitation, SiteSettings, latex_escape, markdown_inert,
                                       normalised_site_url, site_bibtex)
from tests.conftest import REPO_ROOT

HASH = "0123456789abcdef" * 4
CITATION = FigureCitation("Flip rate: one head (dataset decimals)", "my_run", HASH,
                          "runs/my_run/decimals/figures/transplant.png", "runs/my_run/decimals/figures/transplant.pdf",
                          "runs/my_run/decimals/index.html#fig-transplant", "my-run-decimals-transplant")


def test_latex_and_markdown_text_is_printed_as_written():
    assert latex_escape(r"a_b 50% #1 {x} $y$ ~ ^ \z & w") == \
        r"a\_b 50\% \#1 \{x\} \$y\$ \textasciitilde{} \textasciicircum{} \textbackslash{}z \& w"
    assert markdown_inert("*a* [b](c) <d>") == r"\*a\* \[b\](c) \<d\>"


def test_a_snippet_names_caption_run_config_file_and_permalink():
    local = SiteSettings()
    markdown = CITATION.markdown(local)
    assert markdown.startswith("![Flip rate: one head (dataset decimals)](runs/my_run/decimals/figures/transplant.png)")
    assert "run my\\_run, config 0123456789ab" in markdown and "`runs/my_run/decimals/figures/transplant.pdf`" in markdown
    assert markdown.endswith("<runs/my_run/decimals/index.html#fig-transplant>")
    latex = CITATION.latex(local)
    assert "\\includegraphics[width=\\linewidth]{runs/my_run/decimals/figures/transplant.pdf}" in latex
    assert "\\caption{Flip rate: one head (dataset decimals). Attention Atlas run \\texttt{my\\_run}, config " \
           "\\texttt{0123456789ab}; \\url{runs/my\\_run" not in latex  # URLs are not text-escaped
    assert "\\url{runs/my_run/decimals/index.html\\#fig-transplant}" in latex
    assert "\\label{fig:my-run-decimals-transplant}" in latex
    published = SiteSettings("https://lab.example.org/atlas/")
    assert "<https://lab.example.org/atlas/runs/my_run/decimals/index.html#fig-transplant>" in CITATION.markdown(published)
    assert "](https://lab.example.org/atlas/runs/my_run/decimals/figures/transplant.png)" in CITATION.markdown(published)
    assert "\\url{https://lab.example.org/atlas/runs/my_run/decimals/index.html\\#fig-transplant}" in \
        CITATION.latex(published)


def test_the_site_bibtex_entry_names_its_runs_and_only_what_is_known():
    runs = [CitedRun("demo", HASH, "2026-11-02T10:00:00+00:00"), CitedRun("r_2", "f" * 64, "2026-12-01T09:00:00+00:00")]
    entry = site_bibtex(SiteSettings("https://x.example/", "Our {Atlas} & notes", "A. Author"), runs, "0.4.0")
    assert entry.startswith("@misc{our-atlas-notes-2026,\n")
    assert "  title = {{Our \\{Atlas\\} \\& notes}}" in entry and "  author = {A. Author}" in entry
    assert "  year = {2026}" in entry and "  howpublished = {\\url{https://x.example/}}" in entry
    assert "demo (config 0123456789ab); r\\_2 (config ffffffffffff)" in entry and entry.endswith("\n}")
    bare = site_bibtex(SiteSettings(), [], "0.4.0")
    assert "author" not in bare and "howpublished" not in bare and "year" not in bare


def test_only_http_site_urls_are_taken():
    assert normalised_site_url("https://a.example/report") == "https://a.example/report/"
    assert normalised_site_url(None) is None and normalised_site_url("") is None
    for bad in ("javascript:alert(1)", "file:///tmp/x", "a.example/report"):
        with pytest.raises(ValueError, match="site_url: expected an http"):
            normalised_site_url(bad)


@pytest.fixture(scope="module")
def published_site(tiny_run, tmp_path_factory):
    from generator.render.site import build_site

    out = tmp_path_factory.mktemp("published")
    return build_site(tiny_run.parent, REPO_ROOT / "mkdocs.yml", site_dir=out / "site", docs_dir=out / "docs",
                      site_url="https://lab.example.org/atlas").site_dir


def test_site_url_makes_snippets_index_and_sitemap_absolute(published_site):
    sitemap = (published_site / "sitemap.xml").read_text()
    assert "<loc>https://lab.example.org/atlas/runs/tiny/alpha/index.html</loc>" in sitemap
    entries = json.loads((published_site / "atlas-index.json").read_text())["entries"]
    figures = [e for e in entries if e.get("anchor")]
    assert figures and all(e["url"] == f"https://lab.example.org/atlas/{e['page']}#{e['anchor']}" for e in figures)
    page = (published_site / "runs/tiny/alpha/index.html").read_text()
    assert "https://lab.example.org/atlas/runs/tiny/alpha/index.html#fig-entropy-by-layer" in html.unescape(page)
    assert page.count('class="atlas-copy"') == 2 * len({e["anchor"] for e in figures if e["page"].startswith(
        "runs/tiny/alpha/index")})
    for url in set(re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page)):
        assert url.startswith("https://lab.example.org/atlas/"), url  # the site's own address only (canonical)
    bib = (published_site / "cite.bib").read_text()
    assert "howpublished = {\\url{https://lab.example.org/atlas/}}" in bib and "tiny (config " in bib
    index = html.unescape((published_site / "index.html").read_text())
    assert "Cite this site" in index and "@misc{attention-atlas-" in index


def test_a_site_url_that_is_not_http_is_a_usage_error(tiny_run, tmp_path, capsys):
    from generator.cli import main

    code = main(["build", "--runs", str(tiny_run.parent), "--mkdocs-config", str(REPO_ROOT / "mkdocs.yml"),
                 "--site-dir", str(tmp_path / "site"), "--site-url", "javascript:alert(1)"])
    assert code != 0 and "--site-url: expected an http:// or https:// address" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()
