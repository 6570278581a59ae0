"""Section of attention transplantation: layers x direction flip rates, a negative result said plainly."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext
from generator.render.sections.base import DATASET_SECTIONS, dataset_heatmap
from generator.results.transplant import DIRECTIONS, TransplantSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run

def transplant_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                       page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, TransplantSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"template": "_section_transplant_dataset.md.j2", "summary": summary, "map": None}
    if summary.flip_rate is not None:
        grid = np.array(summary.flip_rate, dtype=np.float32)
        context["none"] = bool(grid.max() == 0)
        context["map"], context["figure"] = dataset_heatmap(
            site, run, dataset, page_dir, "transplant", grid, list(summary.rows), list(DIRECTIONS),
            "Flip rate: attention weights transplanted", "flip rate", 0.0, 1.0)
    return context


DATASET_SECTIONS.register("transplant", transplant_dataset)
