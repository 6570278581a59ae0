"""Open the built site from file:// in headless Chromium with the network off."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not CHROMIUM.exists() and not shutil.which("chromium"), reason="Debian chromium not installed")]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


def open_offline(browser, url: str, init_script: str | None = None):
    """A page whose every non-file request is refused and recorded (``init_script`` runs before the page's own)."""
    context = browser.new_context()
    if init_script:
        context.add_init_script(init_script)
    context.set_offline(True)
    external: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, external, errors


def canvas_image(page) -> str:
    canvas = page.locator(".atlas-plot canvas").first
    canvas.wait_for(state="attached", timeout=15000)
    page.wait_for_timeout(300)
    return page.locator(".atlas-plot").first.screenshot()


def test_index_page_opens_offline(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "index.html").as_uri())
    assert "Attention Atlas" in page.title()
    assert page.locator("a", has_text="tiny").count() >= 1
    assert external == []
    assert errors == []


def test_example_heatmap_draws_and_follows_head_selector(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    before = canvas_image(page)
    pixels = page.locator(".atlas-plot canvas").first.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }")
    assert pixels > 1000, "the heatmap canvas is blank"
    head = page.locator(".atlas-plot").first.locator("select").nth(1)
    head.select_option("1")
    page.wait_for_timeout(500)
    after = canvas_image(page)
    assert before != after, "choosing another head did not change the heatmap"
    assert external == []
    assert errors == []


def test_hostile_tokens_render_as_text(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-1.html").as_uri())
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.wait_for_timeout(300)
    assert dialogs == []
    assert "<script>alert(1)</script>" in page.locator("article").inner_text()
    assert errors == []


def test_search_works_from_disk(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "index.html").as_uri())
    page.locator(".md-search__input").first.focus()
    page.keyboard.type("safetensors")
    page.locator(".md-search-result__item").first.wait_for(timeout=10000)
    assert page.locator(".md-search-result__item").count() >= 1
    assert external == []
    assert errors == []


@pytest.fixture(scope="module")
def chunked_site(tiny_run, tmp_path_factory):
    """The tiny run built with a page budget of one head: every other head loads when chosen."""
    from generator.render import plot_data
    from generator.render.site import build_site
    from tests.conftest import REPO_ROOT

    out = tmp_path_factory.mktemp("chunked")
    budget, plot_data.INLINE_BYTES = plot_data.INLINE_BYTES, 1
    try:
        return build_site(tiny_run.parent, REPO_ROOT / "mkdocs.yml", site_dir=out / "site", docs_dir=out / "docs",
                          jobs=1).site_dir
    finally:
        plot_data.INLINE_BYTES = budget


FIGURE = """() => { for (const doc of Bokeh.documents) { const fig = doc.get_model_by_name('atlas-figure');
    if (fig) return {title: fig.title.text, source: doc.get_model_by_name('atlas-drawn').data}; } return null; }"""


