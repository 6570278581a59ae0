"""Section of attention transplantation: layers x direction flip rates, a negative result said plainly."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import DATASET_SECTIONS, embed
from generator.results.transplant import TransplantSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

DIRECTIONS = ["clean → corrupted", "corrupted → clean"]


def transplant_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                       page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, TransplantSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"template": "_section_transplant_dataset.md.j2", "summary": summary, "map": None}
    if summary.flip_rate is not None:
        grid = np.array(summary.flip_rate, dtype=np.float32)
        context["none"] = bool(grid.max() == 0)
        context["map"] = embed(plots.matrix_heatmap(grid, list(summary.rows), DIRECTIONS,
                                                    plot_target(run, dataset, "transplant"),
                                                    "Flip rate: attention weights transplanted", "flip rate", 0.0, 1.0))
        written = figures.matrix_heatmap(grid, list(summary.rows), DIRECTIONS,
                                         site.docs_dir / page_dir / "figures" / "transplant",
                                         f"{dataset}: attention transplantation", "flip rate")
        context["figure"] = site.figure("transplant", run.name, dataset, None, written, page_dir)
    return context


DATASET_SECTIONS.register("transplant", transplant_dataset)
