"""Section of compositional ablation: the mean interaction of every pair of steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext, plot_target
from generator.render.readings.interventions import interactions_reading
from generator.render.sections.base import dataset_heatmap, format_number, no_steps_note, small_matrix
from generator.results.compositional import CompositionalExample, CompositionalSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def compositional_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                          page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, CompositionalSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None,
                               "singles": [format_number(v) for v in summary.mean_single],
                               "reading": interactions_reading(summary),
                               "pairs": [{"pair": f"{pair.first} and {pair.second}", "n": pair.n,
                                          "mean": format_number(pair.mean),
                                          "ci": "–" if pair.ci_low is None else f"{pair.ci_low:.3g} to {pair.ci_high:.3g}",
                                          "p": format_number(pair.p_adjusted, 2),
                                          "inconclusive": pair.ci_low is None or pair.ci_low <= 0 <= pair.ci_high}
                                         for pair in summary.pairs]}
    if summary.n_scored:
        grid = np.array([[np.nan if v is None else v for v in row] for row in summary.mean_interaction],
                        dtype=np.float32)
        steps = [f"step {i + 1}" for i in range(grid.shape[0])]
        context["map"], context["figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "compositional", grid, steps, steps,
            "Interaction: pair minus sum of singles", "Δ log p (−: costlier together)")
    return context


def compositional_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, CompositionalExample)
    if result is None:
        return None
    if result.single.size < 2:
        return {"no_steps": no_steps_note(trajectory, "no pair of steps could be ablated", "pair of reasoning steps")}
    if np.isnan(result.single).all():
        return None
    steps = [f"step {i + 1}" for i in range(result.single.size)]
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "compositional")
    return {"singles": [format_number(float(v)) for v in result.single],
            "map": small_matrix(result.interaction, steps, steps, target, "Interaction: pair minus sum of singles",
                                "Δ log p (−: costlier together)")}
