"""The token map in the browser: labels thinned on long sequences, segment boundaries drawn, the chosen layer and
head kept in the address; and the copy buttons of citation snippets."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset
from tests.render.test_offline_browser import CHROMIUM, open_offline
from tests.render.test_offline_browser import browser  # noqa: F401 - the shared browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")]
LONG_PROMPT = "Q: " + " + ".join(str(n) for n in range(10, 40)) + " = ?"  # one token per character: ~150 tokens


@pytest.fixture(scope="module")
def long_site(tmp_path_factory):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site

    base = tmp_path_factory.mktemp("long")
    save_tiny_checkpoint(base / "model")
    write_dataset(base / "long.jsonl", [{"id": "long-0", "prompt": LONG_PROMPT, "answer": "1"}])
    config = parse_config({"run_name": "long", "model": {"id": "./model"},
                           "datasets": [{"name": "long", "path": "long.jsonl"}], "generation": {"max_new_tokens": 6},
                           "analyses": {"attention": {"max_map_tokens": 512}}, "output_dir": "runs"})
    execute_run(resolve_paths(config, base), config.to_dict(), config.config_hash())
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


AXIS = """() => {
  for (const doc of Bokeh.documents) {
    const axis = doc.get_model_by_name("atlas-x-axis"), lines = doc.get_model_by_name("atlas-boundaries");
    if (axis && lines) return {labels: Array.from(axis.major_label_overrides.values()), x0: Array.from(lines.data.x0),
                               y1: Array.from(lines.data.y1)};
  }
  return null;
}"""


def drawn_map(page):
    page.locator(".atlas-plot canvas").first.wait_for(state="attached", timeout=15000)
    page.wait_for_timeout(300)
    return page.evaluate(AXIS)


def test_long_maps_thin_their_labels_and_draw_segment_boundaries(browser, long_site):  # noqa: F811
    from generator.store.run_directory import load_run

    trajectory = load_run(long_site.parent / "runs" / "long").trajectory("long", "long-0")
    page, external, errors = open_offline(browser, (long_site / "runs/long/long/examples/long-0.html").as_uri())
    axis = drawn_map(page)
    n = len(trajectory.tokens)
    assert n > 100 and len(axis["labels"]) == n
    shown = [index for index, label in enumerate(axis["labels"]) if label]
    assert len(shown) < n / 2, "labels of a long sequence overlap unless thinned"
    starts = [s.start for s in trajectory.segments if s.start > 0]
    assert starts and set(starts) <= set(shown), "a segment's first token keeps its label"
    assert sorted(set(axis["x0"]) - {-0.5}) == [s - 0.5 for s in starts]  # one vertical and one horizontal each
    assert external == [] and errors == []


def test_the_chosen_layer_and_head_are_kept_in_the_address_and_restored(browser, tiny_site):  # noqa: F811
    url = (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri()
    page, _, errors = open_offline(browser, url)
    drawn_map(page)
    selects = page.locator(".atlas-plot").first.locator("select")
    selects.nth(0).select_option("1")
    selects.nth(1).select_option("2")
    page.wait_for_timeout(300)
    assert "layer=1" in page.url and "head=2" in page.url
    again, _, more_errors = open_offline(browser, url + "?layer=1&head=3")
    drawn_map(again)
    chosen = again.locator(".atlas-plot").first.locator("select")
    assert chosen.nth(0).input_value() == "1" and chosen.nth(1).input_value() == "3"
    title = again.evaluate("() => Bokeh.documents.map(d => d.get_model_by_name('atlas-figure')).find(Boolean).title.text")
    assert title == "Layer 1, head 3"
    assert errors == [] and more_errors == []


def test_a_copy_button_copies_its_snippet(browser, tiny_site):  # noqa: F811
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/index.html").as_uri(),
                                          init_script="window.atlasCopied = []; navigator.clipboard.writeText = "
                                                      "text => { window.atlasCopied.push(text); return Promise.resolve(); };")
    links = page.locator(".atlas-figure-links").first
    links.locator("summary").click()
    latex = links.locator(".atlas-snippet").nth(1)
    latex.locator("button.atlas-copy").click()
    page.wait_for_timeout(100)
    copied = page.evaluate("window.atlasCopied")
    assert copied == [latex.locator("pre code").inner_text()]
    assert copied[0].startswith("\\begin{figure}") and "\\includegraphics" in copied[0] and "config \\texttt{" in copied[0]
    assert latex.locator("button.atlas-copy").inner_text() == "Copied"
    assert external == [] and errors == []


def test_the_model_view_shows_every_head_and_a_click_shows_it_in_the_map(browser, tiny_site):  # noqa: F811
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    drawn_map(page)
    view = page.locator("details.atlas-model-view")
    view.locator("summary").click()
    thumbnails = view.locator("canvas")
    thumbnails.first.wait_for(timeout=10000)
    assert thumbnails.count() == 2 * (4 + 1)  # the tiny model: 2 layers x (4 heads and their mean)
    assert view.locator('canvas[data-head="mean"]').count() == 2
    lit = view.locator("canvas").nth(0).evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }")
    assert lit > 0
    view.locator('canvas[data-layer="1"][data-head="2"]').click()
    page.wait_for_timeout(300)
    title = page.evaluate("() => Bokeh.documents.map(d => d.get_model_by_name('atlas-figure')).find(Boolean).title.text")
    assert title == "Layer 1, head 2" and "layer=1" in page.url and "head=2" in page.url
    assert external == [] and errors == []


def test_the_token_strip_is_drawn_from_its_data_as_the_page_described_it(browser, tiny_site, tiny_run):  # noqa: F811
    """One span a token: the class, title and text that the strip's Python description (``token_views``, shown as
    ``inert`` shows text) gives, and no span in the page's Markdown (MkDocs parses none of them)."""
    from generator.render.jinja import visible
    from generator.render.pages import token_views
    from generator.store.run_directory import load_run

    trajectory = load_run(tiny_run).trajectory("alpha", "a-1")
    expected = [["atlas-token atlas-seg-" + view["kind"] + (" atlas-special" if view["special"] else ""),
                 f"#{view['index']} \u00b7 {view['segment']}", visible(view["text"])] for view in token_views(trajectory)]
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-1.html").as_uri())
    strip = page.locator(".atlas-tokens").first
    strip.locator(".atlas-token").first.wait_for(timeout=10000)
    drawn = strip.locator(".atlas-token").evaluate_all("spans => spans.map(s => [s.className, s.title, s.textContent])")
    assert drawn == expected and len(drawn) == len(trajectory.tokens)
    assert any(row[0].endswith("atlas-special") for row in drawn)  # <bos>, <eos>: tokens of no text
    assert "<script>alert(1)</script>" in "".join(row[2] for row in drawn)  # the hostile prompt, as text
    assert page.evaluate("() => document.querySelectorAll('.atlas-tokens script, .atlas-tokens img').length") == 0
    assert "atlas-special" not in (tiny_site.parent / "docs/runs/tiny/alpha/examples/a-1.md").read_text()
    assert external == [] and errors == []


