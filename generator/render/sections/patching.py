"""Section of the patching analysis: flip-rate grids, items, single heads."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.interventions import patching_reading
from generator.render.sections.base import embed
from generator.results.patching import PatchingSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def patching_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.summary(dataset, PatchingSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "grid": None,
                               "item_flips": None, "reading": patching_reading(summary)}
    if summary.informative_items and summary.flip_rate is not None:
        base = plot_target(run, dataset, "patching")
        figure_dir = site.docs_dir / page_dir / "figures"
        grid = np.array(summary.flip_rate, dtype=np.float32)
        components = list(summary.components)
        layers = [f"layer {i}" for i in range(grid.shape[0])]
        context["grid"] = embed(plots.matrix_heatmap(grid, layers, components, f"{base}-grid",
                                                     "Flip rate: patched component -> clean behaviour", "flip rate", 0.0, 1.0))
        written = figures.matrix_heatmap(grid, layers, components, figure_dir / "patching-grid",
                                         f"{dataset}: patching flip rate", "flip rate")
        context["grid_figure"] = site.figure("patching-grid", run.name, dataset, None, written, page_dir)
        context["heads"] = None
        if summary.head_flip_rate is not None:
            heads = np.array(summary.head_flip_rate, dtype=np.float32)
            head_labels = [f"head {h}" for h in range(heads.shape[1])]
            context["heads"] = embed(plots.matrix_heatmap(heads, layers, head_labels, f"{base}-heads",
                                                          "Flip rate per head (attention output)", "flip rate", 0.0, 1.0))
            written = figures.matrix_heatmap(heads, layers, head_labels, figure_dir / "patching-heads",
                                             f"{dataset}: per-head patching flip rate", "flip rate")
            context["heads_figure"] = site.figure("patching-heads", run.name, dataset, None, written, page_dir)
        items = summary.flips_by_item
        if items:
            columns = [f"L{l} {c}" for l in range(grid.shape[0]) for c in components]
            by_item = np.array([np.array(v, dtype=np.float32).ravel() for v in items.values()])
            context["item_flips"] = embed(plots.matrix_heatmap(by_item, list(items), columns, f"{base}-items",
                                                          "Flips item by item (1 = flipped)", "flipped", 0.0, 1.0))
        context["rows"] = [{"layer": l, "cells": [
            f"{100 * c.rate:.0f}% ({c.k}/{c.n}, CI {100 * c.ci_low:.0f}–{100 * c.ci_high:.0f}%)"
            for c in row]} for l, row in enumerate(summary.flip_rate_ci or ())]
    return context
