"""The dataset page's "mechanism" summary: the seed's four panels side by side, from the analyses that ran.

Format comparison (token classes by format, else behaviour rates by format), component scaling,
attention transplantation and head ablation each become one panel with one sentence read from
its numbers; the panels are drawn together as one interactive grid and as one figure for a paper.
Each panel's analysis also has its own section; this only puts them together, so a panel is
left out (and said to be) when its analysis did not run on the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.attention import decision_reading
from generator.render.readings.interventions import heads_reading, scaling_reading, transplant_reading
from generator.render.format_lines import format_lines, format_mass_drawing, format_mass_figure
from generator.render.sections.base import embed, finite_or_nan
from generator.results.formats import FormatsSummary
from generator.results.head_ablation import HeadAblationSummary
from generator.results.token_classes import TokenClassesSummary
from generator.results.scaling import ScalingSummary
from generator.results.transplant import DIRECTIONS, TransplantSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

PANEL_WIDTH = 480  # px of each interactive panel
CELL = 28  # px of a matrix cell in a panel


@dataclass(frozen=True)
class Panel:
    """One panel: its name, a sentence read from its numbers, and how to draw it (static and interactive)."""

    name: str
    reading: str
    draw: Callable[[Any, Any], None]  # (matplotlib figure, axes)
    figure: Callable[[], Any]  # -> a Bokeh figure


def matrix_panel(name: str, reading: str, grid: np.ndarray, rows: list[str], columns: list[str], title: str,
                 label: str, low: float | None = None, high: float | None = None) -> Panel:
    return Panel(name, reading, partial(figures.draw_matrix, values=grid, row_labels=rows, column_labels=columns,
                                        title=title, value_label=label, low=low, high=high),
                 partial(plots.matrix_figure, grid, rows, columns, title, label, low, high, CELL, False))


def rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def formats_panel(run: Run, dataset: str) -> Panel | None:
    """Token-class attention by format when measured, else the behaviour rates by format."""
    rates = run.summary(dataset, FormatsSummary)
    measured = [r for r in rates.formats if r.bug is not None and r.bug.rate is not None] if rates else []
    rates_text = rates_sentence(rates.bug_field, measured) if measured else ""
    classes = run.summary(dataset, TokenClassesSummary)
    if classes is not None and (panel := class_lines_panel(classes, rates_text)) is not None:
        return panel
    if not measured:
        return None
    from bokeh.models import ColumnDataSource

    title = f"Formats: '{rates.bug_field}' answers"
    columns = {"category": [r.format for r in measured], "mean": [finite_or_nan(r.bug.rate) for r in measured],
               "low": [finite_or_nan(r.bug.ci_low) for r in measured],
               "high": [finite_or_nan(r.bug.ci_high) for r in measured], "n": [r.bug.n for r in measured]}
    return Panel("formats", rates_text,
                 partial(figures.draw_bars, categories=columns["category"], means=columns["mean"], lows=columns["low"],
                         highs=columns["high"], title=title, y_label="rate"),
                 lambda: plots.bars_figure(ColumnDataSource(columns), columns["category"], title, "rate"))


def class_lines_panel(classes: TokenClassesSummary, rates_text: str) -> Panel | None:
    """Token-class attention by format, at the decision token when measured (else the prompt's last token)."""
    decision = decision_reading(classes)
    lines = format_lines(classes, at_decision=decision is not None)
    if lines is None:
        return None
    title = f"Formats: {'decision token' if decision else 'last prompt token'}'s attention to each class"
    reading = decision or largest_difference(classes)
    return Panel("formats", " ".join(filter(None, [rates_text, reading])),
                 format_mass_drawing(lines, title), partial(format_mass_figure, lines, title, PANEL_WIDTH))


def rates_sentence(field: str, measured: list) -> str:
    """Each format's rate of the known-wrong answer, with its count and Wilson interval."""
    return (f"Known-wrong answers ('{field}'): "
            + ", ".join(f"{r.format} {rate(r.bug.rate)} ({r.bug.k} of {r.bug.n}, 95% CI "
                        f"{rate(r.bug.ci_low)}–{rate(r.bug.ci_high)})" for r in measured) + ".")


def largest_difference(summary: TokenClassesSummary) -> str:
    """Where two formats' attention to one class differs most (layer, class, both values)."""
    measured = [f for f in summary.formats if f.n_examples]
    if len(measured) < 2:
        return ""
    best = max(((abs(a.mass_by_layer[k][layer] - b.mass_by_layer[k][layer]), k, layer, a, b)
                for i, a in enumerate(measured) for b in measured[i + 1:]
                for k in range(len(summary.classes)) for layer in range(len(a.mass_by_layer[k]))),
               key=lambda entry: entry[0])
    _, k, layer, a, b = best
    return (f"Largest difference between formats at the last prompt token: attention to '{summary.classes[k]}' at "
            f"layer {layer} "
            f"({a.format} {a.mass_by_layer[k][layer]:.2f}, {b.format} {b.mass_by_layer[k][layer]:.2f}).")


def scaling_panel(run: Run, dataset: str) -> Panel | None:
    summary = run.summary(dataset, ScalingSummary)
    if summary is None or summary.rate is None:
        return None
    grid = np.array(summary.rate, dtype=np.float32)
    reading = scaling_reading(summary)
    return matrix_panel("scaling", reading, grid, list(summary.components), [f"× {f:g}" for f in summary.factors],
                        "Component scaling: behaviour rate", "behaviour rate", 0.0, 1.0)


def transplant_panel(run: Run, dataset: str) -> Panel | None:
    summary = run.summary(dataset, TransplantSummary)
    if summary is None or summary.flip_rate is None:
        return None
    grid = np.array(summary.flip_rate, dtype=np.float32)
    reading = transplant_reading(summary)
    return matrix_panel("transplant", reading, grid, list(summary.rows), list(DIRECTIONS),
                        "Attention transplantation: flip rate", "flip rate", 0.0, 1.0)


def heads_panel(run: Run, dataset: str) -> Panel | None:
    summary = run.summary(dataset, HeadAblationSummary)
    if summary is None or summary.mean_delta_logprob is None:
        return None
    grid = np.array(summary.mean_delta_logprob, dtype=np.float32)
    reading = heads_reading(summary)
    return matrix_panel("heads", reading, grid, [f"layer {i}" for i in range(grid.shape[0])],
                        [f"head {h}" for h in range(grid.shape[1])], f"Head ablation ({summary.method}): Δ log p",
                        "mean Δ log p (−: matters)")


def lettered(figure, letter: str):
    """The panel's letter before its title, as in the static figure and the readings."""
    figure.title.text = f"{letter}. {figure.title.text}"
    return figure


PANELS = {"formats": formats_panel, "scaling": scaling_panel, "transplant": transplant_panel, "heads": heads_panel}
ANALYSES = {"formats": "formats or token_classes (with templates)", "scaling": "scaling", "transplant": "transplant",
            "heads": "head_ablation"}


def mechanism_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                      page_dir: str) -> dict[str, Any] | None:
    panels = [panel for make in PANELS.values() if (panel := make(run, dataset)) is not None]
    if len(panels) < 2:  # one panel is its own section already
        return None
    written = figures.panel_grid([p.draw for p in panels], site.docs_dir / page_dir / "figures" / "mechanism",
                                 f"{dataset}: mechanism")
    shown = {p.name for p in panels}
    return {"panels": [{"letter": "ABCD"[i], "reading": p.reading} for i, p in enumerate(panels)],
            "missing": [ANALYSES[name] for name in PANELS if name not in shown],
            "plot": embed(plots.panel_grid([lettered(p.figure(), "ABCD"[i]) for i, p in enumerate(panels)],
                                           plot_target(run, dataset, "mechanism"))),
            "figure": site.figure("mechanism", run.name, dataset, None, written, page_dir)}
