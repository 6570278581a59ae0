"""Page kinds: each turns a run (read from disk) into pages and figures. Never runs a model.

A page kind is registered by name with two functions: the units of a run it renders (the
run, each dataset, each example) and how to render one unit into a ``Page``. Units are
independent, so the site builder renders them in parallel processes, in registration order
of their kinds; adding a page kind needs no edit elsewhere. What an analysis contributes to a
page comes from its registered section (render/sections/); page kinds hold only what every
run has: its trajectories.
"""

from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from generator.registry import Registry
from generator.render import plots
from generator.render.citation import SiteSettings, cited_runs, package_version, site_bibtex
from generator.render.context import (IndexEntry, Page, Section, SiteContext, accuracy_text, dataset_dir,
                                      example_path, html_path, plot_target, run_dir)
from generator.render.sections import dataset_sections, example_sections
from generator.render.token_strips import segment_strip_item
from generator.store.records import Trajectory
from generator.store.run_directory import Run

NOT_COLUMNS = {"rendered_prompt"}  # metadata shown on the example page only (long: a chat template's text)
Unit = tuple[str | None, str | None]  # (dataset, example id); None where the kind has none


@dataclass(frozen=True)
class PageKind:
    units: Callable[[Run], list[Unit]]
    render: Callable[[SiteContext, Run, str | None, str | None], Page]
    # the run files a unit's page is made from: a rebuild renders it again only when one changed
    inputs: Callable[[Run, str | None, str | None], list[Path | str]]


PAGE_KINDS: Registry[PageKind] = Registry("page kind")


def register_page_kind(name: str, units: Callable[[Run], list[Unit]],
                       inputs: Callable[[Run, str | None, str | None], list[Path | str]]):
    def decorate(render: Callable[[SiteContext, Run, str | None, str | None], Page]):
        PAGE_KINDS.register(name, PageKind(units, render, inputs))
        return render
    return decorate


@dataclass(frozen=True)
class SitePageKind:
    """Pages made from every run that rendered whole (the site index, agent runs, comparisons), after the
    runs' own pages and every build (they are few). Kinds run in ``order``; each sees the index entries of
    the site pages made before it (the index links to agent runs only when that page was made)."""

    pages: Callable[[list[Run], list[IndexEntry], SiteSettings], list[Page]]
    entry_kinds: tuple[str, ...]  # the index entries its pages have
    what: str  # its pages, as a skipped-build message names them
    order: int


SITE_PAGE_KINDS: Registry[SitePageKind] = Registry("site page kind")


def register_site_pages(name: str, entry_kinds: tuple[str, ...], what: str, order: int):
    def decorate(pages: Callable[[list[Run], list[IndexEntry], SiteSettings], list[Page]]):
        SITE_PAGE_KINDS.register(name, SitePageKind(pages, entry_kinds, what, order))
        return pages
    return decorate


def page_entry_kinds() -> set[str]:
    """The index entry kinds that are pages (the rest are figures)."""
    return set(PAGE_KINDS.names()) | {kind for _, site in SITE_PAGE_KINDS.items() for kind in site.entry_kinds}


def _files(*patterns_in: tuple[Path, str]) -> list[str]:
    return sorted(p for root, pattern in patterns_in for p in _matching_files(os.fspath(root), pattern))


Listing = list[tuple[str, str, bool, bool]]  # a folder's entries: name, path, a file?, a folder? (through links)
_LISTINGS: ContextVar[dict[str, Listing] | None] = ContextVar("atlas_listings", default=None)


@contextlib.contextmanager
def listings_remembered():
    """Inside, a folder listed for one unit's inputs is not listed again for another's (a dataset's summaries folder
    is an input of each of its examples; its example folders, of the dataset page): one pass over a build's units,
    while their run files stay as they are."""
    token = _LISTINGS.set({})
    try:
        yield
    finally:
        _LISTINGS.reset(token)


