"""Agent pages in headless Chromium from file://, network off: index, tabs, run pages, comparison."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO_ROOT
from tests.render.test_offline_browser import browser, open_offline, pytestmark  # noqa: F401 - shared fixture

LABELS = {"question": "Q:", "thought": "T:", "call": "C:", "observation": "O:", "answer": "A:"}


@pytest.fixture(scope="module")
def agent_site(tmp_path_factory):
    """The shipped model on four shipped agent queries, with both tools and with the calculator only."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site

    base = tmp_path_factory.mktemp("agent_site")
    rows = [json.loads(line) for line in (REPO_ROOT / "data/datasets/agent.jsonl").read_text().splitlines()]
    chosen = rows[:2] + [r for r in rows if r["category"] == "lookup"][:2]
    (base / "agent.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    for name, tools in (("both-tools", ["calc", "lookup"]), ("calc-only", ["calc"])):
        config = parse_config({
            "run_name": name, "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
            "output_dir": str(base / "runs"), "analyses": {"attention": {}, "agent": {}},
            "datasets": [{"name": "agent", "path": str(base / "agent.jsonl"), "analyses": ["attention", "agent"],
                          "agent": {"tools": tools, "max_reply_tokens": 24, "labels": LABELS}}]})
        execute_run(resolve_paths(config, base), config.to_dict(), config.config_hash())
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


def visible_rows(page) -> int:
    return page.locator("table.atlas-examples tbody tr:visible").count()


def test_from_the_index_to_two_runs_and_their_comparison(browser, agent_site):
    page, external, errors = open_offline(browser, (agent_site / "agent-runs.html").as_uri())
    assert visible_rows(page) == 8
    page.locator(".atlas-tabs button", has_text="lookup").click()
    assert visible_rows(page) == 4
    assert all(cell == "lookup" for cell in page.locator("table.atlas-examples tbody tr:visible td:nth-child(3)")
               .all_inner_texts())
    page.locator(".atlas-tabs button", has_text="All").click()
    assert visible_rows(page) == 8

    first = page.locator("table.atlas-examples tbody tr", has_text="both-tools").first.locator("a").first
    first.click()
    page.wait_for_load_state("load")
    assert "Agent run" in page.locator("article").inner_text()
    assert "the answer follows the tool" in page.locator("article").inner_text()
    page.locator(".atlas-plot canvas").first.wait_for(state="attached", timeout=15000)
    page.go_back()
    page.wait_for_load_state("load")
    other = page.locator("table.atlas-examples tbody tr", has_text="calc-only").first.locator("a").first
    other.click()
    page.wait_for_load_state("load")
    assert "calc-only" in page.locator("article").inner_text()
    page.go_back()
    page.wait_for_load_state("load")
    page.locator("table.atlas-examples tbody tr", has_text="lookup").first.locator("a", has_text="compare").click()
    page.wait_for_load_state("load")
    text = page.locator("article").inner_text()
    assert "runs compared" in text and "unknown tool" in text
    page.locator(".atlas-compare .atlas-plot canvas").nth(1).wait_for(state="attached", timeout=15000)
    page.wait_for_timeout(300)
    assert external == []
    assert errors == []


def test_no_stashed_block_is_left_on_any_page(agent_site):
    """Comparison pages hold our block lines inside an open block: they must come back as Markdown leaves them."""
    pages = list(agent_site.rglob("*.html"))
    assert pages and not [p for p in pages if "ATLASBLOCK" in p.read_text(encoding="utf-8")]
