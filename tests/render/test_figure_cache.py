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


def test_entries_no_page_uses_are_pruned(tmp_path):
    cache = tmp_path / "cache"
    with figure_cache(cache) as first:
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "a" / "fig", "old")
    with figure_cache(cache) as second:
        counted(np.ones((2, 2), dtype=np.float32), tmp_path / "b" / "fig", "kept")
        counted(np.ones((2, 2), dtype=np.float32), tmp_path / "c" / "fig", "kept")  # copied: its key counts too
    assert len(first) == 1 and len(second) == 2 and second[0] == second[1] != first[0]
    (cache / f".{'0' * 64}.k1ll3d").mkdir()  # the staging folder of a killed build
    prune(cache, set(second))
    assert sorted(entry.name for entry in cache.iterdir()) == sorted(["ATLAS-FIGURE-CACHE", second[0]])


def test_a_folder_we_did_not_create_is_neither_used_nor_pruned(tmp_path):
    theirs = tmp_path / "theirs"
    (theirs / ("a" * 64)).mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine")
    calls.clear()
    with figure_cache(theirs):
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "a" / "fig", "t")
        counted(np.zeros((2, 2), dtype=np.float32), tmp_path / "b" / "fig", "t")
    assert calls == ["t", "t"]  # drawn both times: their folder is not a cache of ours
    prune(theirs, set())
    assert sorted(entry.name for entry in theirs.iterdir()) == ["a" * 64, "notes.txt"]
