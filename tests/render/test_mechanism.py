"""The dataset page's mechanism summary: the seed's four panels from the analyses that ran, cited and drawn."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from generator.render.page_data import read_page_data

from tests.conftest import REPO_ROOT

ANALYSES = {
    "formats": {"templates": {"plain": "P: {question}", "qa": "Q: {question}"}},
    "token_classes": {"classes": {"digits": "^[0-9]$", "point": "^[.]$"}, "queries": "answer",
                      "templates": {"plain": "P: {question}", "qa": "Q: {question}"}},
    "scaling": {"template": "Q: {question}", "behaviour": "field:bug_answer", "layers": [0, 1],
                "components": ["attn_out"], "factors": [0.0, 0.5]},
    "transplant": {"clean_template": "P: {question}", "corrupted_template": "Q: {question}", "heads": True},
    "head_ablation": {"template": "Q: {question}", "behaviour": "field:bug_answer"},
}


def decimals_site(base: Path, analyses: dict) -> Path:
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site

    config = parse_config({
        "run_name": "mechanism", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(base / "runs"), "analyses": analyses,
        "datasets": [{"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl")}]})
    execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash())
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


@pytest.fixture(scope="module")
def mechanism_site(tmp_path_factory):
    return decimals_site(tmp_path_factory.mktemp("mechanism"), ANALYSES)


def test_four_panels_each_with_a_reading_and_one_cited_figure(mechanism_site):
    page = (mechanism_site / "runs/mechanism/decimals/index.html").read_text()
    section = html.unescape(re.sub(r"<[^>]+>", "", page[page.index('id="mechanism"'):].split("Static figure")[0]))
    # each reading against the planted bug's known answers (the readings' own arithmetic: tests/render/test_readings.py)
    assert ("A. Known-wrong answers ('bug_answer'): plain 0% (0 of 16, 95% CI 0%–19%), qa 100% (16 of 16, 95% CI "
            "81%–100%). At the decision token") in section
    assert "n = 16 items), attention to" in section and "largest of 8 class, layer and format comparisons" in section
    # B: halving layer 0's or layer 1's attention fixes 6 of the 16 items; removing layer 0's leaves no answer at all
    assert ("B. Most fixed: L0 attn_out × 0.5 and L1 attn_out × 0.5 each give the expected answer on 6 of 16 (38%, "
            "95% CI 18%–61%) informative items") in section
    assert ("Lower behaviour rates elsewhere are broken output, not fixes: L0 attn_out × 0 gives no valid answer on "
            "16 of 16") in section
    assert ("C. Layer 2 alone flips 16 of 16 (100%, 95% CI 81%–100%) (clean → corrupted) and 16 of 16 (100%, 95% CI "
            "81%–100%) (corrupted → clean) of the informative items.") in section  # planted
    # D: L0H2 costs the bug's answer most but the right answer nearly as much; L1H1 is the head specific to the bug
    assert "D. Ablating L0H2 costs the answer in field 'bug_answer' most" in section
    assert "L0H2 is not specific: on the informative items it changes the expected answer by -11.9 nats too" in section
    assert "Most specific to it: L1H1 changes that answer by -12.9 nats and the expected answer by +9.18" in section
    assert "Not in this summary" not in section
    entries = json.loads((mechanism_site / "atlas-index.json").read_text())["entries"]
    cited = {e["path"] for e in entries if e["kind"] == "mechanism"}
    assert cited == {f"runs/mechanism/decimals/figures/mechanism.{suffix}" for suffix in ("png", "svg", "pdf")}
    for path in cited:
        assert (mechanism_site / path).stat().st_size > 1000
    data = read_page_data((mechanism_site / "runs/mechanism/decimals/index.data.js").read_text())
    plot = data["atlas-mechanism-decimals-mechanism"]
    assert json.dumps(plot, separators=(",", ":")).count('"name":"Figure"') == 4


def test_every_dataset_figure_is_print_ready(mechanism_site):
    from tests.render.test_site import assert_figures_print_ready

    assert assert_figures_print_ready(mechanism_site) >= 8
    figures = mechanism_site / "runs/mechanism/decimals/figures"
    without_numbers = {p.stem for p in figures.glob("*.png") if not p.with_suffix(".csv").is_file()}
    assert without_numbers == {"mechanism"}  # its panels' numbers are beside their own figures
    classes = (figures / "token-classes-at-decision.csv").read_text().splitlines()
    assert classes[0].startswith("layer,") and len(classes) == 1 + 4  # a row per layer of the shipped model


def test_the_decision_token_is_where_the_formats_answers_part(mechanism_site):
    """On the planted bug the formats part at the digit after the point: the decision token is the decimal point."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator.results.token_classes import TokenClassesExample
    from generator.store.run_directory import load_run

    run = load_run(mechanism_site.parent / "runs/mechanism")
    model_dir = REPO_ROOT / "data/models/atlas-arith-demo"
    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModelForCausalLM.from_pretrained(model_dir)
    items = {json.loads(line)["id"]: json.loads(line) for line in
             (REPO_ROOT / "data/datasets/decimals.jsonl").read_text().splitlines()}
    parted = 0
    for example_id in run.example_ids("decimals"):
        offset = int(run.result("decimals", example_id, TokenClassesExample).decision_offset[0])
        item = items[example_id]
        assert (offset >= 0) == (item["answer"] != item["bug_answer"]), example_id  # part exactly where answers differ
        if offset >= 0:
            parted += 1
            ids = tokenizer("Q: " + item["question"], return_tensors="pt").input_ids
            with torch.no_grad():
                reply = model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1]:]
            assert tokenizer.decode(reply[:offset]).endswith("."), example_id
    assert parted == 16