def test_hovering_a_strip_token_shades_where_it_attends_in_the_shown_head(browser, tiny_site, tiny_run):  # noqa: F811
    from generator.results.attention import AttentionExample
    from generator.store.run_directory import load_run

    maps = load_run(tiny_run).result("alpha", "a-0", AttentionExample).maps
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri() +
                                          "?layer=1&head=3")
    drawn_map(page)
    strip = page.locator(".atlas-tokens").first
    query = 5
    strip.locator(".atlas-token").nth(query).hover()
    attended = strip.locator(".atlas-token").evaluate_all("spans => spans.map(s => s.getAttribute('data-attended'))")
    assert strip.get_attribute("data-query") == str(query)
    assert [float(a) for a in attended[:query + 1]] == pytest.approx(maps[1, 3, query, :query + 1].tolist(), abs=1e-4)
    assert all(a == "" for a in attended[query + 1:])  # a token attends only to itself and what came before
    page.mouse.move(0, 0)
    assert strip.get_attribute("data-query") is None
    assert external == [] and errors == []


@pytest.fixture(scope="module")
def site_with_a_missing_weight(tiny_run, tmp_path_factory):
    """The tiny run with one weight of example a-0's maps not measured (NaN, as the run format allows)."""
    import shutil

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from generator.render.site import build_site

    base = tmp_path_factory.mktemp("missing_weight")
    shutil.copytree(tiny_run, base / "runs" / "tiny")
    path = base / "runs/tiny/examples/alpha/a-0/attention.safetensors"
    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    tensors["maps"][1, 3, 5, 2] = np.nan
    save_file(tensors, str(path), metadata=metadata)
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


def test_a_weight_not_measured_is_drawn_grey_and_said_so(browser, site_with_a_missing_weight):  # noqa: F811
    """A NaN weight is not drawn as 0: the map's cell is NaN (the mapper's grey) and hovering its query in the
    strip says "not measured" for it; the row's other weights are shaded against the largest measured one."""
    page, external, errors = open_offline(browser, (site_with_a_missing_weight / "runs/tiny/alpha/examples/a-0.html")
                                          .as_uri() + "?layer=1&head=3")
    drawn_map(page)
    cells = page.evaluate("""() => {
      for (const doc of Bokeh.documents) {
        const source = doc.get_model_by_name("atlas-drawn"), mapper = doc.get_model_by_name("atlas-map-colours");
        if (source && source.data.weight.length) return {weight: Array.from(source.data.weight, String),
          query: Array.from(source.data.query), key: Array.from(source.data.key), nan: mapper.nan_color};
      }
      return null;
    }""")
    missing = [(q, k) for w, q, k in zip(cells["weight"], cells["query"], cells["key"]) if w == "NaN"]
    assert missing == [(5, 2)] and cells["nan"] == "#dddddd"
    strip = page.locator(".atlas-tokens").first
    strip.locator(".atlas-token").nth(5).hover()
    attended = strip.locator(".atlas-token").evaluate_all("spans => spans.map(s => s.getAttribute('data-attended'))")
    assert attended[2] == "not measured" and all(a not in ("", "NaN") for i, a in enumerate(attended[:6]) if i != 2)
    assert external == [] and errors == []
