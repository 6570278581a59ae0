"""`atlas serve` picks up finished runs: the manifest watcher."""

from __future__ import annotations

import threading


from generator.render.watch import RunsWatcher, runs_signature


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
