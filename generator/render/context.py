"""What page kinds and sections share: where pages go, what the index lists, where figures are written.

A leaf of render/: page kinds (pages.py) and sections (sections/) both import it, never each other.
"""

from __future__ import annotations

import posixpath
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from generator.intervals import wilson
from generator.render.citation import FigureCitation, SiteSettings, label_of
from generator.store.run_directory import Run


@dataclass(frozen=True)
class IndexEntry:
    """One line of ``atlas-index.json``: a page or figure, and where it lives in the site."""

    kind: str
    run: str | None
    dataset: str | None
    example_id: str | None
    path: str  # relative to the site root
    page: str | None = None  # a figure's page, relative to the site root
    anchor: str | None = None  # the figure's id on that page (``page#anchor`` is its permalink)
    url: str | None = None  # a figure's permalink, absolute when the site's URL is known (``site_url``)

    def to_json(self) -> dict[str, str | None]:
        """Its fields by name, in order (``dataclasses.asdict`` without the deep copy: a build writes ten thousand)."""
        return dict(vars(self))


@dataclass(frozen=True)
class Section:
    """One analysis's part of a page: its template (``_section_<analysis>_<page kind>.md.j2``, named by
    convention) and the values the section function computed; the template reads ``section.<value>``."""

    template: str
    values: dict[str, Any]

    @classmethod
    def of(cls, analysis: str, page_kind: str, values: dict[str, Any] | None) -> "Section | None":
        return None if values is None else cls(f"_section_{analysis}_{page_kind}.md.j2", values)

    def __getattr__(self, name: str) -> Any:
        if name == "values" or name.startswith("__"):  # not yet set (copy, pickle): no recursion
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"section {self.template}: no value {name!r}") from None


@dataclass
class Page:
    path: str  # Markdown path relative to the docs directory
    template: str
    context: dict[str, Any]
    entry: IndexEntry


@dataclass
class SiteContext:
    """Where a page kind writes figures, what it collects for the index, and what the build asked for."""

    docs_dir: Path
    figures: list[IndexEntry] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)  # files written besides the page and its figures
    # per-example static PNG/SVG figures (dataset-level ones are always written): slow at scale,
    # so only on request (`atlas build --example-figures`)
    example_figures: bool = False
    settings: SiteSettings = field(default_factory=SiteSettings)  # where the site is published (snippets)
    config_sha256: str | None = None  # the hash of the config of the run being rendered (snippets)

    def figure(self, kind: str, run: str, dataset: str | None, example_id: str | None,
               written: list[Path], page_dir: str, caption: str | None = None) -> dict[str, Any]:
        """Record written figure files; return links relative to the page, an anchor, and citation snippets.

        The snippets name the files by their stable path from the site root (as atlas-index.json does),
        the caption (the figure's title, else its kind), the run and its config hash, and the permalink.
        """
        files, paths = [], {}
        anchor = "fig-" + "-".join(part for part in (kind, example_id) if part)
        page = f"{page_dir}/{example_id or 'index'}.html"
        permalink = f"{page}#{anchor}"
        for path in written:
            relative = path.relative_to(self.docs_dir).as_posix()
            self.figures.append(IndexEntry(kind, run, dataset, example_id, relative, page, anchor,
                                           self.settings.url(permalink)))
            files.append({"format": path.suffix[1:].upper(), "href": relative_link(relative, page_dir)})
            paths[path.suffix[1:]] = relative
        image = paths.get("png") or next(iter(paths.values()))
        png = next((path for path in written if path.suffix == ".png"), None)
        title = caption or kind.replace("-", " ").capitalize()
        citation = FigureCitation(figure_caption(title, dataset, example_id), run, self.config_sha256, image,
                                  paths.get("pdf") or image, permalink, label_of(run, dataset, example_id, kind))
        return {"files": files, "id": anchor,
                "size": None if png is None else png_size(png),
                "markdown": citation.markdown(self.settings), "latex": citation.latex(self.settings)}


def figure_caption(title: str, dataset: str | None, example_id: str | None) -> str:
    """A figure's caption: its title and what it shows (``Flip rate (dataset decimals, example d-3)``)."""
    where = ", ".join(f"{what} {name}" for what, name in (("dataset", dataset), ("example", example_id)) if name)
    return f"{title} ({where})" if where else title


def png_size(path: Path) -> tuple[int, int] | None:
    """A PNG's width and height in pixels, from its header (so a page reserves an image's space before it loads)."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", header[16:24])


def relative_link(target: str, page_dir: str) -> str:
    return posixpath.relpath(target, page_dir or ".")


def html_path(markdown_path: str) -> str:
    return markdown_path[: -len(".md")] + ".html"


def run_dir(run: Run) -> str:
    return f"runs/{run.name}"


def dataset_dir(run: Run, dataset: str) -> str:
    return f"runs/{run.name}/{dataset}"


def example_path(run: Run, dataset: str, example_id: str) -> str:
    return f"{dataset_dir(run, dataset)}/examples/{example_id}.md"


def plot_target(run: Run, dataset: str, *parts: str) -> str:
    """A page-unique element id for a plot: ``atlas-<run>-<dataset>-<parts...>``."""
    return "-".join(("atlas", run.name, dataset) + parts)


def accuracy_text(correct: Iterable[bool | None]) -> str:
    """``62.5% (10/16; 95% CI 39–82%)``: the share answered correctly with its Wilson interval (None: unscored)."""
    scored = [c for c in correct if c is not None]
    if not scored:
        return "not scored"
    k, n = sum(scored), len(scored)
    low, high = wilson(k, n)
    return f"{100 * k / n:.1f}% ({k}/{n}; 95% CI {100 * low:.0f}–{100 * high:.0f}%)"
