"""Feature strips are data on the page, drawn in the browser exactly as token_strips.strip_rows defines them."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tests.render.test_offline_browser import CHROMIUM, open_offline
from tests.render.test_offline_browser import browser  # noqa: F401 - the shared browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")]


@pytest.fixture(scope="module")
def features_site(tmp_path_factory):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site

    base = tmp_path_factory.mktemp("strips")
    config = parse_config({
        "run_name": "strips", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(base / "runs"), "analyses": {"features": {"layer": 2, "top_k": 3, "tokens_per_row": 12,
                                                                    "show_values": True}},
        "datasets": [{"name": "two-step", "path": str(REPO_ROOT / "data/datasets/two-step.jsonl"), "limit": 2}]})
    execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash())
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


CELLS = """strip => Array.from(strip.querySelectorAll('.atlas-strip-row')).map(row =>
  Array.from(row.querySelectorAll('.atlas-strip-token')).map(span => ({
    background: 'rgba(52, 211, 153, ' + span.dataset.opacity + ')', color: span.style.color,
    title: span.title, text: span.firstChild.textContent, value: span.querySelector('sub')?.textContent ?? null})))"""


def test_strips_draw_as_strip_rows_defines_them(browser, features_site):  # noqa: F811
    from generator.render.token_strips import strip_rows
    from generator.results.features import FeaturesExample
    from generator.store.run_directory import load_run

    run = load_run(features_site.parent / "runs" / "strips")
    example_id = run.example_ids("two-step")[0]
    trajectory = run.trajectory("two-step", example_id)
    result = run.result("two-step", example_id, FeaturesExample)
    page, external, errors = open_offline(browser, (features_site / f"runs/strips/two-step/examples/{example_id}.html")
                                          .as_uri())
    strips = page.locator(".atlas-strip")
    strips.first.locator(".atlas-strip-token").first.wait_for(timeout=10000)
    assert strips.count() == 3
    markdown = (features_site.parent / "docs/runs/strips/two-step/examples" / f"{example_id}.md").read_text()
    assert "atlas-strip-token" not in markdown  # the spans are drawn in the browser, not parsed by MkDocs
    for rank, column in enumerate(result.top_columns(3)):
        values = result.activations[:, column]
        expected = strip_rows(trajectory.tokens, values, float(values.max()), 12, True)
        drawn = strips.nth(rank).evaluate(CELLS)
        assert [len(row) for row in drawn] == [len(row) for row in expected]
        for got_row, want_row in zip(drawn, expected):
            for got, want in zip(got_row, want_row):
                assert got["background"] == want["background"] and got["text"] == want["text"]
                assert got["value"] == want["value"] and got["title"] == want["title"]
                assert got["color"] == {"#000000": "rgb(0, 0, 0)", "#ffffff": "rgb(255, 255, 255)"}[want["color"]]
    assert external == [] and errors == []
