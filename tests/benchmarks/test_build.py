"""benchmarks/build.py's floors: MkDocs building plain pages, one sentence each or plain prose of our pages' size."""

import importlib.util
from pathlib import Path

import numpy as np

from tests.conftest import REPO_ROOT


def _benchmark():
    spec = importlib.util.spec_from_file_location("build_benchmark", REPO_ROOT / "benchmarks/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plain_prose_is_plain_markdown_of_the_asked_size():
    bench = _benchmark()
    for size in (600, 5 * 1024, 20 * 1024):
        text = bench.plain_prose(7, size, np.random.default_rng(0))
        assert size <= len(text.encode()) < size + 1024  # sections of about 900 bytes, added until the size is passed
        assert text.startswith("# Page 7\n") and "## Section 0\n" in text
        assert not set("<>&`|*[]") & set(text)  # no HTML, tables, code or links: plain text for MkDocs


def test_both_floors_build_their_pages(tmp_path: Path):
    bench = _benchmark()
    assert bench.floor(tmp_path, 3) > 0 and bench.floor(tmp_path, 3, 4096) > 0
    one_sentence = (tmp_path / "floor/docs/p/00002.md").read_text()
    sized = (tmp_path / "floor-sized/docs/p/00002.md").read_text()
    assert len(one_sentence) < 60 and len(sized.encode()) >= 4096
    for project in ("floor", "floor-sized"):  # built by MkDocs: the pages and the search index
        assert (tmp_path / project / "site/p/00002.html").is_file()
        assert (tmp_path / project / "site/search/search_index.json").is_file()
