"""Runs on disk -> Markdown pages and figures -> ``mkdocs build`` -> ``site/`` (publishing is ``publish.py``).

The build gathers everything first (runs, pages, figures) into a fresh docs directory, then
hands it to MkDocs. It reads run directories only; it never loads or runs a model.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout
from tqdm import tqdm

from generator.render import agent_pages  # noqa: F401 - registers the agent runs' site pages
from generator.render.citation import SiteSettings, cited_runs, normalised_site_url, package_version, site_bibtex
from generator.render.context import IndexEntry, SiteContext, run_dir
from generator.render import jinja
from generator.render.jinja import template_environment
from generator.render.mkdocs_build import check_site_dir, load_mkdocs_config, run_mkdocs
from generator.render.figure_cache import cache_folder, figure_cache, kept_folder, ours, prune, template_bytecode
from generator.render.page_data import move_page_data
from generator.render.pages import PAGE_KINDS, SITE_PAGE_KINDS, listings_remembered, page_entry_kinds
from generator.render.reuse import (RENDER_STATE, SPECS_STATE, code_fingerprint, previous_state, read_own_json,
                                    reuse_files, reuse_unit, unit_fingerprint, unit_key)
from generator.render.units import PageUnit, RenderedUnit, RenderOptions
from generator.render.workers import process_pool
from generator.render.plot_data import SPECS, write_specs
from generator.store import kept_reads
from generator.store.atomic import atomic_write_text, owned_path, remove_stale, replace_directory, write_into_staging
from generator.store.plain_data import shown
from generator.store.run_directory import (Run, RunFormatError, known_correctness, list_runs_reporting, load_run,
                                           remember_correctness)

PACKAGE_ASSETS = Path(__file__).parent / "assets"
INDEX_FILE = "atlas-index.json"
FACTS_FILE = ".atlas-facts.json"  # each trajectory's 'correct' by file version: the run and index pages need only that
CITATION_FILE = "cite.bib"


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
    rendered: int = 0  # pages rendered by this build (the others were unchanged)
    incremental: bool = False  # MkDocs rebuilt only the changed pages (or none: ``unchanged``)
    unchanged: bool = False  # the rendered pages were the last build's: the site was left as it was


@dataclass
class RenderedDocs:
    pages: int
    figures: int
    skipped: list[str]
    rendered: int = 0  # pages rendered now (the others were unchanged and copied)


def project_templates(config_file: Path) -> tuple[str, ...]:
    """A report project's own ``templates/`` beside its mkdocs.yml, whose files replace ours by name."""
    own = Path(config_file).resolve().parent / "templates"
    return (str(own),) if own.is_dir() and own.resolve() != jinja.TEMPLATES.resolve() else ()


def render_docs(runs_dir: Path, docs_dir: Path, handwritten_docs: Path | None, jobs: int = 1,
                example_figures: bool = False, reuse: bool = True, templates: tuple[str, ...] = (),
                settings: SiteSettings = SiteSettings()) -> RenderedDocs:
    """Write every page, figure, asset and the index into a fresh ``docs_dir``.

    Pages are independent units, rendered by ``jobs`` processes. A unit whose inputs (its run
    files, the templates, the renderer's code and options) are unchanged since the last build
    into ``docs_dir`` is copied from it instead of rendered again (unless ``reuse`` is off).
    ``templates`` are a report project's own template folders, searched before ours; ``settings``
    (the published site's URL, name and author) shape the citation snippets and ``cite.bib``. A
    damaged run (an unreadable manifest, trajectory or result file) is left out and reported by
    file; every other run is rendered.
    """
    runs, skipped = list_runs_reporting(runs_dir)
    counts: list[int] = []
    _environment.cache_clear()  # templates and runs are read afresh by every build (workers inherit this)
    _opened.clear()
    _opened.update((str(run.root), run) for run in runs)  # the site pages read the same Run objects

    if reuse:
        remember_correctness(read_own_json(docs_dir / FACTS_FILE))

    def fill(tmp: Path) -> None:
        options = RenderOptions(example_figures, templates, settings, None if not reuse else
                                str(cache_folder(docs_dir)))  # owned: beside the docs
        if options.figure_cache is not None:  # made here, before any worker: two making it at once would race
            ours(Path(options.figure_cache))   # (one sees the folder before its marker and draws uncached)
        code = code_fingerprint(options)
        previous = previous_state(docs_dir) if reuse else {}
        _write_shared_files(tmp, handwritten_docs)
        specs: dict = {}
        units = [PageUnit(kind, str(run.root), dataset, example_id) for run in runs
                 for kind, page_kind in PAGE_KINDS.items() for dataset, example_id in page_kind.units(run)]
        rendered, state, rendered_now = _render_or_reuse(
            units, previous, docs_dir if reuse else None, tmp, options, code, jobs,
            while_rendering=lambda: specs.update(_write_specs(tmp, previous.get(SPECS_STATE), code, docs_dir)))
        state[SPECS_STATE] = specs
        if options.figure_cache is not None:
            prune(Path(options.figure_cache), {key for done in rendered.values() for key in done.figure_keys})
        good, entries = _whole_runs(runs, units, rendered, tmp, skipped)
        entries += _write_site_pages(good, tmp, skipped, RenderOptions(example_figures, templates, settings),
                                     _own_pages(handwritten_docs))
        entries = sorted((e.to_json() for e in entries), key=lambda e: e["path"])
        atomic_write_text(tmp / INDEX_FILE, json.dumps({"schema_version": 1, "entries": entries}, indent=1) + "\n")
        page_kinds = page_entry_kinds()
        pages = sum(1 for e in entries if e["kind"] in page_kinds)
        counts[:] = [pages, len(entries) - pages, rendered_now]
        atomic_write_text(tmp / RENDER_STATE, json.dumps(state, sort_keys=True) + "\n")
        _write_facts(tmp, runs)

    replace_directory(docs_dir, fill)
    return RenderedDocs(counts[0], counts[1], skipped, counts[2])


