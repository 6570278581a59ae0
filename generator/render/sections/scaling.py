"""Section of component scaling: behaviour rate per component and factor, negative results said plainly."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext, plot_target
from generator.render.readings.interventions import scaling_cells, scaling_no_effect, scaling_reading
from generator.render.sections.base import dataset_heatmap, format_number, small_matrix
from generator.results.scaling import ScalingExample, ScalingSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

def scaling_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                    page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, ScalingSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None,
                               "baseline": format_number(summary.baseline_rate),
                               "no_effect": scaling_no_effect(summary)}
    context["never"] = summary.never_shown()
    context["reading"] = scaling_reading(summary)
    context["cells"] = [{"setting": c.setting, "behaviour": c.behaviour, "expected": c.expected, "other": c.other,
                         "no_answer": c.no_answer, "p": "–" if c.p_adjusted is None else f"{c.p_adjusted:.2g}"}
                        for c in scaling_cells(summary)]
    context["n_informative"] = summary.n_informative
    if summary.rate is not None:
        grid = np.array(summary.rate, dtype=np.float32)
        factors = [f"× {f:g}" for f in summary.factors]
        context["map"], context["figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "scaling", grid, list(summary.components), factors,
            "Behaviour rate with the component scaled", "behaviour rate", 0.0, 1.0)
    return context


def scaling_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, ScalingExample)
    summary = run.summary(trajectory.dataset, ScalingSummary)
    if result is None or summary is None or np.isnan(result.baseline[0]):
        return None
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "scaling")
    moved = bool(np.nanmax(np.abs(result.behaviour - result.baseline[0])) > 0)
    return {"summary": summary, "moved": moved,
            "baseline": "shows" if result.baseline[0] == 1 else "does not show",
            "map": small_matrix(result.behaviour, list(summary.components), [f"× {f:g}" for f in summary.factors],
                                target, "Behaviour with the component scaled (1: shown)", "shown", 0.0, 1.0)}
