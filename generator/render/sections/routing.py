"""Sections of question-to-step routing."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.attention import routing_reading
from generator.render.sections.base import dataset_heatmap, no_steps_note, small_matrix
from generator.results.routing import RoutingExample, RoutingSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def routing_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                    page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, RoutingSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None, "reading": routing_reading(summary)}
    if summary.by_position:
        grid = np.array([[np.nan if v is None else v for v in row] for row in summary.by_position], dtype=np.float32)
        steps = [f"step {i + 1}" for i in range(grid.shape[0])]
        positions = [f"q{j}" for j in range(grid.shape[1])]
        context["map"], context["figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "routing", grid, steps, positions,
            "Attention from each step to each question position", "mass")
    return context


def routing_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, RoutingExample)
    if result is None:
        return None
    if not result.routing.shape[2]:
        return {"no_steps": no_steps_note(trajectory, "there is no routing from steps to show")}
    question = next(s for s in trajectory.segments if s.kind == "question")
    tokens = [f"{i}: {plots.display_token(trajectory.tokens[i])}" for i in range(question.start, question.end)]
    grid = result.routing.mean(axis=(0, 1))
    steps = [s.name for s in trajectory.segments if s.is_reasoning]
    if len(steps) != grid.shape[0]:  # the run chose another step kind (routing.step_kind)
        steps = [f"step {i + 1}" for i in range(grid.shape[0])]
    return {"map": small_matrix(grid, steps, tokens,
                                plot_target(run, trajectory.dataset, trajectory.example_id, "routing"),
                                "Attention from each step to each question token", "mass")}