def _matching_files(root: str, pattern: str) -> list[str]:
    """The files (through links, as ``Path.is_file``) that ``Path(root).glob(pattern)`` gives, for a pattern of
    ``*`` and plain names between slashes, from folder listings whose entries know their own type, without
    glob's pattern machinery or a stat per file (fingerprints list a thousand folders a build)."""
    part, _, rest = pattern.partition("/")
    if not rest:
        return [path for name, path, is_file, _ in _listing(root) if is_file and part in ("*", name)]
    return [found for name, folder, _, is_dir in _listing(root) if is_dir and part in ("*", name)
            for found in _matching_files(folder, rest)]


def _listing(root: str) -> Listing:
    """``root``'s entries (hidden ones too, as pathlib's glob lists them), remembered inside ``listings_remembered``."""
    listed = _LISTINGS.get()
    if listed is not None and root in listed:
        return listed[root]
    try:
        with os.scandir(root) as entries:
            found = [(entry.name, entry.path, _is_file(entry), _is_dir(entry)) for entry in entries]
    except (FileNotFoundError, NotADirectoryError):
        found = []
    if listed is not None:
        listed[root] = found
    return found


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def run_inputs(run: Run, dataset: None, example_id: None) -> list[Path | str]:
    return [run.layout.manifest] + _files((run.layout.examples, "*/*/trajectory.json"))


def dataset_inputs(run: Run, dataset: str, example_id: None) -> list[Path | str]:
    return [run.layout.manifest] + _files((run.layout.examples / dataset, "*/*"),
                                          (run.layout.dataset_summaries(dataset), "*"))


def example_inputs(run: Run, dataset: str, example_id: str) -> list[Path | str]:
    return [run.layout.manifest] + _files((run.layout.example_dir(dataset, example_id), "*"),
                                          (run.layout.dataset_summaries(dataset), "*"))


@register_page_kind("run", units=lambda run: [(None, None)], inputs=run_inputs)
def run_page(site: SiteContext, run: Run, dataset: None, example_id: None) -> Page:
    m = run.manifest
    datasets = []
    for name in run.dataset_names():
        correct = run.correctness(name)
        datasets.append({"name": name, "href": f"{name}/index.html", "n_examples": len(correct),
                         "accuracy_text": accuracy_text(correct)})
    context = {"run": {
        "name": m.run_name, "model": m.model.id, "model_source": m.model.source or "unrecorded",
        "architecture": m.model.architecture,
        "num_layers": m.model.num_layers, "num_heads": m.model.num_heads, "dtype": m.model.dtype,
        "device": m.model.device, "weights": m.model.revision or m.model.weights_sha256 or "unknown",
        "created": m.created, "config_sha256": m.config_sha256, "analyses": list(m.analysis_names),
        "library_versions": sorted(m.library_versions.items()), "datasets": datasets,
        "config_yaml": yaml.safe_dump(m.config, sort_keys=False),
    }}
    path = f"{run_dir(run)}/index.md"
    return Page(path, "run.md.j2", context, IndexEntry("run", run.name, None, None, html_path(path)))


@register_page_kind("dataset", units=lambda run: [(name, None) for name in run.dataset_names()],
                    inputs=dataset_inputs)
def dataset_page(site: SiteContext, run: Run, name: str, example_id: None) -> Page:
    trajectories = list(run.trajectories(name))
    page_dir = dataset_dir(run, name)
    metadata_columns = sorted({k for t in trajectories for k in t.metadata
                               if isinstance(t.metadata[k], (str, int, float)) and k not in NOT_COLUMNS})
    settings = run.manifest.dataset_settings(name)
    context: dict[str, Any] = {
        "name": name, "run": run.name, "n_examples": len(trajectories), "description": settings.description,
        "accuracy_text": accuracy_text(t.correct for t in trajectories), "metadata_columns": metadata_columns,
        "categories": sorted({str(t.metadata["category"]) for t in trajectories if t.metadata.get("category")}),
        "examples": [{
            "id": t.example_id, "href": f"examples/{t.example_id}.html", "prompt": t.prompt,
            "expected": t.expected_answer if t.expected_answer is not None else "",
            "parsed": t.parsed_answer if t.parsed_answer is not None else "—",
            "correct": t.correct, "metadata": t.metadata,
        } for t in trajectories],
        "sections": [section for analysis, render in dataset_sections()
                     if (section := Section.of(analysis, "dataset", render(site, run, name, trajectories, page_dir)))],
    }
    path = f"{page_dir}/index.md"
    return Page(path, "dataset.md.j2", {"dataset": context}, IndexEntry("dataset", run.name, name, None,
                                                                          html_path(path)))


