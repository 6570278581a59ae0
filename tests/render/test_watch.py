"""`atlas serve` picks up finished runs: the manifest watcher and the copy into the served folder."""

from __future__ import annotations

import threading

import pytest

from generator.render.watch import SERVE_MARKER, RunsWatcher, runs_signature, sync_tree


def test_sync_writes_only_what_changed_and_removes_what_is_gone(tmp_path):
    source, target = tmp_path / "docs", tmp_path / "served"
    (source / "a").mkdir(parents=True)
    (source / "a/page.md").write_text("one")
    (source / "index.md").write_text("index")
    assert sync_tree(source, target) == 2
    kept = (target / "index.md").stat().st_mtime_ns
    (source / "a/page.md").write_text("two")
    (source / "b.md").write_text("new")
    (source / "index.md").write_text("index")  # same bytes: not written again
    assert sync_tree(source, target) == 2
    assert (target / "a/page.md").read_text() == "two" and (target / "b.md").read_text() == "new"
    assert (target / "index.md").stat().st_mtime_ns == kept
    (source / "a/page.md").unlink()
    assert sync_tree(source, target) == 1
    assert not (target / "a").exists() and (target / SERVE_MARKER).is_file()


def test_sync_never_writes_into_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/notes.md").write_text("keep")
    with pytest.raises(FileExistsError, match="not made by `atlas serve`"):
        sync_tree(tmp_path / "docs", tmp_path / "mine")
    assert (tmp_path / "mine/notes.md").read_text() == "keep"


def test_the_watcher_calls_back_when_a_run_finishes(tmp_path):
    runs = tmp_path / "runs"
    (runs / "first").mkdir(parents=True)
    (runs / "first/manifest.json").write_text("{}")
    called = threading.Event()
    watcher = RunsWatcher(runs, called.set, interval=0.05)
    watcher.start()
    try:
        assert not called.wait(0.3)  # nothing changed yet
        (runs / "second").mkdir()
        (runs / "second/examples").mkdir()  # a run still going has no manifest: not yet
        assert not called.wait(0.3)
        (runs / "second/manifest.json").write_text("{}")
        assert called.wait(5)
    finally:
        watcher.stop()
    assert [name for name, *_ in runs_signature(runs)] == ["first", "second"]
