"""The built site: index of pages and figures, offline references, escaping, reproducibility."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_index_lists_every_page_and_figure(tiny_site):
    index = json.loads((tiny_site / "atlas-index.json").read_text())
    entries = index["entries"]
    kinds = {}
    for entry in entries:
        assert (tiny_site / entry["path"]).is_file(), entry
        kinds.setdefault(entry["kind"], []).append(entry)
    assert sorted(e["example_id"] for e in kinds["example"]) == ["a-0", "a-1", "b-0"]
    assert sorted(e["dataset"] for e in kinds["dataset"]) == ["alpha", "beta"]
    assert len(kinds["run"]) == 1 and len(kinds["index"]) == 1
    assert {e["path"].rsplit(".", 1)[1] for e in kinds["entropy-by-layer"]} == {"png", "svg", "pdf", "csv"}
    for figure in kinds["entropy-by-layer"]:  # each figure names its page and its anchor there
        assert figure["page"] == "runs/tiny/alpha/index.html" or figure["page"] == "runs/tiny/beta/index.html"
        assert f'id="{figure["anchor"]}"' in (tiny_site / figure["page"]).read_text()
    generated = {p.relative_to(tiny_site).as_posix() for p in (tiny_site / "runs").rglob("*.html")}
    assert generated <= {e["path"] for e in entries}


def assert_figures_print_ready(site) -> int:
    """What IEEE and ACM checks ask of a figure: 300 dpi, no Type 3 fonts in the PDF; SVG text stays text."""
    from PIL import Image

    figures = [e for e in json.loads((site / "atlas-index.json").read_text())["entries"] if e.get("anchor")]
    stems = {e["path"].rsplit(".", 1)[0] for e in figures}
    for stem in stems:
        with Image.open(site / f"{stem}.png") as image:
            assert [round(d) for d in image.info["dpi"]] == [300, 300], stem
        pdf = (site / f"{stem}.pdf").read_bytes()
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf, stem  # TrueType (Type 42) embedded
        svg = (site / f"{stem}.svg").read_text()
        assert "<text" in svg, stem
    return len(stems)


def test_every_figure_is_300_dpi_png_type_42_pdf_and_svg_with_text(tiny_site):
    assert assert_figures_print_ready(tiny_site) == 2


def test_no_page_references_the_network(tiny_site):
    pages = list(tiny_site.rglob("*.html"))
    assert len(pages) >= 7
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(html), f"{page} references an external URL"
        assert "fonts.googleapis" not in html


def test_bokeh_and_search_shim_are_local(tiny_site):
    html = (tiny_site / "runs/tiny/alpha/examples/a-0.html").read_text()
    assert '<script src="../../../../assets/bokeh/bokeh.min.js"></script>' in html
    assert '<script src="../../../../assets/vendor/iframe-worker-shim.js"></script>' in html
    assert (tiny_site / "assets/bokeh/bokeh-widgets.min.js").is_file()


def test_hostile_tokens_are_escaped_everywhere(tiny_site):
    for page in ["runs/tiny/alpha/examples/a-1.html", "runs/tiny/alpha/index.html"]:
        html = (tiny_site / page).read_text()
        assert "<script>alert(1)" not in html
        assert "&#60;script&#62;alert&#40;1&#41;&#60;/script&#62;" in html  # shown as written, inert
    # the token strip shows every character of the prompt as its own token: data that the page's script draws
    # as text, carried where nothing can close the script that holds it
    from generator.render.page_data import read_page_data

    script = (tiny_site / "runs/tiny/alpha/examples/a-1.data.js").read_text()
    assert "<" not in script and ">" not in script
    assert "<" in read_page_data(script)["atlas-tiny-alpha-a-1-tokens"]["tokens"]


def test_example_pages_stay_out_of_the_navigation(tiny_site):
    html = (tiny_site / "runs/tiny/alpha/index.html").read_text()
    nav = html.split('class="md-nav md-nav--primary"', 1)[1].split("</nav>", 1)[0]
    assert "a-0.html" not in nav
    assert 'href="examples/a-0.html"' in html


def test_search_finds_an_example_on_its_own_page_not_in_its_dataset_pages_table(tiny_site):
    """Each row of a dataset page's table repeats what its example page shows: the search leaves the table out
    (``data-search-exclude``), so a prompt is found once, where it is, and the index is not a second copy."""
    docs = json.loads((tiny_site / "search/search_index.json").read_text())["docs"]
    texts = {}
    for doc in docs:
        page = doc["location"].split("#")[0]
        texts[page] = texts.get(page, "") + doc["title"] + " " + doc["text"]
    assert "2+3*4" in texts["runs/tiny/alpha/examples/a-0.html"]
    assert "2+3*4" not in texts["runs/tiny/alpha/index.html"] and "Examples" in texts["runs/tiny/alpha/index.html"]
    page = unescape((tiny_site / "runs/tiny/alpha/index.html").read_text())
    assert "2+3*4" in page and "data-search-exclude" in page  # the table is on the page


@pytest.mark.slow
def test_two_builds_of_one_run_are_byte_identical(tiny_run, tmp_path):
    outputs = []
    for attempt in ("first", "second"):
        docs = tmp_path / attempt
        code = ("import sys; from pathlib import Path; from generator.render.site import render_docs; "
                f"render_docs(Path({str(tiny_run.parent)!r}), Path({str(docs)!r}), Path({str(REPO_ROOT / 'docs')!r}))")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, capture_output=True)
        outputs.append({p.relative_to(docs).as_posix(): p.read_bytes() for p in docs.rglob("*") if p.is_file()})
    assert outputs[0].keys() == outputs[1].keys()
    different = [name for name in outputs[0] if outputs[0][name] != outputs[1][name]]
    assert different == []


def test_long_sequences_show_pooled_maps_for_chosen_heads(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from tests.conftest import save_tiny_checkpoint, write_dataset

    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "long", "prompt": "Q: " + "1+2*3-4+" * 4 + "5="}])
    written = parse_config({
        "run_name": "pooled", "model": {"id": "./model"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
        "generation": {"max_new_tokens": 6}, "output_dir": "runs",
        "analyses": {"attention": {"max_map_tokens": 8, "map_heads": [[0, 1], [1, 3]], "pooled_map_size": 5}},
    })
    run_dir = execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash()).directory
    site = build_site(run_dir.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site", docs_dir=tmp_path / "docs")
    html = (site.site_dir / "runs/pooled/d/examples/long.html").read_text()
    assert "maps are pooled into blocks" in html
    assert "layer 1, head 3" in (site.site_dir / "runs/pooled/d/examples/long.data.js").read_text()  # the plot's data


def test_the_same_plot_embeds_identically_within_one_process():
    import numpy as np

    from generator.render import plots
    from generator.render.embed import plot_item

    grid = np.full((3, 4), 0.25, dtype=np.float32)
    first = plot_item(plots.matrix_heatmap(grid, ["a", "b", "c"], list("wxyz"), "atlas-x", "t", "mass"))["json"]
    plot_item(plots.line_by_layer({"d": np.arange(3.0)}, "atlas-y", "t", "y"))  # advances Bokeh's id counter
    again = plot_item(plots.matrix_heatmap(grid, ["a", "b", "c"], list("wxyz"), "atlas-x", "t", "mass"))["json"]
    assert first == again
    assert '"id":"atlas-x-0"' in first and '"id":"p1' not in first


@pytest.mark.parametrize("damage,named", [
    (lambda run: (run / "examples/alpha/a-0/attention.safetensors").write_bytes(b"\x00" * 20),
     "examples/alpha/a-0/attention.safetensors: not a readable safetensors file"),
    (lambda run: (run / "examples/beta/b-0/trajectory.json").write_text('{"example_id": '),
     "examples/beta/b-0/trajectory.json: not valid JSON"),
    (lambda run: (run / "examples/beta/b-0/trajectory.json").write_text('{"example_id": "b-0"}'),
     "examples/beta/b-0/trajectory.json: key 'dataset': required"),
    (lambda run: (run / "manifest.json").write_text("[1, 2"), "manifest.json: not valid JSON"),
])
def test_a_damaged_run_is_named_and_skipped_while_the_others_build(tiny_run, tmp_path, capsys, monkeypatch, damage,
                                                                   named):
    import shutil

    from generator.cli import main

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    shutil.copytree(tiny_run, runs / "broken")
    damage(runs / "broken")
    monkeypatch.chdir(REPO_ROOT)
    assert main(["build", "--runs", str(runs), "--site-dir", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err.splitlines()
    skipped = [line for line in err if line.startswith("atlas build: skipped a damaged run:")]
    assert len(skipped) == 1 and named in skipped[0] and str(runs / "broken") in skipped[0]
    assert [line for line in err if "atlas build: error:" in line] == [
        "atlas build: error: left out 1 damaged run(s) (each named above); the others were built"]
    assert (tmp_path / "site/runs/tiny/alpha/examples/a-0.html").is_file()
    assert not (tmp_path / "site/runs/broken").exists()
    assert "broken" not in (tmp_path / "site/index.html").read_text()


def test_hidden_and_unfinished_runs_are_never_rendered(tiny_run, tmp_path):
    import shutil

    from generator.store.run_directory import list_runs

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    shutil.copytree(tiny_run, runs / ".tiny.old")  # a replacement's leftovers
    shutil.copytree(tiny_run, runs / ".tiny.x8k2.tmp")
    shutil.copytree(tiny_run, runs / "unfinished")
    (runs / "unfinished" / "manifest.json").unlink()
    assert [r.root.name for r in list_runs(runs)] == ["tiny"]


def test_two_builds_at_once_take_turns(tiny_run, tmp_path):
    """Both finish and the site is whole (the second waits for the first's lock)."""
    code = ("import sys; from pathlib import Path; from generator.render.site import build_site; "
            f"build_site(Path({str(tiny_run.parent)!r}), Path({str(REPO_ROOT / 'mkdocs.yml')!r}), "
            f"site_dir=Path({str(tmp_path / 'site')!r}), docs_dir=Path({str(tmp_path / 'docs')!r}))")
    builds = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [b.communicate(timeout=300) for b in builds]
    assert [b.returncode for b in builds] == [0, 0], [o[1][-2000:] for o in outputs]
    assert (tmp_path / "site/runs/tiny/alpha/examples/a-0.html").is_file()


def test_parallel_rendering_writes_the_same_docs_as_one_process(tiny_run, tmp_path):
    from generator.render.site import render_docs

    outputs = {}
    for jobs in (1, 2):
        docs = tmp_path / f"docs{jobs}"
        rendered = render_docs(tiny_run.parent, docs, REPO_ROOT / "docs", jobs=jobs)
        assert rendered.skipped == [] and rendered.pages == 7  # index, run, 2 datasets, 3 examples
        outputs[jobs] = {p.relative_to(docs).as_posix(): p.read_bytes() for p in docs.rglob("*") if p.is_file()}
    assert outputs[1].keys() == outputs[2].keys()
    assert [name for name in outputs[1] if outputs[1][name] != outputs[2][name]] == []


def test_the_figure_cache_is_ours_before_any_worker_renders(tiny_run, tmp_path, monkeypatch):
    """Workers that made the cache folder themselves raced: one found it before its marker and drew every
    figure uncached, so its page kept no cache keys (the parallel build's state then differed, now and then)."""
    from generator.render import site
    from generator.render.figure_cache import MARKER

    docs = tmp_path / "docs"
    marker_at_first_render = []
    render_unit = site._render_unit

    def checking(docs_dir, options, unit):
        marker_at_first_render.append((Path(options.figure_cache) / MARKER).is_file())
        return render_unit(docs_dir, options, unit)

    monkeypatch.setattr(site, "_render_unit", checking)
    site.render_docs(tiny_run.parent, docs, None, jobs=1)
    assert marker_at_first_render and all(marker_at_first_render)


def test_example_figures_only_on_request(tmp_path):
    """The schema-1 fixture has reasoning steps and ablation: both kinds of per-example figure."""
    import shutil

    from generator.render.site import render_docs

    shutil.copytree(REPO_ROOT / "tests/data/run-v1", tmp_path / "runs" / "v1")
    for wanted in (False, True):
        docs = tmp_path / f"docs-{wanted}"
        render_docs(tmp_path / "runs", docs, None, jobs=1, example_figures=wanted)
        figures = sorted(p.name for p in (docs / "runs/v1/two-step/examples/figures").glob("*.png"))
        index = json.loads((docs / "atlas-index.json").read_text())["entries"]
        per_example = {e["kind"] for e in index if e["example_id"] and e["kind"] != "example"}
        assert per_example == ({"answer-to-steps", "ablation-effect"} if wanted else set())
        assert len(figures) == (4 if wanted else 0)
        assert (docs / "runs/v1/two-step/figures/entropy-by-layer.png").is_file()  # dataset figures: always


@pytest.mark.slow
def test_two_builds_give_byte_identical_sites(tiny_run, tmp_path):
    """Pages, figures, search index and sitemap (its date is the newest run's, not the clock's)."""
    from generator.render.site import build_site

    trees = []
    for attempt in ("a", "b"):
        site = build_site(tiny_run.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / attempt / "site",
                          docs_dir=tmp_path / attempt / "docs").site_dir
        trees.append({p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()})
    assert trees[0].keys() == trees[1].keys()
    assert [name for name in trees[0] if trees[0][name] != trees[1][name]] == []
    assert "sitemap.xml" in trees[0]


def test_each_figure_has_an_anchor_and_citation_snippets_with_its_stable_path(tiny_site, tiny_run):
    import html as html_lib

    from generator.store.run_directory import load_run

    page = html_lib.unescape((tiny_site / "runs/tiny/alpha/index.html").read_text())
    assert 'id="fig-entropy-by-layer"' in page and 'href="#fig-entropy-by-layer"' in page
    snippets = re.findall(r'<span class="atlas-snippet-label">(\w+)</span>.*?<pre><code>(.*?)</code></pre>', page, re.S)
    markdown, latex = snippets[0][1], snippets[1][1]
    assert [label for label, _ in snippets[:2]] == ["Markdown", "LaTeX"]
    config = load_run(tiny_run).manifest.config_sha256[:12]
    assert markdown == ("![Entropy by layer (dataset alpha)](runs/tiny/alpha/figures/entropy-by-layer.png)\n\n"
                        f"*Entropy by layer (dataset alpha).* Attention Atlas run tiny, config {config}; figure "
                        "`runs/tiny/alpha/figures/entropy-by-layer.pdf`; <runs/tiny/alpha/index.html#fig-entropy-by-layer>")
    assert latex.startswith("\\begin{figure}[t]\n  \\centering\n  "
                            "\\includegraphics[width=\\linewidth]{runs/tiny/alpha/figures/entropy-by-layer.pdf}\n")
    assert f"run \\texttt{{tiny}}, config \\texttt{{{config}}}" in latex
    listed = {e["path"] for e in json.loads((tiny_site / "atlas-index.json").read_text())["entries"]}
    assert "runs/tiny/alpha/figures/entropy-by-layer.png" in listed


def test_a_rebuild_renders_only_what_changed_and_equals_a_fresh_build(tiny_run, tmp_path):
    import shutil

    from generator.render.site import RENDER_STATE, render_docs

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    docs = tmp_path / "docs"
    first = render_docs(runs, docs, None, jobs=1)
    assert first.rendered == 6  # run, 2 datasets, 3 examples (the index is always written)
    cache = tmp_path / ".docs.figures"
    cached = sorted(entry.name for entry in cache.iterdir())
    assert len(cached) > 1  # the marker and the figures' entries
    assert render_docs(runs, docs, None, jobs=1).rendered == 0
    assert sorted(entry.name for entry in cache.iterdir()) == cached  # pages copied keep their figures cached
    path = runs / "tiny/examples/alpha/a-0/trajectory.json"
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = "changed"
    path.write_text(json.dumps(data))
    assert render_docs(runs, docs, None, jobs=1).rendered == 3  # that example, its dataset, the run page
    fresh = tmp_path / "fresh"
    render_docs(runs, fresh, None, jobs=1)

    def tree(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and p.name != RENDER_STATE}

    incremental, scratch = tree(docs), tree(fresh)
    assert incremental.keys() == scratch.keys()
    assert [name for name in scratch if scratch[name] != incremental[name]] == []
    assert "changed" in (docs / "runs/tiny/alpha/examples/a-0.md").read_text()


def test_a_rebuilt_dataset_page_reads_only_the_changed_example_and_its_kept_reads_go_with_it(tiny_run, tmp_path,
                                                                                              monkeypatch):
    """What a dataset page read is kept in the build's cache (``store/kept_reads.py``): after one example changed, a
    new build process reads that example's trajectory again, not the others; the kept reads go when the dataset does."""
    import shutil

    from generator.render.site import render_docs
    from generator.store import kept_reads
    from generator.store.kept_reads import BASE
    from generator.store.run_directory import Run

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    docs = tmp_path / "docs"
    render_docs(runs, docs, None, jobs=1)
    kept = [path.parent for path in (tmp_path / ".docs.figures").glob(f"*/{BASE}")]
    assert len(kept) == 2  # one per dataset page
    read: list[str] = []
    trajectory = Run._read_trajectory
    monkeypatch.setattr(Run, "_read_trajectory", lambda self, path, dataset, example_id: read.append(example_id)
                        or trajectory(self, path, dataset, example_id))
    monkeypatch.setattr(kept_reads, "_seen", {})  # a new build process
    path = runs / "tiny/examples/alpha/a-0/trajectory.json"
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = "kept elsewhere"
    path.write_text(json.dumps(data))
    render_docs(runs, docs, None, jobs=1)
    assert sorted(read) == ["a-0", "a-0"]  # its own page, and the dataset page; a-1 came from the kept reads
    assert "kept elsewhere" in (docs / "runs/tiny/alpha/index.md").read_text()
    shutil.rmtree(runs / "tiny/examples/beta")
    manifest = json.loads((runs / "tiny/manifest.json").read_text())
    manifest["datasets"] = [entry for entry in manifest["datasets"] if entry["name"] != "beta"]
    (runs / "tiny/manifest.json").write_text(json.dumps(manifest))
    render_docs(runs, docs, None, jobs=1)
    assert len([folder for folder in kept if folder.exists()]) == 1  # beta's page is gone, and what it kept


def test_no_value_is_escaped_twice(tiny_site):
    """A value printed inside a Markdown code span would show its character references as text."""
    for page in tiny_site.rglob("*.html"):
        assert "&amp;#" not in page.read_text(encoding="utf-8"), page


def test_example_pages_link_previous_next_up_and_the_run(tiny_site):
    import html as html_lib

    examples = tiny_site / "runs/tiny/alpha/examples"
    first, second = (html_lib.unescape((examples / f"a-{i}.html").read_text()) for i in (0, 1))
    assert 'href="a-1.html" rel="next"' in first and "← first example" in first
    assert 'href="a-0.html" rel="prev"' in second and "last example →" in second
    for page in (first, second):
        assert 'href="../index.html" rel="up"' in page and 'href="../../index.html">run tiny' in page
    for target in re.findall(r'<nav class="atlas-example-nav">(.*?)</nav>', first)[0].split('href="')[1:]:
        assert (examples / target.split('"')[0]).resolve().is_file(), target


def test_accuracy_is_a_share_with_its_wilson_interval(tiny_site):
    from generator.render.context import accuracy_text

    assert accuracy_text([True] * 10 + [False] * 6 + [None] * 3) == "62.5% (10/16; 95% CI 39–82%)"  # unscored: out
    assert accuracy_text([None]) == "not scored"
    page = unescape((tiny_site / "runs/tiny/alpha/index.html").read_text())
    assert "accuracy <strong>0.0% (0/2; 95% CI 0–66%)</strong>" in page


def test_correctness_is_kept_by_file_version_and_read_again_when_a_trajectory_changes(tiny_run, tmp_path):
    """The run and index pages need each example's 'correct'; a build keeps it by file version for the next one."""
    import shutil

    from generator.render.context import accuracy_text
    from generator.render.site import FACTS_FILE, render_docs
    from generator.store import run_directory
    from generator.store.run_directory import load_run

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    docs = tmp_path / "docs"
    run_directory._CORRECT_BY_FILE.clear()
    render_docs(runs, docs, None, jobs=1)
    rows = json.loads((docs / FACTS_FILE).read_text())
    run = load_run(runs / "tiny")
    truth = {str((runs / "tiny/examples" / d / e / "trajectory.json").absolute()): run.trajectory(d, e).correct
             for d in run.dataset_names() for e in run.example_ids(d)}
    assert {row[0]: row[4] for row in rows} == truth
    original = run.correctness("alpha")
    run_directory._CORRECT_BY_FILE.clear()  # a new process: what the last build kept is all it knows
    path = runs / "tiny/examples/alpha/a-0/trajectory.json"
    data = json.loads(path.read_text())
    data["correct"] = not data["correct"]
    path.write_text(json.dumps(data))
    render_docs(runs, docs, None, jobs=1)
    page = (docs / "runs/tiny/index.md").read_text()
    flags = load_run(runs / "tiny").correctness("alpha")
    assert flags[0] is data["correct"] is not original[0] and flags[1:] == original[1:]
    before, after = (accuracy_text(f).replace("(", "&#40;").replace(")", "&#41;") for f in (original, flags))
    assert after in page and before not in page


def test_the_plot_specifications_are_copied_while_the_code_is_the_same(tiny_run, tmp_path):
    import shutil

    from generator.render.site import render_docs

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "tiny")
    docs = tmp_path / "docs"
    render_docs(runs, docs, None, jobs=1)
    spec = docs / "assets/plots/token-map.js"
    first = spec.stat().st_ino
    render_docs(runs, docs, None, jobs=1)
    assert spec.stat().st_ino == first  # linked from the last build, not written again
    render_docs(runs, docs, None, jobs=1, reuse=False)
    assert spec.stat().st_ino != first and "atlasSpecs" in spec.read_text()


def test_the_front_page_links_the_run_format_only_where_the_project_has_that_page(tiny_run, tiny_site, tmp_path, caplog):
    """A project made by `atlas init` has no docs of its own: its front page names the format instead of linking
    a page that is not there (MkDocs warned of a dead link on every such site)."""
    import logging
    import shutil

    from generator.render.site import build_site

    assert 'href="run-format.html"' in (tiny_site / "index.html").read_text()  # this checkout's docs/ has the page
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with caplog.at_level(logging.WARNING, logger="mkdocs"):
        built = build_site(tiny_run.parent, tmp_path / "mkdocs.yml", jobs=1)
    front = (built.site_dir / "index.html").read_text()
    assert "run-format.html" not in front and "docs/run-format.md</code> of Attention Atlas" in front
    assert not [record for record in caplog.records if "run-format.md" in record.getMessage()]
