"""Result types of the thought-salience analysis, and its per-step mean (shared with the importer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import MeanWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class SalienceExample(ExampleResult):
    """The span's attention to each reasoning step; N layers (a subset), H heads, S steps."""

    salience: np.ndarray = tensor("[N, H, S]", "mean attention mass the span's tokens put on each step")
    layers: np.ndarray = tensor("[N]", "which layer each row is", dtype="int64")
    step_segments: np.ndarray = tensor("[S]", "index of each step in the trajectory's `segments`", dtype="int64")


@dataclass(frozen=True)
class SalienceSummary(DatasetSummary):
    span: str = value("the segment whose attention is measured")
    layers: tuple[int, ...] = value("the layers of each grid's rows")
    mean_by_step: dict[str, tuple[tuple[float, ...], ...]] = value(
        "step name -> `[N][H]` mean salience over the examples that have that step")
    max: float = value("the largest salience of any example (one colour scale for all figures)")
    by_step: dict[str, MeanWithCI] | None = value(
        "step name -> each example's salience averaged over layers and heads, then its mean over the examples that "
        "have that step with a 95% t interval", default=None)


SALIENCE = declare_analysis(AnalysisDeclaration(
    name="salience", page_order=70, example=SalienceExample, summary=SalienceSummary,
    description="How much attention a span (the answer) pays to each reasoning step, per layer and head.",
    analysis="generator.analyses.salience:SalienceAnalysis",
    dataset_section="generator.render.sections.salience:salience_dataset",
    example_section="generator.render.sections.salience:salience_example"))


def summarize_salience(span: str, layers: list[int], results: list[SalienceExample],
                       step_names: list[list[str]]) -> SalienceSummary:
    """Mean grid per step name ("step 1", ...) over the examples that have that step."""
    grids: dict[str, list[np.ndarray]] = {}
    for result, steps in zip(results, step_names):
        for index, step in enumerate(steps):
            grids.setdefault(step, []).append(result.salience[:, :, index])
    means = {step: np.mean(values, axis=0) for step, values in sorted(grids.items())}
    by_step = {step: MeanWithCI.of([grid.mean() for grid in values]) for step, values in sorted(grids.items())}
    return SalienceSummary(
        span=span, layers=tuple(layers),
        mean_by_step={step: tuple(tuple(row) for row in grid.tolist()) for step, grid in means.items()},
        max=float(max((r.salience.max() for r in results if r.salience.size), default=0.0)), by_step=by_step)