def _write_shared_files(tmp: Path, handwritten_docs: Path | None) -> None:
    """The project's own docs and the static assets (before any page: a page of ours replaces a file of theirs)."""
    if handwritten_docs is not None and handwritten_docs.is_dir():
        shutil.copytree(handwritten_docs, tmp, dirs_exist_ok=True)
    copy_static_assets(tmp)


def _write_specs(tmp: Path, previous_specs: dict | None, code: str, previous_docs: Path) -> dict:
    """The plots' specifications, copied from the last build when the renderer's code is the same (they depend
    on nothing else); their render-state entry. Written while the pages are rendered (Bokeh makes them: ~0.7 s)."""
    if not reuse_files(previous_specs, code, previous_docs, tmp):
        write_specs(tmp / "assets")
    return {"fingerprint": code, "files": [f"assets/plots/{name}.js" for name in SPECS]}


def _render_or_reuse(units: list[PageUnit], previous: dict, previous_docs: Path | None, tmp: Path,
                     options: RenderOptions, code: str, jobs: int,
                     while_rendering: Callable[[], object] = lambda: None,
                     ) -> tuple[dict[PageUnit, RenderedUnit], dict, int]:
    """Every unit rendered into ``tmp``, or copied from ``previous_docs`` (whose render state is ``previous``)
    when its inputs are unchanged; also the render state to keep for the next build and how many units
    were rendered now. ``code`` is the renderer's fingerprint (``code_fingerprint``); ``while_rendering`` is
    done by this process while workers render."""
    seen: dict[str, bytes] = {}
    with listings_remembered():  # one pass: each folder listed and each file looked at once
        fingerprints = {unit: unit_fingerprint(unit, _open_run(unit.run_root), code, seen) for unit in units}
    reused = {unit: reuse_unit(previous.get(unit_key(unit)), fingerprints[unit], previous_docs, tmp)
              for unit in units}
    to_render = [unit for unit in units if reused[unit] is None]
    rendered = {**dict(zip(to_render, _render_all(to_render, tmp, options, jobs, while_rendering))),
                **{unit: done for unit, done in reused.items() if done is not None}}
    state = {unit_key(unit): rendered[unit].to_json(fingerprints[unit]) for unit in units
             if rendered[unit].error is None}
    return rendered, state, len(to_render)


def _whole_runs(runs: list[Run], units: list[PageUnit], rendered: dict[PageUnit, RenderedUnit], tmp: Path,
                skipped: list[str]) -> tuple[list[Run], list[IndexEntry]]:
    """The runs whose every page rendered, and their index entries; a damaged run's pages are removed
    (what it wrote before the damage showed) and its first error is reported."""
    by_run: dict[str, list[RenderedUnit]] = {str(run.root): [] for run in runs}
    for unit in units:
        by_run[unit.run_root].append(rendered[unit])
    good, entries = [], []
    for run in runs:
        errors = [r.error for r in by_run[str(run.root)] if r.error]
        if errors:
            skipped.append(errors[0])
            shutil.rmtree(tmp / run_dir(run), ignore_errors=True)
            continue
        good.append(run)
        entries += [e for r in by_run[str(run.root)] for e in [r.page, *r.figures] if e is not None]
    return good, entries