def test_a_head_past_the_page_budget_loads_when_chosen(browser, chunked_site):
    page, external, errors = open_offline(browser, (chunked_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    assert (chunked_site / "runs/tiny/alpha/examples/a-0.heads/1_3.js").is_file()
    before = canvas_image(page)
    plot = page.locator(".atlas-plot").first
    plot.locator("select").nth(0).select_option("1")
    plot.locator("select").nth(1).select_option("3")
    page.wait_for_function(FIGURE.replace("return {title", "return fig.title.text === 'Layer 1, head 3' && {title"),
                           timeout=10000)
    page.wait_for_timeout(300)
    assert canvas_image(page) != before
    assert external == [] and errors == []


def test_hover_names_the_tokens_and_the_stored_weight(browser, tiny_site, tiny_run):
    """The hover's columns are built in the browser from the tokens; the weight is the run's, to four decimals."""
    from generator.render.plots import display_token
    from generator.results.attention import AttentionExample
    from generator.store.run_directory import load_run

    run = load_run(tiny_run)
    tokens = [display_token(t) for t in run.trajectory("alpha", "a-0").tokens]
    maps = run.result("alpha", "a-0", AttentionExample).maps
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    canvas_image(page)
    data = page.evaluate(FIGURE)["source"]
    n = len(tokens)
    assert len(data["weight"]) == n * (n + 1) // 2
    for i in range(0, len(data["weight"]), 7):
        query, key = data["query"][str(i)] if isinstance(data["query"], dict) else data["query"][i], \
            data["key"][str(i)] if isinstance(data["key"], dict) else data["key"][i]
        weight = data["weight"][str(i)] if isinstance(data["weight"], dict) else data["weight"][i]
        assert data["query_token"][i] == tokens[query] and data["key_token"][i] == tokens[key]
        assert abs(weight - float(maps[0, 0, query, key])) <= 1e-4
    box = page.locator(".atlas-plot canvas").first.bounding_box()
    shown = None
    for step in range(1, 40):  # along the diagonal of the map until a tooltip shows
        page.mouse.move(box["x"] + box["width"] * step / 40, box["y"] + box["height"] * step / 40)
        page.wait_for_timeout(100)
        tooltip = page.locator(".bk-tooltip-content")  # (inside Bokeh's shadow DOM; locators reach it)
        if tooltip.count() and "weight" in tooltip.first.text_content():
            shown = tooltip.first.text_content()
            break
    assert shown is not None, "no tooltip over the map"
    found = re.search(r"query:\s*(\d+): (.*?) key:\s*(\d+): (.*?) weight:\s*([0-9.]+)", shown)
    query, key = int(found.group(1)), int(found.group(3))
    assert (found.group(2).strip(), found.group(4).strip()) == (tokens[query].strip(), tokens[key].strip())
    assert abs(float(found.group(5)) - float(maps[0, 0, query, key])) <= 1e-4
    assert external == [] and errors == []


@pytest.mark.parametrize("page_path", ["index.html", "runs/tiny/index.html", "runs/tiny/alpha/index.html",
                                       "runs/tiny/alpha/examples/a-0.html", "runs/tiny/beta/examples/b-0.html"])
def test_every_page_kind_opens_offline_without_errors(browser, tiny_site, page_path):
    page, external, errors = open_offline(browser, (tiny_site / page_path).as_uri())
    page.wait_for_timeout(800)  # plots embed after load
    assert external == [] and errors == []


def test_the_example_table_filters_and_sorts(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/index.html").as_uri())
    rows = page.locator("table.atlas-examples tbody tr")
    assert page.locator(".atlas-table-count").inner_text() == "2 of 2"
    page.locator(".atlas-table-filter").fill("a-1")
    assert page.locator(".atlas-table-count").inner_text() == "1 of 2"
    assert [r.is_visible() for r in rows.all()] == [False, True]
    page.locator(".atlas-table-filter").fill("")
    header = page.locator("table.atlas-examples th").first
    header.click()
    header.click()  # descending by example id
    assert rows.first.locator("td").first.inner_text() == "a-1"
    assert external == [] and errors == []


SCHEME_COLOURS = """() => {
  const rgb = (value) => {  // any CSS colour as [r, g, b], 0-255
    const probe = document.createElement("span");
    probe.style.color = value;
    document.body.appendChild(probe);
    const parts = getComputedStyle(probe).color.match(/[\\d.]+/g).map(Number);
    probe.remove();
    return parts.slice(0, 3);
  };
  const select = [...document.querySelectorAll(".atlas-plot")].map(p => p.shadowRoot || p)
    .flatMap(function find(root) {
      const hits = [...root.querySelectorAll("select")];
      return hits.concat([...root.querySelectorAll("*")].filter(e => e.shadowRoot).flatMap(e => find(e.shadowRoot)));
    })[0];
  const style = getComputedStyle(select);
  const figures = Bokeh.documents.flatMap(d => [...d.all_models].filter(m => m.properties.background_fill_color
                                                                          && m.properties.title && m.title && m.title.text_color));
  return {select: [rgb(style.color), rgb(style.backgroundColor)],
          plots: figures.map(f => [rgb(f.title.text_color), rgb([...f.below, ...f.left].find(a => a.properties.major_label_text_color).major_label_text_color),
                                   rgb(f.background_fill_color), rgb(f.border_fill_color)])};
}"""


def contrast(first, second) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    def luminance(colour):
        linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def assert_readable(colours, dark: bool):
    text, background = colours["select"]
    assert contrast(text, background) >= 4.5, colours["select"]
    assert (sum(background) < 3 * 128) == dark, colours["select"]
    assert colours["plots"]
    for title, label, plot_background, border in colours["plots"]:
        assert contrast(title, plot_background) >= 4.5 and contrast(label, border) >= 4.5, (title, label, plot_background)
        assert (sum(plot_background) < 3 * 128) == dark


def test_the_dark_scheme_renders(browser, tiny_site):
    """Selects and plots are readable in both schemes, and follow the toggle live (computed colours)."""
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    assert canvas_image(page)
    page.wait_for_timeout(300)
    assert_readable(page.evaluate(SCHEME_COLOURS), dark=False)
    page.locator("label[for='__palette_1']").first.click()
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    assert_readable(page.evaluate(SCHEME_COLOURS), dark=True)
    page.locator("label[for='__palette_0']").first.click()  # and back
    page.wait_for_timeout(300)
    assert_readable(page.evaluate(SCHEME_COLOURS), dark=False)
    assert external == [] and errors == []


@pytest.mark.parametrize("viewport", [700, 1000, 1400])
def test_the_token_map_fits_the_page_column(browser, tiny_site, viewport):
    context = browser.new_context(viewport={"width": viewport, "height": 1200})
    page = context.new_page()
    page.goto((tiny_site / "runs/tiny/alpha/examples/a-1.html").as_uri())
    page.locator(".atlas-plot canvas").first.wait_for(state="attached", timeout=15000)
    page.wait_for_timeout(500)
    column = page.evaluate("document.querySelector('.md-content__inner').getBoundingClientRect().width")
    assert page.locator(".atlas-plot canvas").first.bounding_box()["width"] <= column + 1
    context.close()


def test_the_answer_grid_follows_its_part_selector(browser, tiny_site):
    page, external, errors = open_offline(browser, (tiny_site / "runs/tiny/alpha/examples/a-0.html").as_uri())
    grid = page.locator(".atlas-plot").nth(1)
    grid.locator("canvas").first.wait_for(state="attached", timeout=15000)
    page.wait_for_timeout(300)
    before = grid.screenshot()
    options = grid.locator("select option").all_inner_texts()
    assert len(options) >= 2
    grid.locator("select").select_option(options[-1])
    page.wait_for_timeout(400)
    assert grid.screenshot() != before
    titles = page.evaluate("""() => Bokeh.documents.map(d => d.get_model_by_name('atlas-grid-figure'))
                                .filter(f => f).map(f => f.title.text)""")
    assert any(title.startswith(f"Answer attention to {options[-1]}") for title in titles)
    assert external == [] and errors == []


def test_pooled_maps_draw_and_follow_head_and_statistic(browser, tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset

    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "long", "prompt": "Q: " + "1+2*3-4+" * 4 + "5="}])
    written = parse_config({
        "run_name": "pooled", "model": {"id": "./model"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
        "generation": {"max_new_tokens": 6}, "output_dir": "runs",
        "analyses": {"attention": {"max_map_tokens": 8, "map_heads": [[0, 1], [1, 3]], "pooled_map_size": 5}}})
    run_dir = execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash()).directory
    site = build_site(run_dir.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site", docs_dir=tmp_path / "docs",
                      jobs=1).site_dir
    page, external, errors = open_offline(browser, (site / "runs/pooled/d/examples/long.html").as_uri())
    before = canvas_image(page)
    plot = page.locator(".atlas-plot").first
    plot.locator("select").nth(0).select_option("layer 1, head 3")
    plot.locator("select").nth(1).select_option("max")
    page.wait_for_timeout(500)
    titles = page.evaluate("""() => Bokeh.documents.map(d => d.get_model_by_name('atlas-pooled-figure'))
                                .filter(f => f).map(f => f.title.text)""")
    assert titles == ["layer 1, head 3 (block max)"]
    assert canvas_image(page) != before
    assert external == [] and errors == []


@pytest.fixture(scope="module")
def latent_site(tmp_path_factory):
    """A CODI stand-in run (random Llama base, CODI's key layout) with the latent analyses, built."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from tests.conftest import REPO_ROOT, write_dataset
    from tests.latent_checkpoints import codi_checkpoint, codi_config

    base = tmp_path_factory.mktemp("latent-site")
    stand_in = codi_checkpoint(base, "llama")
    write_dataset(base / "gsm.jsonl", [{"id": f"q{i}", "prompt": p, "answer": "7"}
                                       for i, p in enumerate(["Tom had 12 marbles and lost 5.", "Janet has 3 apples."])])
    config = parse_config(codi_config(stand_in, base / "gsm.jsonl", thoughts=3, analyses={
        "attention": {}, "latent_ablation": {"layers": [1]}, "thought_lens": {}}), "run.yaml")
    execute_run(resolve_paths(config, base), config.to_dict(), config.config_hash())
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


@pytest.mark.parametrize("page_path", ["runs/codi/gsm/index.html", "runs/codi/gsm/examples/q0.html"])
def test_latent_pages_open_offline_and_draw_their_plots(browser, latent_site, page_path):
    page, external, errors = open_offline(browser, (latent_site / page_path).as_uri())
    page.wait_for_timeout(1500)  # plots embed after load
    assert external == [] and errors == []
    assert page.locator(".atlas-plot canvas").count() >= 2
    if "examples" in page_path:
        thought = page.locator(".atlas-seg-latent").first
        assert thought.text_content() == "⟨θ1⟩" and thought.evaluate("e => getComputedStyle(e).borderStyle") == "dashed"
