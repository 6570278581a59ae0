"""Page weight and time until every plot is drawn, in headless Chromium from file://.

Usage: python benchmarks/pages.py

Two example pages of a 28-layer, 12-head model (SYNTHETIC run directories in the documented
format, random attention: they measure the pages, never appear as results): 249 tokens with
every head's full map kept (the default `max_map_tokens` of 256), and 1,025 tokens with eight
heads' maps pooled to 128 x 128 blocks; and the dataset page of a 1,000-example synthetic run
(benchmarks/build.py's). Prints the page's HTML size, the per-head data files
beside it, and the time from navigation until every plot on the page has drawn (median of 3).
Beside them, when they are installed (`pip install bertviz ipython circuitsvis importlib_metadata`,
not dependencies of ours), the same 249-token tensors in BertViz's head view (every layer and
head) and CircuitsVis' attention patterns (its unit is one layer: 12 heads), opened the same way.
CircuitsVis inlines its JavaScript bundle; BertViz loads require.js, d3 and jQuery from CDNs,
so its page draws offline only with local copies: `--bertviz-js DIR` holding `require.js`,
`d3.min.js` and `jquery.min.js` (from `npm pack requirejs@2.3.6 d3@5.7.0 jquery@2.1.0`; BertViz
asks for jQuery 2.0.0, which npm does not have); without it, its weight alone is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DRAW_LIMIT_S = 120  # another tool's page that has not drawn by then is reported as such
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def synthetic_example(writer, example_id: str, layers: int, heads: int, tokens: int, pooled_heads: int = 0):
    from generator.results.attention import attention_example
    from generator.store.records import Segment, Trajectory

    rng = np.random.default_rng(0)
    text = ("Q: 17+4*6= T: 4*6=24; T: 17+24=41; A: 41 " * 40)[:tokens]
    cuts = [0, tokens // 4, tokens // 2, 3 * tokens // 4, tokens]
    kinds = [("question", "question"), ("step 1", "step"), ("step 2", "step"), ("answer", "answer")]
    segments = tuple(Segment(n, k, a, b, a, b) for (n, k), a, b in zip(kinds, cuts, cuts[1:]))
    trajectory = Trajectory(example_id, "d", text[:10], text[10:], text, tuple(text),
                            tuple((i, i + 1) for i in range(tokens)), tuple(range(tokens)), 10, segments, None, None,
                            None, {})
    mass = rng.dirichlet(np.ones(4), size=(layers, heads, tokens)).astype(np.float32)
    entropy = rng.random((layers, heads, tokens)).astype(np.float32)
    extra = {}
    if pooled_heads:
        bins = 128
        edges = np.array([(i * tokens) // bins for i in range(bins + 1)], dtype=np.int64)
        pooled = rng.random((pooled_heads, bins, bins)).astype(np.float32) * np.tril(np.ones((bins, bins), np.float32))
        extra = {"pooled_heads": np.array([[l, 0] for l in range(pooled_heads)], dtype=np.int64),
                 "pooled_mean": pooled / 8, "pooled_max": pooled, "pooled_edges": edges}
    else:
        maps = rng.random((layers, heads, tokens, tokens)).astype(np.float32) * np.tril(np.ones((tokens, tokens)))
        extra = {"maps": (maps / maps.sum(-1, keepdims=True)).astype(np.float32)}
    writer.write_example(trajectory, [attention_example(mass, entropy, entropy.copy(), trajectory, **extra)])
    return trajectory.tokens, extra.get("maps")


def build(work: Path) -> tuple[Path, tuple, np.ndarray]:
    from generator.render.site import build_site
    from generator.store.records import SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, ModelInfo
    from generator.store.run_directory import RunWriter

    writer = RunWriter(work / "runs" / "pages")
    tokens, maps = synthetic_example(writer, "full-249", 28, 12, 249)
    synthetic_example(writer, "pooled-1025", 28, 12, 1025, pooled_heads=8)
    writer.write_manifest(Manifest(SCHEMA_VERSION, "pages", "2026-01-01T00:00:00+00:00",
                                   ModelInfo("synthetic (benchmark only)", None, None, "none", 28, 12, "float32",
                                             "none", "imported"), {}, "0" * 64, {},
                                   (DatasetEntry("d", "none", ("full-249", "pooled-1025")),),
                                   (AnalysisEntry("attention", "AttentionExample", None),)))
    site = build_site(work / "runs", ROOT / "mkdocs.yml", site_dir=work / "site", docs_dir=work / "docs").site_dir
    return site, tokens, maps


def dataset_site(work: Path) -> Path:
    """A 1,000-example synthetic run (benchmarks/build.py's), built: its dataset page is measured."""
    from build import synthetic_run

    from generator.render.site import build_site

    synthetic_run(work / "dataset-runs" / "bench", 1000, 4, 4, 54)
    return build_site(work / "dataset-runs", ROOT / "mkdocs.yml", site_dir=work / "dataset-site",
                      docs_dir=work / "dataset-docs").site_dir


def bertviz_page(work: Path, tokens, maps: np.ndarray, local_js: Path | None) -> Path | None:
    """BertViz's head view of every layer and head; its CDN scripts swapped for local copies when given."""
    try:
        import torch
        from bertviz import head_view
    except ImportError:
        return None
    html = head_view(tuple(torch.from_numpy(layer[None]) for layer in maps), list(tokens), html_action="return").data
    if local_js is not None:
        for name in ("require.js", "d3.min.js", "jquery.min.js"):
            shutil.copyfile(local_js / name, work / name)
        html = (html.replace("https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js", "require.js")
                .replace("https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min", "d3.min")
                .replace("https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min", "jquery.min"))
    path = work / "bertviz.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{html}</body></html>",
                    encoding="utf-8")
    return path