def test_panels_of_analyses_that_did_not_run_are_named_and_one_panel_makes_no_summary(tmp_path):
    site = decimals_site(tmp_path / "two", {name: ANALYSES[name] for name in ("formats", "transplant")})
    page = (site / "runs/mechanism/decimals/index.html").read_text()
    assert 'id="mechanism"' in page
    missing = html.unescape(page).split("Not in this summary")[1].split("\n")[0]
    assert "head_ablation" in missing and "scaling" in missing and "transplant" not in missing
    single = decimals_site(tmp_path / "one", {"transplant": ANALYSES["transplant"]})
    assert 'id="mechanism"' not in (single / "runs/mechanism/decimals/index.html").read_text()


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="Debian chromium not installed")
def test_the_panel_grid_draws_offline(mechanism_site):
    from tests.render.test_offline_browser import ARGS, CHROMIUM, open_offline
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page, external, errors = open_offline(browser, (mechanism_site / "runs/mechanism/decimals/index.html").as_uri())
        grid = page.locator("#atlas-mechanism-decimals-mechanism")
        grid.locator("canvas").first.wait_for(state="attached", timeout=15000)
        page.wait_for_timeout(500)
        assert grid.locator("canvas").count() >= 4
        box, column = grid.bounding_box(), page.locator(".md-content__inner").bounding_box()
        assert box["height"] > 1000  # four panels, one above the other
        panels = grid.locator(".bk-Figure, .bk-Canvas").all()
        assert panels and max(p.bounding_box()["x"] + p.bounding_box()["width"] for p in panels) <= column["x"] + column["width"] + 1
        # an example page's small matrices are data for the shared "matrix" spec: each draws, within the column
        example, more_external, more_errors = open_offline(
            browser, (mechanism_site / "runs/mechanism/decimals/examples/decimals-006.html").as_uri())
        for name in ("transplant", "transplant-heads", "scaling", "token-classes", "head-ablation"):
            plot = example.locator(f"#atlas-mechanism-decimals-decimals-006-{name}")
            plot.locator("canvas").first.wait_for(state="attached", timeout=15000)
            example.wait_for_timeout(200)
            box, column = plot.bounding_box(), example.locator(".md-content__inner").bounding_box()
            assert box["height"] > 150 and box["x"] + box["width"] <= column["x"] + column["width"] + 1, name
        browser.close()
    assert not external and not errors and not more_external and not more_errors


