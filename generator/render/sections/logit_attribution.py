"""Sections of direct logit attribution: contributions by layer (attention, MLP) and by head."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.attention import logit_reading
from generator.render.sections.base import dataset_heatmap, embed, format_number, small_matrix
from generator.results.logit_attribution import LogitAttributionExample, LogitAttributionSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def _plots(target: str, attention: np.ndarray, mlp: np.ndarray, heads: np.ndarray) -> dict[str, Any]:
    layers = [f"layer {i}" for i in range(heads.shape[0])]
    return {"layers": embed(plots.line_by_layer({"attention": attention, "MLP": mlp}, f"{target}-layers",
                                                "Direct contribution to the answer's logit", "logit")),
            "heads": small_matrix(heads, layers, [f"head {h}" for h in range(heads.shape[1])], f"{target}-heads",
                                "Direct contribution per head", "logit")}


def logit_attribution_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                              page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, LogitAttributionSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "reading": logit_reading(summary),
                               "embedding": format_number(summary.embedding), "plots": None, "segments": None}
    if summary.attention is not None:
        attention, mlp = np.array(summary.attention), np.array(summary.mlp)
        heads = np.array(summary.heads)
        context["plots"] = _plots(plot_target(run, dataset, "logit-attribution"), attention, mlp, heads)
        written = figures.lines_by_layer({"attention": attention, "MLP": mlp},
                                         site.docs_dir / page_dir / "figures" / "logit-attribution",
                                         f"{dataset}: direct logit attribution", "logit")
        context["figure"] = site.figure("logit-attribution", run.name, dataset, None, written, page_dir)
    if summary.by_segment:
        grid = np.array([part.by_layer for part in summary.by_segment], dtype=np.float32)
        context["segments"], context["segments_figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "logit-attribution-segments", grid,
            [f"{part.segment} (n={part.n_examples})" for part in summary.by_segment],
            [f"layer {i}" for i in range(grid.shape[1])], "Via attention, by source segment",
            "logit")
    return context


def logit_attribution_example(site: SiteContext, run: Run, trajectory: Trajectory,
                              page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, LogitAttributionExample)
    if result is None or np.isnan(result.logit[0]):
        return None
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "logit-attribution")
    context = {"logit": format_number(float(result.logit[0])),
               "embedding": format_number(float(result.embedding[0])),
               "plots": _plots(target, result.attention, result.mlp, result.heads), "segments": None}
    if result.by_segment is not None and result.by_segment.shape[1]:
        names = [s.name for s in trajectory.segments[:result.by_segment.shape[1]]]
        context["segments"] = small_matrix(
            result.by_segment.T, names, [f"layer {i}" for i in range(result.by_segment.shape[0])],
            f"{target}-segments", "Via attention, by source segment", "logit")
    return context
