"""The units a site build renders, how they are rendered, and what each rendering wrote.

Plain records passed to render workers and kept between builds (``render/reuse.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from generator.render.citation import SiteSettings
from generator.render.context import IndexEntry


@dataclass(frozen=True)
class RenderOptions:
    """How every page of a build is rendered (passed to each worker, never set globally)."""

    example_figures: bool = False  # static figures on example pages too
    templates: tuple[str, ...] = ()  # a report project's template folders, searched before ours
    site: SiteSettings = SiteSettings()  # the published site's URL, name and author (citation snippets)
    figure_cache: str | None = None  # where unchanged static figures are copied from (None: draw every one)


@dataclass(frozen=True)
class PageUnit:
    """One page to render: which kind, of which run, for which dataset and example."""

    kind: str
    run_root: str
    dataset: str | None
    example_id: str | None


@dataclass
class RenderedUnit:
    page: IndexEntry | None
    figures: list[IndexEntry]
    error: str | None = None  # the run is damaged: what and where
    files: list[str] = dataclasses.field(default_factory=list)  # everything it wrote, relative to the docs
    figure_keys: list[str] = dataclasses.field(default_factory=list)  # the figure cache entries it used

    def to_json(self, fingerprint: str) -> dict:
        return {"fingerprint": fingerprint, "files": self.files, "page": self.page.to_json(),
                "figures": [f.to_json() for f in self.figures], "figure_keys": self.figure_keys}

    @classmethod
    def from_json(cls, data: dict) -> "RenderedUnit":
        return cls(IndexEntry(**data["page"]), [IndexEntry(**f) for f in data["figures"]], None, data["files"],
                   [str(key) for key in data.get("figure_keys", [])])
