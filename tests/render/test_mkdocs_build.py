"""Incremental MkDocs builds: only changed pages are built again, and the site equals a whole build."""

from __future__ import annotations

import importlib
import json
import os
import shutil

import pytest

from tests.conftest import REPO_ROOT
from tests.render.mkdocs_shortcuts import same_site_with_and_without


def _tree(site):
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def _project(tmp_path, tiny_run):
    """A report project: our mkdocs.yml, one handwritten page in the navigation, a copy of the tiny run."""
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", project / "mkdocs.yml")
    (project / "docs" / "notes.md").write_text("# Notes\n\nHandwritten.\n")
    shutil.copytree(tiny_run, project / "runs" / "tiny")
    return project


def _build(project, name, **options):
    from generator.render.site import build_site

    return build_site(project / "runs", project / "mkdocs.yml", site_dir=project / name / "site",
                      docs_dir=project / name / "docs", **options)


def _change_example(project):
    path = project / "runs/tiny/examples/alpha/a-0/trajectory.json"
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = "changed"
    path.write_text(json.dumps(data))


def _same_as_a_whole_build(project, built):
    fresh = _build(project, "fresh", full=True)
    assert not fresh.incremental
    mine, whole = _tree(built.site_dir), _tree(fresh.site_dir)
    assert mine.keys() == whole.keys()
    assert [name for name in mine if mine[name] != whole[name]] == []
    shutil.rmtree(project / "fresh")


@pytest.mark.slow
def test_a_changed_example_rebuilds_only_its_pages_and_equals_a_whole_build(tiny_run, tmp_path):
    project = _project(tmp_path, tiny_run)
    assert not _build(project, "out").incremental
    site = project / "out" / "site"
    untouched = site / "runs/tiny/beta/examples/b-0.html"
    before = untouched.stat().st_mtime_ns
    notes = (site / "notes.html").stat().st_mtime_ns  # in the navigation, its source unchanged
    last = {p.stat().st_ino: (p.relative_to(site).as_posix(), p.read_bytes()) for p in site.rglob("*") if p.is_file()}
    _change_example(project)
    again = _build(project, "out")
    assert again.incremental and again.rendered == 3
    assert untouched.stat().st_mtime_ns == before  # MkDocs did not write it again
    assert (site / "notes.html").stat().st_mtime_ns == notes  # nor an unchanged page of the navigation
    now = {p.relative_to(site).as_posix(): p for p in site.rglob("*") if p.is_file()}
    linked = {name for name, p in now.items() if p.stat().st_ino in last}
    assert "runs/tiny/beta/examples/b-0.html" in linked and "runs/tiny/alpha/examples/a-0.html" not in linked
    assert all(name.startswith("runs/tiny/") and "/examples/" in name for name in linked)
    for name in linked:  # a file shared with the last site was never written through: it is the last site's
        assert last[now[name].stat().st_ino] == (name, now[name].read_bytes())
    index = json.loads((site / "search/search_index.json").read_text())
    assert "changed" in json.dumps([d for d in index["docs"] if d["location"].startswith("runs/tiny/alpha/examples/a-0")])
    assert (site / "search/search_index.js").read_text().startswith("var __index = ")
    _same_as_a_whole_build(project, again)


@pytest.mark.slow
@pytest.mark.parametrize("change", ["navigation title", "navigation front matter", "new page", "mkdocs.yml",
                                    "site removed"])
def test_a_rebuild_is_whole_when_an_incremental_one_could_differ(tiny_run, tmp_path, change):
    project = _project(tmp_path, tiny_run)
    _build(project, "out")
    _change_example(project)
    if change == "navigation title":  # every page's navigation shows it: unchanged pages would be stale
        (project / "docs" / "notes.md").write_text("# Notes, revised\n\nHandwritten.\n")
    elif change == "navigation front matter":  # the same title, but every page's navigation shows the subtitle
        (project / "docs" / "notes.md").write_text("---\nsubtitle: draft\n---\n\n# Notes\n\nHandwritten.\n")
    elif change == "new page":
        (project / "docs" / "more.md").write_text("# More\n")
    elif change == "mkdocs.yml":
        config = project / "mkdocs.yml"
        config.write_text(config.read_text().replace("site_name: Attention Atlas", "site_name: Another Atlas"))
    else:
        (project / "out" / "site" / "search" / "search_index.json").unlink()
    again = _build(project, "out")
    assert not again.incremental
    _same_as_a_whole_build(project, again)


