"""A static figure whose inputs are unchanged is copied from the cache, byte for byte; anything else is drawn."""

import numpy as np

from generator.render import figures
from generator.render.figure_cache import figure_cache, prune, reusable

calls = []


@reusable
def counted(values: np.ndarray, stem, title: str) -> list:
    calls.append(title)
    return figures.matrix_heatmap.__wrapped__(values, ["a", "b"], ["x", "y"], stem, title, "v")


def test_the_same_inputs_are_copied_and_other_inputs_drawn(tmp_path):
    calls.clear()
    values = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    with figure_cache(tmp_path / "cache"):
        first = counted(values, tmp_path / "one" / "fig", "t")
        again = counted(values, tmp_path / "two" / "fig", "t")
        counted(values + 1, tmp_path / "three" / "fig", "t")
        counted(values, tmp_path / "four" / "fig", "another title")
    assert calls == ["t", "t", "another title"]  # the second call was a copy
    assert [p.name for p in again] == [p.name for p in first] == ["fig.png", "fig.svg", "fig.pdf", "fig.csv"]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, again))
    counted(values, tmp_path / "five" / "fig", "t")  # no cache: drawn
    assert calls[-1] == "t" and len(calls) == 4


def test_a_cached_figure_equals_a_drawn_one(tmp_path):
    grids = [np.eye(3, dtype=np.float32) * i for i in range(1, 4)]
    drawn = figures.small_multiples(grids, ["a", "b", "c"], tmp_path / "drawn" / "grid", "t", "mass")
    with figure_cache(tmp_path / "cache"):
        figures.small_multiples(grids, ["a", "b", "c"], tmp_path / "first" / "grid", "t", "mass")
        copied = figures.small_multiples(grids, ["a", "b", "c"], tmp_path / "copied" / "grid", "t", "mass")
    assert [p.read_bytes() for p in copied] == [p.read_bytes() for p in drawn]


def test_entries_no_build_used_are_pruned(tmp_path):
    import os
    import time

    cache = tmp_path / "cache"
    with figure_cache(cache):
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "a" / "fig", "old")
        counted(np.ones((2, 2), dtype=np.float32), tmp_path / "b" / "fig", "kept")
    old, kept = sorted((entry for entry in cache.iterdir() if entry.is_dir()),
                       key=lambda entry: (entry / "files.json").stat().st_mtime)
    os.utime(old / "files.json", (time.time() - 100, time.time() - 100))
    (cache / f".{'0' * 64}.k1ll3d").mkdir()  # the staging folder of a killed build
    prune(cache, time.time() - 50)
    assert sorted(entry.name for entry in cache.iterdir()) == sorted(["ATLAS-FIGURE-CACHE", kept.name])


def test_a_folder_we_did_not_create_is_neither_used_nor_pruned(tmp_path):
    import time

    theirs = tmp_path / "theirs"
    (theirs / ("a" * 64)).mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine")
    calls.clear()
    with figure_cache(theirs):
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "a" / "fig", "t")
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "b" / "fig", "t")
    assert calls == ["t", "t"]  # drawn both times: their folder is not a cache of ours
    prune(theirs, time.time() + 100)
    assert sorted(entry.name for entry in theirs.iterdir()) == ["a" * 64, "notes.txt"]
