"""Section of component scaling: behaviour rate per component and factor, negative results said plainly."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import DATASET_SECTIONS, embed, format_number
from generator.results.scaling import ScalingSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

NO_EFFECT = 0.1  # a rate that moves less than this from the baseline under every factor is reported as no effect


def scaling_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                    page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, ScalingSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"template": "_section_scaling_dataset.md.j2", "summary": summary, "map": None,
                               "baseline": format_number(summary.baseline_rate),
                               "largest": format_number(summary.largest_change),
                               "negative": summary.largest_change is not None and summary.largest_change < NO_EFFECT}
    if summary.rate is not None:
        grid = np.array(summary.rate, dtype=np.float32)
        factors = [f"× {f:g}" for f in summary.factors]
        context["map"] = embed(plots.matrix_heatmap(grid, list(summary.components), factors,
                                                    plot_target(run, dataset, "scaling"),
                                                    "Behaviour rate with the component scaled", "rate", 0.0, 1.0))
        written = figures.matrix_heatmap(grid, list(summary.components), factors,
                                         site.docs_dir / page_dir / "figures" / "scaling",
                                         f"{dataset}: component scaling", "behaviour rate")
        context["figure"] = site.figure("scaling", run.name, dataset, None, written, page_dir)
    return context


DATASET_SECTIONS.register("scaling", scaling_dataset)