@pytest.mark.slow
def test_docs_with_the_same_bytes_leave_the_site_as_it_is_without_mkdocs(tiny_run, tmp_path, monkeypatch):
    """Nothing changed (our pages rewritten with the same bytes, the runs' pages linked): MkDocs is not run and the
    site is the last one; a handwritten page whose bytes changed (same size, same name) builds again."""
    from mkdocs.commands import build as mkdocs_build

    project = _project(tmp_path, tiny_run)
    first = _build(project, "out")
    before = {p.relative_to(first.site_dir).as_posix(): (p.stat().st_ino, p.read_bytes())
              for p in first.site_dir.rglob("*") if p.is_file()}
    build = mkdocs_build.build
    calls = []
    monkeypatch.setattr(mkdocs_build, "build", lambda *a, **k: calls.append(1) or build(*a, **k))
    again = _build(project, "out")
    assert again.incremental and again.unchanged and again.rendered == 0 and calls == []
    assert {p.relative_to(again.site_dir).as_posix(): (p.stat().st_ino, p.read_bytes())
            for p in again.site_dir.rglob("*") if p.is_file()} == before  # the very same files
    notes = project / "docs" / "notes.md"
    written = notes.stat().st_mtime_ns
    notes.write_text("# Notes\n\nHandwriteN.\n")  # same size, other bytes,
    os.utime(notes, ns=(written, written))        # and the time it had (a file restored with its time)
    changed = _build(project, "out")
    assert calls == [1] and changed.incremental and not changed.unchanged
    assert "HandwriteN" in (changed.site_dir / "notes.html").read_text()
    assert not _build(project, "out", full=True).incremental and calls == [1, 1]  # --full always builds
    _same_as_a_whole_build(project, changed)


def test_a_docs_record_knows_a_linked_file_a_rewritten_one_and_a_new_one(tmp_path):
    import os

    from generator.render.mkdocs_build import docs_record, same_docs

    docs = tmp_path / "docs"
    (docs / "runs/r/d/examples").mkdir(parents=True)
    (docs / "index.md").write_text("# Index\n")
    (docs / "runs/r/d/examples/e.md").write_text("# e\n")
    first = docs_record(docs)
    assert first["runs/r/d/examples/e.md"][3] is None and first["index.md"][3] is not None  # runs' pages: unread
    moved = tmp_path / "next"
    (moved / "runs/r/d/examples").mkdir(parents=True)
    os.link(docs / "runs/r/d/examples/e.md", moved / "runs/r/d/examples/e.md")  # linked: the same file
    (moved / "index.md").write_text("# Index\n")  # written again, same bytes
    assert same_docs(docs_record(moved, first), first)
    (moved / "runs/r/d/examples/e.md").unlink()
    (moved / "runs/r/d/examples/e.md").write_text("# e\n")  # rendered again: its old hash is unknown
    second = docs_record(moved, first)
    assert not same_docs(second, first) and second["runs/r/d/examples/e.md"][3] is not None
    assert not same_docs(second, {**second, "gone.md": second["index.md"]}) and not same_docs(second, None)


def test_merging_a_search_index_keeps_the_order_of_a_whole_build():
    from generator.render.mkdocs_build import merge_search_index

    def index(*docs):
        return json.dumps({"config": {"lang": ["en"]}, "docs": [{"location": loc, "text": t} for loc, t in docs]},
                          separators=(",", ":"))

    previous = index(("a.html", "1"), ("a.html#x", "2"), ("b.html", "3"), ("b.html#y", "4"), ("c.html", "5"))
    partial = index(("b.html", "3'"), ("b.html#z", "new section"))
    assert merge_search_index(previous, partial) == index(
        ("a.html", "1"), ("a.html#x", "2"), ("b.html", "3'"), ("b.html#z", "new section"), ("c.html", "5"))


@pytest.mark.slow
def test_pages_kept_on_disk_during_the_build_give_the_same_site(tiny_run, tmp_path, monkeypatch):
    from mkdocs.plugins import BasePlugin

    from generator.render import mkdocs_build

    project = _project(tmp_path, tiny_run)
    spilled = _tree(_build(project, "spilled").site_dir)

    class InMemory(BasePlugin):
        def __init__(self, scratch):
            super().__init__()

    monkeypatch.setattr(mkdocs_build, "SpillPagesPlugin", InMemory)
    in_memory = _tree(_build(project, "in-memory").site_dir)
    assert spilled.keys() == in_memory.keys()
    assert [name for name in spilled if spilled[name] != in_memory[name]] == []
    assert "runs/tiny/alpha/examples/a-0.html" in spilled