def _own_pages(handwritten_docs: Path | None) -> frozenset[str]:
    """The project's own Markdown pages (paths relative to its docs folder): a page links one only if it is there."""
    if handwritten_docs is None or not handwritten_docs.is_dir():
        return frozenset()
    return frozenset(path.relative_to(handwritten_docs).as_posix() for path in handwritten_docs.rglob("*.md"))


def _write_site_pages(good: list[Run], tmp: Path, skipped: list[str], options: RenderOptions,
                      own_pages: frozenset[str] = frozenset()) -> list[IndexEntry]:
    """The pages that span runs (``SITE_PAGE_KINDS``: agent runs, comparisons, the index), in their order,
    and the site's BibTeX entry (``cite.bib``, which the index shows). Their templates get ``own_pages``
    (``_own_pages``) beside their context."""
    templates = options.templates
    entries: list[IndexEntry] = []
    atomic_write_text(tmp / CITATION_FILE, site_bibtex(options.site, cited_runs(good), package_version()) + "\n")
    for _, kind in sorted(SITE_PAGE_KINDS.items(), key=lambda item: item[1].order):
        try:
            pages = kind.pages(good, list(entries), options.site)
        except Exception as exc:  # noqa: BLE001 - one damaged record must not stop the site
            skipped.append(f"{kind.what}: left out, a record could not be read "
                           f"({type(exc).__name__}: {shown(str(exc), 200)})")
            continue
        for page in pages:
            text = _environment(templates).get_template(page.template).render(**page.context, own_pages=own_pages)
            atomic_write_text(tmp / page.path, text)
            entries.append(page.entry)
    return entries


