"""Open the built site from file:// in headless Chromium with the network off."""

from __future__ import annotations

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


def open_offline(browser, url: str):
    """A page whose every non-file request is refused and recorded."""
    context = browser.new_context()
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