@pytest.mark.slow
def test_pages_built_in_workers_equal_mkdocs_building_every_page(tiny_run, tmp_path):
    """Example pages built by MkDocs' page functions in worker processes: the same site, byte for byte."""
    project = _project(tmp_path, tiny_run)
    one = _build(project, "one", jobs=1)
    two = _build(project, "two", jobs=2)
    mine, theirs = _tree(two.site_dir), _tree(one.site_dir)
    assert mine.keys() == theirs.keys()
    assert [name for name in mine if mine[name] != theirs[name]] == []
    index = json.loads((two.site_dir / "search/search_index.json").read_text())
    pages = [d["location"].split("#")[0] for d in index["docs"]]
    assert "runs/tiny/alpha/examples/a-1.html" in pages  # the workers' entries are in the index
    css = "assets/atlas.css"  # the docs' media are linked into the site, not copied
    assert (two.site_dir / css).stat().st_ino == (project / "two" / "docs" / css).stat().st_ino
    _change_example(project)
    one, two = _build(project, "one", jobs=1), _build(project, "two", jobs=2)
    assert one.incremental and two.incremental
    mine, theirs = _tree(two.site_dir), _tree(one.site_dir)
    assert [name for name in mine if mine[name] != theirs[name]] == [] and mine.keys() == theirs.keys()


def test_workers_are_used_only_where_the_site_is_the_same(tmp_path):
    from generator.render.mkdocs_build import load_mkdocs_config
    from generator.render.parallel_pages import usable

    docs = {"docs_dir": str(tmp_path / "docs")}
    (tmp_path / "docs").mkdir()
    config = load_mkdocs_config(REPO_ROOT / "mkdocs.yml", docs)
    assert usable(config, 2) and not usable(config, 1)
    assert usable(load_mkdocs_config(REPO_ROOT / "mkdocs.yml", docs | {"strict": True}), 2)  # their warnings count
    other = tmp_path / "mkdocs.yml"
    other.write_text((REPO_ROOT / "mkdocs.yml").read_text().replace("  - offline", "  - offline\n  - tags"))
    assert not usable(load_mkdocs_config(other, docs), 2)  # a plugin we do not know
    from mkdocs.commands import build

    real = build._build_page
    try:
        build._build_page = lambda page, config: None  # a MkDocs whose private page function changed
        assert not usable(config, 2)
    finally:
        build._build_page = real
    assert usable(config, 2)


def _pages_with_anchor_links(tmp_path):
    """Docs whose pages outside the navigation link to each other's anchors, one of them missing, and whose
    front page links to a missing anchor of one of them."""
    docs = tmp_path / "docs"
    examples = docs / "runs/r/d/examples"
    examples.mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\n[b](runs/r/d/examples/b.md#nowhere)\n")
    (examples / "a.md").write_text("# A\n\n## Here\n\n[b](b.md#nowhere) and [b's section](b.md#there)\n")
    (examples / "b.md").write_text("# B\n\n## There\n\n[back](a.md#here)\n")
    for index in range(6):  # enough pages for every worker to build some
        (examples / f"c{index}.md").write_text(f"# C{index}\n\n[a](a.md#gone)\n" if index == 5 else f"# C{index}\n")
    (tmp_path / "runs").mkdir()
    return docs


ANCHORS_WARN = {"links": {"not_found": "warn", "anchors": "warn", "unrecognized_links": "ignore"}}


def _anchor_warnings(caplog, tmp_path, name, jobs, **overrides):
    from generator.render.mkdocs_build import run_mkdocs

    caplog.clear()
    settings = {"docs_dir": str(tmp_path / "docs"), "site_dir": str(tmp_path / name), "validation": ANCHORS_WARN}
    with caplog.at_level("INFO"):
        run_mkdocs(REPO_ROOT / "mkdocs.yml", settings | overrides, tmp_path / "runs", jobs=jobs)
    return sorted(r.getMessage() for r in caplog.records if "anchor" in r.getMessage())


@pytest.mark.slow
def test_pages_built_in_workers_say_what_mkdocs_says_and_a_strict_build_stops(tmp_path, caplog):
    """The anchor links between pages built in different workers, and from the navigation to them, are checked
    as MkDocs checks them; a strict build counts the workers' warnings and stops, leaving no site."""
    from generator.render.mkdocs_build import SiteError

    _pages_with_anchor_links(tmp_path)
    alone = _anchor_warnings(caplog, tmp_path, "one", jobs=1)
    assert len(alone) == 3 and all("does not contain an anchor" in message for message in alone)
    assert any("'#gone'" in message for message in alone) and any("'index.md'" in message for message in alone)
    assert _anchor_warnings(caplog, tmp_path, "two", jobs=2) == alone
    with pytest.raises(SiteError, match="MkDocs stopped the build.*3 warnings in strict mode"):
        _anchor_warnings(caplog, tmp_path, "strict", jobs=2, strict=True)
    assert not (tmp_path / "strict").exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".strict.")]  # no staging folder left


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_checks_links_to_an_unchanged_navigation_page_as_a_whole_build_does(tmp_path, caplog, jobs):
    """An unchanged navigation page is not built again, but its anchors are known: a changed page's link to a
    missing one is reported as a whole build reports it."""
    from generator.render.mkdocs_build import run_mkdocs

    docs = _pages_with_anchor_links(tmp_path)
    (docs / "index.md").write_text("# Home\n\n## Welcome\n")
    settings = {"docs_dir": str(docs), "site_dir": str(tmp_path / "site"), "validation": ANCHORS_WARN}
    assert run_mkdocs(REPO_ROOT / "mkdocs.yml", settings, tmp_path / "runs", jobs=jobs)[1] == "whole"
    (docs / "runs/r/d/examples/b.md").write_text("# B\n\n## There\n\n[home](../../../../index.md#welcome) "
                                                  "[gone](../../../../index.md#nowhere)\n")
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run_mkdocs(REPO_ROOT / "mkdocs.yml", settings, tmp_path / "runs", jobs=jobs)[1] == "incremental"
    about_index = [r.getMessage() for r in caplog.records if "'index.md'" in r.getMessage()]
    assert len(about_index) == 1 and "'#nowhere'" in about_index[0]