def _render_all(units: list[PageUnit], docs_dir: Path, options: RenderOptions, jobs: int,
                while_rendering: Callable[[], object] = lambda: None) -> list[RenderedUnit]:
    """Render every unit, in this process or in ``jobs`` worker processes (results in unit order); this process
    does ``while_rendering`` meanwhile (before it renders, when it renders alone)."""
    work = functools.partial(_render_unit, str(docs_dir), options)
    alone = jobs <= 1 or len(units) < 2 * jobs
    if alone:
        while_rendering()
    bar = tqdm(total=len(units), desc="rendering pages", unit="page")
    if alone:
        results = []
        for unit in units:
            results.append(work(unit))
            bar.update()
        bar.close()
        return results
    with process_pool(jobs) as pool:
        results = []
        done = pool.map(work, units, chunksize=max(1, min(32, len(units) // (8 * jobs))))  # every task handed out
        while_rendering()
        for rendered in done:
            results.append(rendered)
            bar.update()
    bar.close()
    return results


def _write_facts(docs_dir: Path, runs: list[Run]) -> None:
    """What the next build need not read again (each trajectory's 'correct', by file version), for these runs."""
    roots = tuple(os.path.join(os.path.abspath(run.root), "") for run in runs)
    atomic_write_text(docs_dir / FACTS_FILE, json.dumps([row for row in known_correctness()
                                                         if row[0].startswith(roots)]) + "\n")


@functools.lru_cache(maxsize=None)
def _environment(templates: tuple[str, ...], cache: str | None = None):
    return template_environment(templates, template_bytecode(None if cache is None else Path(cache)))


_opened: dict[str, Run] = {}  # this build's runs by root: its pages share each (and what its layout learnt)


def _open_run(root: str) -> Run:
    run = _opened.get(root)
    if run is None:
        run = _opened[root] = load_run(Path(root))
    return run


def _render_unit(docs_dir: str, options: RenderOptions, unit: PageUnit) -> RenderedUnit:
    """Render and write one page (in whichever process runs it); a damaged run becomes an error."""
    site = SiteContext(Path(docs_dir), example_figures=options.example_figures, settings=options.site)
    try:
        run = _open_run(unit.run_root)
        site.config_sha256 = run.manifest.config_sha256
        with figure_cache(None if options.figure_cache is None else Path(options.figure_cache),
                          items=unit.kind == "dataset") as figure_keys:  # re-rendered whenever an example changes,
            reads = kept_folder(f"reads|{unit.run_root}|{unit.dataset}") if unit.kind == "dataset" else None
            with kept_reads.kept(reads):  # reading every example: what it read is kept, the next time it reads one
                page = PAGE_KINDS.get(unit.kind).render(site, run, unit.dataset, unit.example_id)
        environment = _environment(options.templates, options.figure_cache)
        text = environment.get_template(page.template).render(**page.context)
        text, data, data_path = move_page_data(text, page.path)
        if data is not None:  # units write into the build's temporary docs folder
            write_into_staging(owned_path(Path(docs_dir), data_path), data)
            site.outputs.append(Path(docs_dir) / data_path)
        write_into_staging(owned_path(Path(docs_dir), page.path), text)
    except RunFormatError as exc:
        return RenderedUnit(None, [], str(exc))
    except Exception as exc:  # noqa: BLE001 - a run file we could not foresee must not stop the other runs
        where = "/".join(part for part in (unit.dataset, unit.example_id) if part)
        return RenderedUnit(None, [], f"{unit.run_root}: {unit.kind} page {where or ''} could not be rendered "
                                   f"({type(exc).__name__}: {shown(str(exc), 200)}); please report it if the run "
                                   "files look valid")
    files = [page.path] + [f.path for f in site.figures] + [p.relative_to(docs_dir).as_posix() for p in site.outputs]
    return RenderedUnit(page.entry, site.figures, files=files, figure_keys=figure_keys)


def render_example_alone(scratch: Path, run: Run, dataset: str, example_id: str) -> list[IndexEntry]:
    """Render one example's page with its static figures into ``scratch``; the figures written."""
    _environment.cache_clear()
    _opened.clear()
    rendered = _render_unit(str(scratch), RenderOptions(example_figures=True), PageUnit("example", str(run.root), dataset,
                                                                                example_id))
    if rendered.error:
        raise RunFormatError(rendered.error)
    return rendered.figures


def build_site(runs_dir: Path, config_file: Path, site_dir: Path | None = None,
               docs_dir: Path | None = None, jobs: int | None = None, example_figures: bool = False,
               full: bool = False, site_url: str | None = None) -> BuiltSite:
    """Render pages for every run under ``runs_dir`` and build the MkDocs site.

    Only pages whose inputs changed are rendered and, where MkDocs allows it exactly, built
    again (``full`` forces a whole MkDocs build). ``site_url`` (else mkdocs.yml's) is where the
    site will be published: citation snippets and the sitemap then use absolute URLs.
    """
    config_file = Path(config_file).resolve()
    root = config_file.parent
    docs_dir = Path(docs_dir or root / "build" / "docs").resolve()
    docs_dir.mkdir(parents=True, exist_ok=True)  # MkDocs refuses a config whose docs_dir does not exist
    overrides = {"docs_dir": str(docs_dir)} | ({"site_dir": str(Path(site_dir).resolve())} if site_dir else {})
    if site_url is not None:
        overrides["site_url"] = normalised_site_url(site_url)
    mkdocs_config = load_mkdocs_config(config_file, overrides)
    check_site_dir(Path(mkdocs_config.site_dir))  # before any page is rendered
    settings = SiteSettings(normalised_site_url(mkdocs_config.site_url), mkdocs_config.site_name,
                            mkdocs_config.site_author)
    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(docs_dir.parent / f".{docs_dir.name}.build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"Waiting for another build of {docs_dir} to finish ...")
        lock.acquire()
    for left in (f".{docs_dir.name}.*.tmp", f".{docs_dir.name}.*.old"):  # what a killed build left (we hold the lock)
        remove_stale(docs_dir.parent, left)
    try:
        rendered = render_docs(Path(runs_dir), docs_dir, root / "docs", jobs or os.cpu_count() or 1, example_figures,
                               reuse=not full, templates=project_templates(config_file), settings=settings)
        built_dir, how = run_mkdocs(config_file, overrides, Path(runs_dir), full=full, jobs=jobs or os.cpu_count() or 1,
                                    config=mkdocs_config)  # loaded above, not built with: each load ~60 ms
    finally:
        lock.release()
    return BuiltSite(built_dir, rendered.pages, rendered.figures, rendered.skipped, rendered.rendered,
                     how != "whole", how == "unchanged")
