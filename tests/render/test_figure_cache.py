"""A static figure whose inputs are unchanged is copied from the cache, byte for byte; anything else is drawn."""

from pathlib import Path

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


def test_a_kept_plot_document_equals_a_made_one_and_needs_no_bokeh(tmp_path):
    """Dataset pages reuse their interactive plots' documents (``items=True``); others make them each time."""
    import json
    import subprocess
    import sys

    from generator.render import plots
    from generator.render.embed import plot_item
    from generator.results.statistics import MeanWithCI

    series = {"greedy": {"step 1": MeanWithCI(3, 0.2, 0.1, 0.3), "step 2": MeanWithCI(1, 0.5, None, None)}}
    made = plot_item(plots.bars_with_ci(series, "atlas-bars", "Importance", "drop"))
    with figure_cache(tmp_path / "example-cache") as used:  # an example page: nothing kept
        plots.bars_with_ci(series, "atlas-bars", "Importance", "drop")
    assert used == [] and [p.name for p in (tmp_path / "example-cache").iterdir()] == ["ATLAS-FIGURE-CACHE"]
    with figure_cache(tmp_path / "cache", items=True) as used:
        assert plot_item(plots.bars_with_ci(series, "atlas-bars", "Importance", "drop")) == made
        plots.bars_with_ci({"greedy": {**series["greedy"], "step 2": MeanWithCI(2, 0.5, 0.4, 0.6)}}, "atlas-bars",
                           "Importance", "drop")  # another interval: another key
    assert len(set(used)) == 2
    script = ("import sys, json; from pathlib import Path; from generator.render import plots;"
              "from generator.render.embed import plot_item; from generator.render.figure_cache import figure_cache;"
              "from generator.results.statistics import MeanWithCI as M\n"
              f"with figure_cache(Path({str(tmp_path / 'cache')!r}), items=True):\n"
              "    item = plot_item(plots.bars_with_ci({'greedy': {'step 1': M(3, 0.2, 0.1, 0.3), "
              "'step 2': M(1, 0.5, None, None)}}, 'atlas-bars', 'Importance', 'drop'))\n"
              "print(json.dumps({'bokeh': 'bokeh' in sys.modules, 'json': str(item['json'])}))")
    kept = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                     cwd=Path(__file__).resolve().parents[2]).stdout)
    assert kept == {"bokeh": False, "json": str(made["json"])}  # a fresh process reads it without importing Bokeh
    entry = tmp_path / "cache" / used[0] / "item.json"
    entry.write_text("{damaged")
    with figure_cache(tmp_path / "cache", items=True):
        assert plot_item(plots.bars_with_ci(series, "atlas-bars", "Importance", "drop")) == made  # made again


def test_compiled_templates_are_kept_and_loaded_by_the_next_build(tmp_path, monkeypatch):
    import jinja2

    from generator.render.figure_cache import template_bytecode
    from generator.render.jinja import template_environment

    context = {"body": "<b>x</b>", "title": "[t](javascript:x)"}
    plain = jinja2.Environment(loader=jinja2.DictLoader({"t.j2": "{{ title }}: {{ body }}"}))
    kept = template_environment((), template_bytecode(tmp_path / "cache"))
    kept.loader = plain.loader  # our environment's settings, a template of the test's own
    first = kept.get_template("t.j2").render(**context)
    assert list((tmp_path / "cache" / "jinja").iterdir())  # compiled and kept
    compiled = []
    original = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiled.append(a) or original(self, *a, **k))
    again = template_environment((), template_bytecode(tmp_path / "cache"))
    again.loader = plain.loader
    assert again.get_template("t.j2").render(**context) == first == "&#91;t&#93;&#40;javascript&#58;x&#41;: &#60;b&#62;x&#60;/b&#62;"
    assert compiled == []  # loaded, not compiled
    plain.loader.mapping["t.j2"] = "changed {{ title }}"
    fresh = template_environment((), template_bytecode(tmp_path / "cache"))
    fresh.loader = plain.loader
    assert fresh.get_template("t.j2").render(**context).startswith("changed") and len(compiled) == 1  # source checked
    (tmp_path / "theirs").mkdir()
    assert template_bytecode(tmp_path / "theirs") is None and template_bytecode(None) is None  # not ours: no cache
