"""Result types of question-to-step routing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import MeanWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class RoutingExample(ExampleResult):
    """For each reasoning step, the attention its tokens put on each question token; P steps, Q question tokens."""

    routing: np.ndarray = tensor("[L, H, P, Q]", "mass from the step's tokens (averaged over them) to each question "
                                 "token; the question's tokens are the `question` segment's, in order")


@dataclass(frozen=True)
class RoutingSummary(DatasetSummary):
    """Routing averaged over examples, by step number and question token position."""

    n_examples: int = value("examples with at least one reasoning step")
    by_position: tuple[tuple[float | None, ...], ...] = value("`[step][question position]` mean over layers, heads "
                                                              "and the examples that have both (null where none)")
    by_position_ci: tuple[tuple[MeanWithCI, ...], ...] | None = value(
        "`[step][question position]` the same with 95% t intervals over those examples (n = 0 where none)",
        default=None)


ROUTING = declare_analysis(AnalysisDeclaration(
    name="routing", page_order=120, example=RoutingExample, summary=RoutingSummary,
    description="Question-to-step routing: which question tokens each reasoning step attends to.",
    analysis="generator.analyses.routing:RoutingAnalysis",
    dataset_section="generator.render.sections.routing:routing_dataset",
    example_section="generator.render.sections.routing:routing_example"))
