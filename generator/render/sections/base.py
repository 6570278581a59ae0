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
from generator.render.step_order import in_step_order
from generator.results.statistics import MeanWithCI, RateWithCI
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
                                     f"{dataset}: {title}", value_label, low, high)
    return plot, site.figure(name, run.name, dataset, None, written, page_dir, caption=title)


def attention_importance(site: SiteContext, run: Run, dataset: str, page_dir: str, stats, parts: list[str],
                         analysis: str = "ablation", prefix: str = "") -> dict:
    """Attention versus importance: a scatter per layer, its table, and Pearson r by position (figures named
    ``<prefix>attention-vs-importance`` and ``<prefix>correlation-by-position``)."""
    base = plot_target(run, dataset, analysis)
    figure_dir = site.docs_dir / page_dir / "figures"
    panels = [{"layer": e.layer, "x": list(e.points.attention), "y": list(e.points.importance),
               "label": list(e.points.part), "slope": e.slope, "intercept": e.intercept,
               "r": e.pearson_r, "p": e.pearson_p, "n": e.n} for e in stats.by_layer]
    written = figures.scatter_grid(panels, figure_dir / f"{prefix}attention-vs-importance", "attention from answer",
                                   "importance")
    correlation = {
        "x": stats.x, "y": stats.y,
        "scatter": embed(plots.scatter_by_layer(panels, f"{base}-scatter", "attention from answer", "importance")),
        "figure": site.figure(f"{prefix}attention-vs-importance", run.name, dataset, None, written, page_dir),
        "rows": [{"layer": e.layer, "n": e.n, "pearson_r": format_number(e.pearson_r),
                  "pearson_p": format_number(e.pearson_p), "spearman_rho": format_number(e.spearman_rho),
                  "spearman_p": format_number(e.spearman_p),
                  "by_position": [(label, format_number(c.pearson_r), c.n)
                                  for label, c in in_step_order(e.by_position, parts).items()]}
                 for e in stats.by_layer],
    }
    # correlation by position: Pearson r per layer (rows) and step (columns)
    r = np.array([[finite_or_nan(e.by_position[p].pearson_r) for p in parts] for e in stats.by_layer],
                 dtype=np.float32)
    layers = [f"layer {e.layer}" for e in stats.by_layer]
    written = figures.matrix_heatmap(r, layers, parts, figure_dir / f"{prefix}correlation-by-position",
                                     f"{dataset}: attention-importance r by position", "Pearson r", -1.0, 1.0)
    correlation["by_position"] = {
        "plot": embed(plots.matrix_heatmap(r, layers, parts, f"{base}-by-position",
                                           "Pearson r by position (grey: undefined)", "r", -1.0, 1.0)),
        "figure": site.figure(f"{prefix}correlation-by-position", run.name, dataset, None, written, page_dir)}
    return correlation


def rate_text(rate: RateWithCI) -> str:
    """k/n = rate [Wilson interval], for a sentence or a table cell."""
    if rate.n == 0 or rate.rate is None:
        return "– (n = 0)"
    return f"{rate.k}/{rate.n} = {rate.rate:.0%} [{rate.ci_low:.0%}, {rate.ci_high:.0%}]"


def mean_text(mean: MeanWithCI) -> str:
    """mean [interval] (n), signed, for a sentence or a table cell."""
    if mean.mean is None:
        return "– (n = 0)"
    if mean.ci_low is None:
        return f"{mean.mean:+.3f} (n = {mean.n}, no interval)"
    return f"{mean.mean:+.3f} [{mean.ci_low:+.3f}, {mean.ci_high:+.3f}] (n = {mean.n})"


def pooled_caveat(stats) -> list[str]:
    """Per layer: the pooled r beside the r within each position, so a pooled r made by position alone shows."""
    lines = []
    for layer in stats.by_layer:
        within = ", ".join(f"{label} r = {format_number(c.pearson_r)} (p = {format_number(c.pearson_p)}, n = {c.n})"
                           for label, c in in_step_order(layer.by_position).items())
        lines.append(f"layer {layer.layer}: pooled r = {format_number(layer.pearson_r)} (p = "
                     f"{format_number(layer.pearson_p)}, n = {layer.n}); within each position: {within}")
    return lines