def circuitsvis_page(work: Path, tokens, maps: np.ndarray) -> Path | None:
    """CircuitsVis' attention patterns of one layer (its unit), with its JavaScript bundle inlined."""
    try:
        import circuitsvis
    except ImportError:
        return None
    rendered = circuitsvis.attention.attention_patterns(tokens=list(tokens), attention=maps[0])
    path = work / "circuitsvis.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{rendered.local_src}</body></html>",
                    encoding="utf-8")
    return path


def time_to_selector(browser, url: str, selector: str, count: int) -> float:
    """Seconds from navigation until ``count`` elements match ``selector`` (another tool's page)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.perf_counter()
    page.goto(url)
    try:
        page.wait_for_function(f"() => document.querySelectorAll({selector!r}).length >= {count}",
                               timeout=DRAW_LIMIT_S * 1000)
        return time.perf_counter() - started
    finally:
        page.close()


def time_to_plots(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.perf_counter()
    page.goto(url)
    expected = page.locator(".atlas-plot").count()
    page.wait_for_function(f"() => [...document.querySelectorAll('.atlas-plot')].filter(p => p.shadowRoot || "
                           f"p.querySelector('*')).length >= {expected}", timeout=60000)
    page.locator(".atlas-plot canvas").nth(expected - 1).wait_for(state="attached", timeout=60000)
    elapsed = time.perf_counter() - started
    page.close()
    return elapsed


def main() -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bertviz-js", type=Path, help="folder with require.js, d3.min.js, jquery.min.js")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site, tokens, maps = build(Path(tmp))
        others = [("BertViz head view, 28 x 12, 249 tokens", bertviz_page(Path(tmp), tokens, maps, args.bertviz_js),
                   "svg text", len(tokens), args.bertviz_js is not None),
                  ("CircuitsVis attention patterns, 1 layer x 12, 249 tokens",
                   circuitsvis_page(Path(tmp), tokens, maps), "canvas", 1, True)]
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; headless Chromium "
              f"(/usr/bin/chromium), file://, median of 3\n")
        print("| page | HTML KB | per-head files | their KB | time until every plot is drawn s |")
        print("|---|---|---|---|---|")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            dataset_page = dataset_site(Path(tmp)) / "runs/bench/synthetic/index.html"
            times = [time_to_plots(browser, dataset_page.as_uri()) for _ in range(3)]
            print(f"| dataset page, 1,000 examples | {dataset_page.stat().st_size / 1024:.0f} | | | "
                  f"{statistics.median(times):.2f} |", flush=True)
            for example in ("full-249", "pooled-1025"):
                html = site / "runs/pages/d/examples" / f"{example}.html"
                heads = list((html.parent / f"{example}.heads").glob("*.js"))
                times = [time_to_plots(browser, html.as_uri()) for _ in range(3)]
                print(f"| 28 x 12, {example} | {html.stat().st_size / 1024:.0f} | {len(heads)} | "
                      f"{sum(h.stat().st_size for h in heads) / 1024:.0f} | {statistics.median(times):.2f} |",
                      flush=True)
            for name, path, selector, count, drawable in others:
                if path is None:
                    print(f"| {name} | not installed | | | |")
                    continue
                drawn = "does not draw offline (CDN scripts)"
                if drawable:
                    try:
                        drawn = f"{statistics.median(time_to_selector(browser, path.as_uri(), selector, count) for _ in range(3)):.2f}"
                    except PlaywrightTimeout:
                        drawn = f"not drawn within {DRAW_LIMIT_S} s"
                print(f"| {name} | {path.stat().st_size / 1024:.0f} | | | {drawn} |", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
