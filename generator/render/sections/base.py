"""Page sections of the analyses, one module per analysis, named by each analysis's declaration.

A section function reads its analysis's typed results from the run and returns the values its
template shows (``templates/_section_<analysis>_<dataset|example>.md.j2``), or None when the
run has nothing for it. An analysis's declaration
(``generator/results/declaration.py``) names its sections; they appear in page order.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from generator.results import declarations
from generator.results.declaration import load_object
from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.embed import plot_item
from generator.render.plot_data import data_item, matrix_data
from generator.store.records import Trajectory
from generator.store.run_directory import Run

DatasetSection = Callable[[SiteContext, Run, str, list[Trajectory], str], dict[str, Any] | None]
ExampleSection = Callable[[SiteContext, Run, Trajectory, str], dict[str, Any] | None]


def dataset_sections() -> list[tuple[str, DatasetSection]]:
    """Every declared dataset page section, in page order, as (analysis name, function)."""
    return [(d.name, _section(d.dataset_section, d.name)) for d in declarations() if d.dataset_section]


def example_sections() -> list[tuple[str, ExampleSection]]:
    """Every declared example page section, in page order, as (analysis name, function)."""
    return [(d.name, _section(d.example_section, d.name)) for d in declarations() if d.example_section]


@functools.lru_cache(maxsize=None)
def _section(path: str, analysis: str) -> Callable:
    return load_object(path, analysis)


embed = plot_item  # a Bokeh json_item ready for a page
NO_EFFECT = 0.1  # a rate that moves less than this from its baseline under every intervention is "no effect"


def no_steps_note(trajectory: Trajectory, consequence: str, what: str = "reasoning step") -> str:
    """What an analysis did with an example whose output has no reasoning step (the segmentation found none)."""
    parts = ", ".join(s.name for s in trajectory.segments) or "none"
    return f"No {what} was found in this example's output (its parts: {parts}), so {consequence}."


def format_number(value, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}g}"


def finite_or_nan(value: float | None) -> float:
    return np.nan if value is None else value


def small_matrix(values: np.ndarray, rows: list[str], columns: list[str], target: str, title: str,
                   value_label: str, low: float | None = None, high: float | None = None) -> dict[str, str]:
    """A small labelled matrix as data for the shared ``matrix`` spec, not a Bokeh document of its own
    (each costs ~25 ms to build and ~10 KB of page: a thousand example pages feel both)."""
    return data_item("matrix", target, matrix_data(np.asarray(values, dtype=np.float32), rows, columns, title,
                                                   value_label, low, high))


def dataset_heatmap(site: SiteContext, run: Run, dataset: str, page_dir: str, name: str, grid: np.ndarray,
                    rows: list[str], columns: list[str], title: str, value_label: str, low: float | None = None,
                    high: float | None = None) -> tuple[dict, dict]:
    """A dataset-level matrix as an interactive plot and as the cited static figure (``figures/<name>``)."""
    plot = embed(plots.matrix_heatmap(grid, rows, columns, plot_target(run, dataset, name), title, value_label,
                                      low, high))
    written = figures.matrix_heatmap(grid, rows, columns, site.docs_dir / page_dir / "figures" / name,
                                     f"{dataset}: {title}", value_label)
    return plot, site.figure(name, run.name, dataset, None, written, page_dir)
