"""Section of attention transplantation: layers x direction flip rates, a negative result said plainly."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext, plot_target
from generator.render.readings.interventions import transplant_heads_reading, transplant_reading
from generator.render.sections.base import dataset_heatmap, small_matrix
from generator.results.transplant import DIRECTIONS, TransplantExample, TransplantSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

def transplant_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                       page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, TransplantSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None, "reading": transplant_reading(summary),
                               "heads_reading": transplant_heads_reading(summary)}
    if summary.flip_rate is not None:
        grid = np.array(summary.flip_rate, dtype=np.float32)
        context["none"] = bool(grid.max() == 0)
        context["map"], context["figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "transplant", grid, list(summary.rows), list(DIRECTIONS),
            "Flip rate: attention weights transplanted", "flip rate", 0.0, 1.0)
    context["heads"] = []
    if summary.head_flip_rate is not None:
        rates = np.array(summary.head_flip_rate, dtype=np.float32)  # [L, H, 2]
        for index, (slug, direction) in enumerate(zip(("into-corrupted", "into-clean"), DIRECTIONS)):
            plot, figure = dataset_heatmap(
                site, run, dataset, page_dir, f"transplant-heads-{slug}", rates[:, :, index], *head_labels(rates),
                f"Flip rate, one head's weights ({direction})", "flip rate", 0.0, 1.0)
            context["heads"].append({"direction": direction, "map": plot, "figure": figure})
    return context


def head_labels(grid: np.ndarray) -> tuple[list[str], list[str]]:
    return [f"layer {i}" for i in range(grid.shape[0])], [f"head {h}" for h in range(grid.shape[1])]


def transplant_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, TransplantExample)
    summary = run.summary(trajectory.dataset, TransplantSummary)
    if result is None or summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None,
                               "informative": bool(result.informative[0] == 1.0)}
    if context["informative"]:
        target = plot_target(run, trajectory.dataset, trajectory.example_id, "transplant")
        context["none"] = bool(np.nanmax(result.flips) == 0)
        context["map"] = small_matrix(result.flips, list(summary.rows), list(DIRECTIONS), target,
                                      "Flipped (1) by the transplant", "flipped", 0.0, 1.0)
        if result.head_flips is not None:
            context["heads"] = small_matrix(
                result.head_flips.mean(axis=2), *head_labels(result.head_flips), f"{target}-heads",
                "One head's weights: flipped both ways (1), one way (0.5), not (0)", "flipped", 0.0, 1.0)
    context.setdefault("heads", None)
    return context