def test_each_per_example_analysis_has_its_example_section(mechanism_site):
    examples = mechanism_site / "runs/mechanism/decimals/examples"
    informative = html.unescape((examples / "decimals-006.html").read_text())  # 5.3 vs 5.13: the formats disagree
    for heading in ("Attention transplantation", "Component scaling", "Attention to token classes", "Head ablation",
                    "Prompt formats"):
        assert f">{heading}</h2>" in informative, heading
    assert "gets two\ndifferent answers" in informative and "at the prompt's last token" in informative
    # the planted bug, item by item: right as P:, the known wrong answer as Q:
    assert "<td>plain</td><td><code>P: {question}</code></td><td>yes</td><td>no</td>" in informative
    assert "<td>qa</td><td><code>Q: {question}</code></td><td>no</td><td>yes</td>" in informative
    agreeing = html.unescape((examples / "decimals-000.html").read_text())
    assert "get the same answer, so nothing was transplanted" in agreeing
    # the token-class matrix also at the decision token, where the formats' answers part (only where they do)
    assert "and at the\ndecision token, the last before the formats' answers part (the formats' greedy answers share" \
        in informative
    data = read_page_data((examples / "decimals-006.data.js").read_text())
    matrix = next(value for target, value in data.items() if target.endswith("token-classes"))
    decision = [row for row in matrix["rows"] if "decision token" in row]
    assert decision and len(decision) == sum("last prompt token" in row for row in matrix["rows"])  # formats x classes
    assert "decision token" not in agreeing


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="Debian chromium not installed")
def test_a_project_whose_mkdocs_yml_predates_a_plot_kind_still_draws_it(mechanism_site, tmp_path):
    """A project made by `atlas init` before the matrix kind existed does not list its script: pages load it."""
    from playwright.sync_api import sync_playwright

    from generator.render.site import build_site
    from tests.render.test_offline_browser import ARGS, CHROMIUM, open_offline

    config = tmp_path / "mkdocs.yml"
    config.write_text((REPO_ROOT / "mkdocs.yml").read_text().replace("  - assets/plots/matrix.js\n", ""))
    assert "matrix.js" not in config.read_text()
    site = build_site(mechanism_site.parent / "runs", config, site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "build-docs").site_dir
    page_path = site / "runs/mechanism/decimals/examples/decimals-006.html"
    assert "plots/matrix.js" not in page_path.read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page, external, errors = open_offline(browser, page_path.as_uri())
        page.locator("#atlas-mechanism-decimals-decimals-006-scaling canvas").first.wait_for(state="attached",
                                                                                              timeout=15000)
        browser.close()
    assert not external and not errors


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="Debian chromium not installed")
@pytest.mark.parametrize("width", [700, 1400])
def test_every_figure_permalink_lands_on_its_figure(mechanism_site, width):
    """Opened at ``page#fig-...``, the figure is in view once every plot above it has drawn (they grow as they draw)."""
    from playwright.sync_api import sync_playwright

    from tests.render.test_offline_browser import ARGS, CHROMIUM

    page_file = mechanism_site / "runs/mechanism/decimals/index.html"
    anchors = re.findall(r'<div class="atlas-figure" id="(fig-[^"]+)"', page_file.read_text())
    assert len(anchors) >= 6
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": width, "height": 900})
        for anchor in anchors:
            page = context.new_page()
            page.goto(f"{page_file.as_uri()}#{anchor}")
            page.wait_for_function("document.querySelectorAll('.atlas-plot[style*=\"min-height\"]').length === 0"
                                   " && document.querySelector('.atlas-plot').childElementCount > 0", timeout=20000)
            page.wait_for_timeout(300)
            box = page.evaluate(f"""() => {{
                const figure = document.getElementById({anchor!r});
                const drawn = figure.querySelector('.atlas-plot, img').getBoundingClientRect();  // canvases are in shadow roots
                return {{top: figure.getBoundingClientRect().top, drawnTop: drawn.top, drawnHeight: drawn.height}};
            }}""")
            assert 0 <= box["top"] and box["drawnHeight"] > 50, (anchor, box)  # at the top, or the page ends
            assert box["drawnTop"] + min(box["drawnHeight"], 400) <= 900, (anchor, box)
            page.close()
        browser.close()
