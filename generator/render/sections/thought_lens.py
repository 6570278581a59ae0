"""Sections of the thought lens: a thought x layer table of decoded tokens, and the dataset's agreement."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext
from generator.render.sections.base import dataset_heatmap, rate_text
from generator.results.thought_lens import ThoughtLensExample, ThoughtLensSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def _names(trajectory: Trajectory) -> dict[int, str]:
    names: dict[int, str] = {}
    for token_id, text in zip(trajectory.token_ids, trajectory.tokens):
        names.setdefault(int(token_id), text)
    return names


def thought_lens_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, ThoughtLensExample)
    if result is None:
        return None
    names = _names(trajectory)
    layers, k, _ = result.top_ids.shape
    rows = []
    for thought in range(k):
        cells = []
        for layer in range(layers):
            picks = [f"{names.get(int(i), f'#{int(i)}')} {float(p):.2f}"
                     for i, p in zip(result.top_ids[layer, thought][:3], result.top_probs[layer, thought][:3])]
            cells.append(" · ".join(picks))
        rows.append({"thought": f"thought {thought + 1}", "cells": cells})
    return {"layers": list(range(layers)), "rows": rows}


def thought_lens_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                         page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, ThoughtLensSummary)
    if summary is None or not summary.cells:
        return None
    by_thought: dict[str, list] = {}
    for cell in summary.cells:
        by_thought.setdefault(cell.thought, []).append(cell)
    rows = [{"thought": thought, "cells": [f"{c.top_token} ({c.top_count}/{summary.n_examples})" for c in cells]}
            for thought, cells in by_thought.items()]
    context: dict[str, Any] = {"summary": summary, "layers": list(range(summary.layers)), "rows": rows, "map": None}
    if summary.target_field is not None:
        context.update(_target_agreement(site, run, dataset, page_dir, summary, by_thought))
    return context


def _target_agreement(site: SiteContext, run: Run, dataset: str, page_dir: str, summary: ThoughtLensSummary,
                      by_thought: dict[str, list]) -> dict[str, Any]:
    """How often each thought's first choice is the target field's value: a heatmap and the sentence naming the best."""
    grid = np.array([[np.nan if c.target is None or c.target.rate is None else c.target.rate for c in cells]
                     for cells in by_thought.values()], dtype=np.float32)
    plot, figure = dataset_heatmap(site, run, dataset, page_dir, "thought-lens-target", grid, list(by_thought),
                                   [f"layer {l}" for l in range(summary.layers)],
                                   f"First choice = {summary.target_field}", "rate", 0.0, 1.0)
    scored = [c for c in summary.cells if c.target is not None and c.target.n]
    best = max(scored, key=lambda c: c.target.rate or 0.0) if scored else None
    sentence = (f"{best.thought} at layer {best.layer} decodes to the example's {summary.target_field} most often: "
                f"{rate_text(best.target)}") if best else None
    return {"map": plot, "figure": figure, "best": sentence}
