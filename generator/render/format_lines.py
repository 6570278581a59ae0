"""Token-class attention of several prompt formats as lines (colour: class, dash: format), for the
token-classes section and the mechanism summary alike, interactive and static."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.results.token_classes import TokenClassesSummary

DASHES = ["solid", "dashed", "dotted", "dashdot"]  # one per format (Bokeh and matplotlib share these names)


def format_lines(summary: TokenClassesSummary, at_decision: bool = False) -> dict[str, Any] | None:
    """Series for "class (format)" lines (colour: class, dash: format) and entropy per format; None without formats.

    ``at_decision``: the mass at the decision token (where the formats' answers part) instead of the prompt's last
    token; None when no item's formats part."""
    measured = [f for f in summary.formats if f.n_examples and (f.decision_mass_by_layer or not at_decision)]
    if at_decision and len(measured) < 2:
        return None
    if not measured:
        return None
    mass, dashes, colors, entropy = {}, {}, {}, {}
    for position, measured_format in enumerate(measured):
        dash = DASHES[position % len(DASHES)]
        for index, name in enumerate(summary.classes):
            label = f"{name} ({measured_format.format})"
            by_layer = measured_format.decision_mass_by_layer if at_decision else measured_format.mass_by_layer
            mass[label], dashes[label], colors[label] = np.array(by_layer[index]), dash, index
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
