"""Section of token-class attention: mass on each class and entropy by layer, every format in one figure."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import DATASET_SECTIONS, embed
from generator.results.routing import TokenClassesSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

DASHES = ["solid", "dashed", "dotted", "dashdot"]  # one per format (Bokeh and matplotlib share these names)


def format_lines(summary: TokenClassesSummary) -> dict[str, Any] | None:
    """Series for "class (format)" lines (colour: class, dash: format) and entropy per format; None without formats."""
    measured = [f for f in summary.formats if f.n_examples]
    if not measured:
        return None
    mass, dashes, colors, entropy = {}, {}, {}, {}
    for position, measured_format in enumerate(measured):
        dash = DASHES[position % len(DASHES)]
        for index, name in enumerate(summary.classes):
            label = f"{name} ({measured_format.format})"
            mass[label], dashes[label], colors[label] = np.array(measured_format.mass_by_layer[index]), dash, index
        entropy[measured_format.format] = np.array(measured_format.entropy_by_layer)
        dashes[measured_format.format], colors[measured_format.format] = dash, position
    return {"mass": mass, "entropy": entropy, "dashes": dashes, "colors": colors,
            "skipped": [f.format for f in summary.formats if not f.n_examples]}


def format_mass_drawing(lines: dict[str, Any], title: str):
    """The "mass by layer, every format" drawing, for the section's figure and the mechanism panel."""
    return partial(figures.draw_lines, series=lines["mass"], title=title, y_label="attention mass",
                   dashes=lines["dashes"], colors=lines["colors"])


def format_mass_figure(lines: dict[str, Any], title: str, width: int = 560):
    return plots.lines_figure(lines["mass"], title, "attention mass", lines["dashes"], lines["colors"], width)


def token_classes_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                          page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, TokenClassesSummary)
    if summary is None or not summary.n_examples:
        return None
    series = {name: np.array(values) for name, values in zip(summary.classes, summary.mass_by_layer)}
    written = figures.lines_by_layer(series, site.docs_dir / page_dir / "figures" / "token-classes",
                                     f"{dataset}: attention to token classes", "mass")
    context = {"template": "_section_token_classes_dataset.md.j2", "summary": summary,
               "plot": embed(plots.line_by_layer(series, plot_target(run, dataset, "token-classes"),
                                                 f"Attention from the {summary.queries} tokens to each class", "mass")),
               "figure": site.figure("token-classes", run.name, dataset, None, written, page_dir),
               "formats": None}
    lines = format_lines(summary)
    if lines is not None:
        mass_title, entropy_title = "Last prompt token: mass on each class", "Last prompt token: attention entropy"
        entropy_args = (lines["entropy"], entropy_title, "entropy (nats)")
        written = figures.panel_grid(
            [format_mass_drawing(lines, mass_title),
             partial(figures.draw_lines, series=lines["entropy"], title=entropy_title, y_label="entropy (nats)",
                     dashes=lines["dashes"], colors=lines["colors"])],
            site.docs_dir / page_dir / "figures" / "token-classes-by-format",
            f"{dataset}: token classes and entropy by format")
        context["formats"] = {
            "names": [f.format for f in summary.formats if f.n_examples], "skipped": lines["skipped"],
            "plot": embed(plots.panel_grid([format_mass_figure(lines, mass_title, 480),
                                            plots.lines_figure(*entropy_args, lines["dashes"], lines["colors"], 480)],
                                           plot_target(run, dataset, "token-classes-by-format"))),
            "figure": site.figure("token-classes-by-format", run.name, dataset, None, written, page_dir)}
    return context


DATASET_SECTIONS.register("token_classes", token_classes_dataset)