@pytest.mark.slow
def test_a_navigation_page_that_includes_another_file_is_built_again_when_that_file_changes(tiny_run, tmp_path):
    """pymdownx.snippets puts another file's text in a page whose own bytes do not change: with such an extension
    every navigation page is built again, and the rebuild still equals a whole build."""
    project = _project(tmp_path, tiny_run)
    snippet = tmp_path / "snippets" / "status.txt"
    snippet.parent.mkdir()
    snippet.write_text("Status: draft.\n")
    config = project / "mkdocs.yml"
    config.write_text(config.read_text() + f"markdown_extensions:\n  - pymdownx.snippets:\n"
                                           f"      base_path: [{json.dumps(str(snippet.parent))}]\n")
    (project / "docs" / "notes.md").write_text('# Notes\n\n--8<-- "status.txt"\n')
    _build(project, "out")
    assert "Status: draft." in (project / "out/site/notes.html").read_text()
    snippet.write_text("Status: final.\n")  # the docs' bytes are all the same: MkDocs must run all the same
    again = _build(project, "out")
    assert again.incremental and not again.unchanged
    assert "Status: final." in (project / "out/site/notes.html").read_text()
    snippet.write_text("Status: published.\n")
    _change_example(project)
    again = _build(project, "out")
    assert again.incremental and "Status: published." in (project / "out/site/notes.html").read_text()
    _same_as_a_whole_build(project, again)


def test_only_extensions_that_read_nothing_but_the_page_let_unchanged_pages_stay(tmp_path):
    from generator.render.mkdocs_build import load_mkdocs_config, pages_are_their_source

    (tmp_path / "docs").mkdir()
    docs = {"docs_dir": str(tmp_path / "docs")}
    assert pages_are_their_source(load_mkdocs_config(REPO_ROOT / "mkdocs.yml", docs))
    for extensions, pure in (("[toc, markdown.extensions.tables, pymdownx.superfences]", True),
                             ("[pymdownx.snippets]", False), ("[toc, pymdownx.b64]", False)):
        other = tmp_path / "mkdocs.yml"
        other.write_text((REPO_ROOT / "mkdocs.yml").read_text() + f"markdown_extensions: {extensions}\n")
        assert pages_are_their_source(load_mkdocs_config(other, docs)) is pure, extensions


SHORTCUTS = [("plain_markdown", "PlainMarkdownPlugin", "converted", 3),  # module, plugin, its count of pages, least
             ("search_entries", "SearchEntriesPlugin", "indexed", 5),
             ("shared_partials", "SharedPartialsPlugin", "reused", 2)]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("name, plugin, counted, least", SHORTCUTS)
def test_each_shortcut_gives_the_site_mkdocs_gives_without_it(tiny_run, tmp_path, monkeypatch, jobs, name, plugin,
                                                              counted, least):
    """Plain pages converted without Python-Markdown, search entries made without HTMLParser, partials drawn once
    per folder: each gives the same site, byte for byte, and was used."""
    made = same_site_with_and_without(monkeypatch, _project(tmp_path, tiny_run),
                                      importlib.import_module(f"generator.render.{name}"), plugin, jobs)
    if jobs == 1:  # workers keep their own counts
        assert getattr(made, counted) >= least and made.checked == 2
