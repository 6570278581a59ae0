"""Runs on disk -> Markdown pages and figures -> ``mkdocs build`` -> ``site/``.

The build gathers everything first (runs, pages, figures) into a fresh docs directory, then
hands it to MkDocs. It reads run directories only; it never loads or runs a model.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from generator.render.context import IndexEntry, Page, SiteContext, accuracy_text, dataset_dir, run_dir
from generator.render.jinja import template_environment
from generator.render.pages import PAGE_KINDS
from generator.store.atomic import atomic_write_text, replace_directory
from generator.store.run_directory import RunFormatError, list_runs_reporting

PACKAGE_ASSETS = Path(__file__).parent / "assets"
INDEX_FILE = "atlas-index.json"


def copy_static_assets(docs_dir: Path) -> None:
    """BokehJS from the installed bokeh package and our own CSS/JS: nothing from a CDN."""
    import bokeh

    bokeh_js = Path(bokeh.__file__).parent / "server" / "static" / "js"
    target = docs_dir / "assets" / "bokeh"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("bokeh.min.js", "bokeh-widgets.min.js"):
        shutil.copyfile(bokeh_js / name, target / name)
    shutil.copytree(PACKAGE_ASSETS, docs_dir / "assets", dirs_exist_ok=True)


@dataclass
class BuiltSite:
    site_dir: Path
    pages: int
    figures: int
    skipped: list[str]  # damaged runs, each "path: what is wrong"; the rest were built


@dataclass
class RenderedDocs:
    pages: int
    figures: int
    skipped: list[str]


def render_docs(runs_dir: Path, docs_dir: Path, handwritten_docs: Path | None) -> RenderedDocs:
    """Write every page, figure, asset and the index into a fresh ``docs_dir``.

    A damaged run (an unreadable manifest, trajectory or result file) is left out and reported
    by file; every other run is rendered.
    """
    runs, skipped = list_runs_reporting(runs_dir)
    env = template_environment()
    counts: list[int] = []

    def fill(tmp: Path) -> None:
        if handwritten_docs is not None and handwritten_docs.is_dir():
            shutil.copytree(handwritten_docs, tmp, dirs_exist_ok=True)
        copy_static_assets(tmp)
        site = SiteContext(tmp)
        pages: list[Page] = []
        rendered = []
        for run in tqdm(runs, desc="rendering runs", unit="run"):
            figures_before = len(site.figures)
            try:
                pages_of_run = [page for _, render in PAGE_KINDS.items() for page in render(site, run)]
            except RunFormatError as exc:
                skipped.append(str(exc))
                del site.figures[figures_before:]
                shutil.rmtree(tmp / run_dir(run), ignore_errors=True)  # its figures so far
                continue
            pages.extend(pages_of_run)
            rendered.append(run)
        pages.append(index_page(rendered))
        for page in tqdm(pages, desc="writing pages", unit="page"):
            text = env.get_template(page.template).render(**page.context)
            atomic_write_text(tmp / page.path, text)
        entries = [dataclasses.asdict(p.entry) for p in pages] + [dataclasses.asdict(f) for f in site.figures]
        entries.sort(key=lambda e: e["path"])
        atomic_write_text(tmp / INDEX_FILE, json.dumps({"schema_version": 1, "entries": entries}, indent=1) + "\n")
        counts[:] = [len(pages), len(site.figures)]

    replace_directory(docs_dir, fill)
    return RenderedDocs(counts[0], counts[1], skipped)


def index_page(runs) -> Page:
    listed = []
    for run in runs:
        datasets = [{"name": name, "href": f"{dataset_dir(run, name)}/index.html",
                     "accuracy_text": accuracy_text(list(run.trajectories(name)))} for name in run.dataset_names()]
        listed.append({"name": run.name, "href": f"{run_dir(run)}/index.html", "model": run.manifest.model.id,
                       "created": run.manifest.created, "datasets": datasets})
    return Page("index.md", "index.md.j2", {"runs": listed}, IndexEntry("index", None, None, None, "index.html"))


def build_site(runs_dir: Path, config_file: Path, site_dir: Path | None = None,
               docs_dir: Path | None = None) -> BuiltSite:
    """Render pages for every run under ``runs_dir`` and build the MkDocs site."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config_file = Path(config_file).resolve()
    root = config_file.parent
    docs_dir = Path(docs_dir or root / "build" / "docs").resolve()
    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(docs_dir.parent / f".{docs_dir.name}.build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"Waiting for another build of {docs_dir} to finish ...")
        lock.acquire()
    try:
        rendered = render_docs(Path(runs_dir), docs_dir, root / "docs")
        overrides = {"docs_dir": str(docs_dir)}
        if site_dir is not None:
            overrides["site_dir"] = str(Path(site_dir).resolve())
        config = load_config(str(config_file), **overrides)
        build(config)
    finally:
        lock.release()
    return BuiltSite(Path(config["site_dir"]), rendered.pages, rendered.figures, rendered.skipped)
