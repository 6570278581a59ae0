"""`atlas serve`: the site built as `atlas build` builds it, into its own folders; a failed build keeps the last."""

from __future__ import annotations

import shutil

import pytest

from generator.render.serve import SERVE_FOLDER, ServedSite, parse_dev_addr
from tests.conftest import REPO_ROOT


def test_the_served_site_is_built_incrementally_and_a_failed_build_keeps_the_last(tmp_path, tiny_run, capsys):
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "first")
    site = ServedSite(runs, tmp_path / "mkdocs.yml", jobs=1)
    assert site.site_dir == tmp_path / SERVE_FOLDER / "site" and site.docs_dir == tmp_path / SERVE_FOLDER / "docs"
    assert "whole site" in site.build()
    example = site.site_dir / "runs/first/alpha/examples/a-0.html"
    assert example.is_file()

    site.rebuild()
    assert "; nothing new); the browser reloads" in capsys.readouterr().out

    shutil.copytree(tiny_run, runs / "second")
    site.runs_changed()  # what the runs watcher does when a manifest appears: the server builds again
    assert (site.trigger_dir / "changed").is_file()
    site.rebuild()
    said = capsys.readouterr().out
    pages = int(said.split("built ", 1)[1].split(" pages", 1)[0])
    rendered = int(said.split("(", 1)[1].split(" rendered now", 1)[0])
    assert 0 < rendered < pages  # the first run's pages were not rendered again
    assert (site.site_dir / "runs/second/alpha/examples/a-0.html").is_file()
    last_page = example.read_bytes()  # with the second run in its navigation

    (tmp_path / "mkdocs.yml").write_text("site_name: [\n")  # a broken config: said, and the last site stays served
    site.rebuild()
    problem = capsys.readouterr().err
    assert "could not build the site" in problem and "mkdocs.yml" in problem and "still serving the last one" in problem
    assert (site.site_dir / "runs/second/index.html").is_file() and example.read_bytes() == last_page
    assert not (tmp_path / "site").exists()  # `atlas build`'s site is not touched


def test_the_server_watches_the_config_the_projects_folders_and_the_runs_trigger(tmp_path):
    (tmp_path / "mkdocs.yml").write_text("site_name: x\n")
    (tmp_path / "docs").mkdir()
    site = ServedSite(tmp_path / "runs", tmp_path / "mkdocs.yml")
    assert site.watched() == [tmp_path / "mkdocs.yml", site.trigger_dir, tmp_path / "docs"]
    (tmp_path / "templates").mkdir()
    assert site.watched()[-1] == tmp_path / "templates"
    assert tmp_path / "runs" not in site.watched()  # polled file by file by the server: manifests only, by the watcher


@pytest.mark.parametrize("address,expected", [("127.0.0.1:8000", ("127.0.0.1", 8000)), ("localhost:80", ("localhost", 80)),
                                              ("[::1]:8001", ("::1", 8001))])
def test_dev_addresses(address, expected):
    assert parse_dev_addr(address) == expected


@pytest.mark.parametrize("address", ["8000", "127.0.0.1", "127.0.0.1:http", ":8000", "127.0.0.1:70000"])
def test_a_bad_dev_address_says_what_was_expected(address):
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_dev_addr(address)


def test_a_served_rebuild_shows_an_example_changed_in_place_though_its_reads_are_kept(tmp_path, tiny_run):
    """`atlas serve` keeps what it read by file version (``read_cache``): a trajectory rewritten in place (the same
    file, a new time and size) is read again, on its example page and on its dataset page's table."""
    import json

    from generator.store import read_cache

    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "first")
    site = ServedSite(runs, tmp_path / "mkdocs.yml", jobs=1)
    read_cache.enable()
    try:
        site.build()
        assert len(read_cache.active()) > 0
        path = runs / "first/examples/alpha/a-0/trajectory.json"
        data = json.loads(path.read_text())
        data["metadata"]["difficulty"] = "changed in place"
        path.write_text(json.dumps(data))
        assert "only changed pages built" in site.build()
    finally:
        read_cache.disable()
    for page in ("runs/first/alpha/index.html", "runs/first/alpha/examples/a-0.html"):
        assert "changed in place" in (site.site_dir / page).read_text(encoding="utf-8"), page
