"""Hostile strings from a model, a dataset or an imported file are inert on every page kind.

The payloads are Markdown and HTML that would make a clickable ``javascript:`` link, an image
with a script, or emphasis; every string shown must come out as the text it is.
"""

import json
import re

import pytest

from generator.config import parse_config, resolve_paths
from generator.importers import IMPORTERS, import_run
from generator.pipeline import execute_run
from generator.render.jinja import inert
from generator.render.site import build_site
from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset

LINK = "[x](javascript:alert(1))"
PAYLOADS = [LINK, "<img src=x onerror=alert(1)>", "*em* _em_ `code` ![i](javascript:alert(2))", "<javascript:alert(3)>"]
HOSTILE = " ".join(PAYLOADS)
CONTROL = "rtl\u202eevil nul\x00byte esc\x1b[31m"  # reorders, truncates or colours what follows, unescaped
SCRIPT_URL = re.compile(r"""(?i)(href|src|action)\s*=\s*["']?\s*javascript:""")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    save_tiny_checkpoint(base / "model")
    write_dataset(base / "d.jsonl", [{"id": "h-0", "prompt": f"Q: {LINK}=", "answer": LINK, "note": HOSTILE,
                                      "ctrl": CONTROL}])
    written = parse_config({"run_name": "gen", "model": {"id": "./model"}, "generation": {"max_new_tokens": 4},
                            "datasets": [{"name": "d", "path": "d.jsonl", "description": HOSTILE}],
                            "analyses": {"attention": {}, "features": {"top_k": 2}}, "output_dir": "runs"})
    execute_run(resolve_paths(written, base), written.to_dict(), written.config_hash())
    dump = {"model": HOSTILE, "results": [{"probe_id": LINK, "prompt": HOSTILE, "tokens": [LINK, "<b>", "*a*"],
                                           "features": [{"feature_id": 7, "label": LINK, "activations": [1, 2, 3]},
                                                        {"feature_id": 8, "label": PAYLOADS[1],
                                                         "activations": [3, 2, 1]}]}]}
    (base / "dump.json").write_text(json.dumps(dump))
    import_run(IMPORTERS.get("activations"), base / "dump.json", "imp", base / "runs")
    return build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir


@pytest.mark.parametrize("kind,page", [
    ("index", "index.html"),
    ("run (imported)", "runs/imp/index.html"),
    ("run (generated)", "runs/gen/index.html"),
    ("dataset (imported)", "runs/imp/dump/index.html"),
    ("dataset (generated)", "runs/gen/d/index.html"),
    ("example (imported)", "runs/imp/dump/examples/x-javascript-alert-1.html"),
    ("example (generated)", "runs/gen/d/examples/h-0.html"),
])
def test_payloads_are_shown_as_text_on_every_page_kind(hostile_site, kind, page):
    html = (hostile_site / page).read_text(encoding="utf-8")
    assert str(inert(LINK)) in html, f"{kind}: the payload should be shown (as text)"
    assert not SCRIPT_URL.search(html), f"{kind}: a javascript: URL became live"
    assert "<img src=\"x\"" not in html and "<img src=x" not in html
    assert "<em>em</em>" not in html and "<b>" not in html
    assert ">x</a>" not in html


def test_inert_text_reads_back_as_written():
    import html

    for payload in PAYLOADS + ["a\nb", "tab\there"]:
        assert html.unescape(str(inert(payload))) == payload.replace("\r", "")


def test_control_and_bidirectional_characters_are_shown_as_visible_escapes(hostile_site):
    html = (hostile_site / "runs/gen/d/examples/h-0.html").read_text(encoding="utf-8")
    assert "\u202e" not in html and "\x00" not in html and "\x1b" not in html
    assert "rtl&#92;u202eevil nul&#92;u0000byte esc&#92;u001b&#91;31m" in html