def token_views(trajectory: Trajectory) -> list[dict[str, Any]]:
    owner = {}
    for seg in trajectory.segments:
        for index in range(seg.start, seg.end):
            owner[index] = seg
    views = []
    for index, (token, (start, end)) in enumerate(zip(trajectory.tokens, trajectory.token_offsets)):
        seg = owner.get(index)
        views.append({"index": index, "text": plots.display_token(token), "special": start == end,
                      "kind": seg.kind if seg else "none", "segment": seg.name if seg else "no segment"})
    return views


def neighbours(example_ids: list[str], example_id: str) -> dict[str, str | None]:
    """The previous and next example of the dataset (their pages sit beside this one), None at either end."""
    index = example_ids.index(example_id)
    return {"previous": example_ids[index - 1] if index > 0 else None,
            "next": example_ids[index + 1] if index + 1 < len(example_ids) else None}


@register_page_kind("example", units=lambda run: [(name, example_id) for name in run.dataset_names()
                                                   for example_id in run.example_ids(name)],
                    inputs=example_inputs)
def example_page(site: SiteContext, run: Run, name: str, example_id: str) -> Page:
    trajectory = run.trajectory(name, example_id)
    path = example_path(run, name, trajectory.example_id)
    page_dir = path.rsplit("/", 1)[0]
    views = token_views(trajectory)
    context: dict[str, Any] = {
        "id": trajectory.example_id, "dataset": name, "run": run.name,
        "prompt": trajectory.prompt, "generated": trajectory.generated_text,
        "expected": trajectory.expected_answer if trajectory.expected_answer is not None else "",
        "parsed": trajectory.parsed_answer if trajectory.parsed_answer is not None else "—",
        "correct": trajectory.correct,
        "metadata": [(k, v) for k, v in sorted(trajectory.metadata.items()) if isinstance(v, (str, int, float))],
        "tokens": views,  # for a report project's own template; ours draws the strip from its data
        "token_strip": segment_strip_item(plot_target(run, name, trajectory.example_id, "tokens"), views),
        "neighbours": neighbours(run.example_ids(name), trajectory.example_id),
        "segments": [{"name": s.name, "kind": s.kind, "start": s.start, "end": s.end,
                      "text": trajectory.text[s.char_start:s.char_end]} for s in trajectory.segments],
        "sections": [section for analysis, render in example_sections()
                     if (section := Section.of(analysis, "example", render(site, run, trajectory, page_dir)))],
    }
    return Page(path, "example.md.j2", {"example": context},
                IndexEntry("example", run.name, name, trajectory.example_id, html_path(path)))


@register_site_pages("index", entry_kinds=("index",), what="index.md", order=100)
def index_page(runs: list[Run], earlier: list[IndexEntry], settings: SiteSettings) -> list[Page]:
    """The site's front page: every run with its datasets (and a link to the agent runs, when made), and how
    to cite the site (the BibTeX entry of ``cite.bib``)."""
    listed = []
    for run in runs:
        datasets = [{"name": name, "href": f"{dataset_dir(run, name)}/index.html",
                     "accuracy_text": accuracy_text(run.correctness(name))} for name in run.dataset_names()]
        listed.append({"name": run.name, "href": f"{run_dir(run)}/index.html", "model": run.manifest.model.id,
                       "created": run.manifest.created, "datasets": datasets})
    agents = any(entry.kind == "agents" for entry in earlier)
    bibtex = site_bibtex(settings, cited_runs(runs), package_version())
    return [Page("index.md", "index.md.j2", {"runs": listed, "agents": agents, "bibtex": bibtex},
                 IndexEntry("index", None, None, None, "index.html"))]
