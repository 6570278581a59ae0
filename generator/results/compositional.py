"""Result types of compositional ablation: steps ablated together against the sum of their single effects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class CompositionalExample(ExampleResult):
    """One example's reasoning steps (P of them) zero-ablated in the residual stream alone, in pairs, in triplets."""

    single: np.ndarray = tensor("[P]", "change of the answer's log-probability with that step ablated alone")
    pair: np.ndarray = tensor("[P, P]", "with steps i and j ablated together (i < j; NaN elsewhere)")
    interaction: np.ndarray = tensor("[P, P]", "`pair[i, j] - (single[i] + single[j])`: negative when the two "
                                     "together cost more than apart")
    triplet: np.ndarray | None = tensor("[P, P, P]", "with steps i < j < k ablated together (when asked)",
                                        optional=True)


@dataclass(frozen=True)
class PairInteraction:
    """One pair of steps' interaction over the examples that have both, with how sure it is."""

    first: int = value("the first step (1-based)")
    second: int = value("the second step (1-based)")
    n: int = value("examples with both steps measured")
    mean: float = value("mean interaction (joint change minus the two single changes)")
    ci_low: float | None = value("lower end of the 95% bootstrap interval of the mean (null below 2 examples)")
    ci_high: float | None = value("upper end")
    p_adjusted: float | None = value("t-test of mean zero, Holm-adjusted over every pair")


@dataclass(frozen=True)
class CompositionalSummary(DatasetSummary):
    """Interactions averaged by step number."""

    layer: int = value("the layer whose incoming residual stream was zeroed at the steps' positions")
    n_scored: int = value("examples with an expected answer and at least two steps")
    mean_single: tuple[float | None, ...] = value("`[step]` mean single effect")
    mean_interaction: tuple[tuple[float | None, ...], ...] = value("`[step][step]` mean interaction (null where no "
                                                                   "example has both steps)")
    pairs: tuple[PairInteraction, ...] = value("each pair of steps with its interval and adjusted test", factory=tuple)


COMPOSITIONAL = declare_analysis(AnalysisDeclaration(
    name="compositional", page_order=150, example=CompositionalExample, summary=CompositionalSummary,
    description="Ablate pairs (and triplets) of reasoning steps: joint effect against the sum of single effects.",
    analysis="generator.analyses.compositional:CompositionalAnalysis",
    dataset_section="generator.render.sections.compositional:compositional_dataset",
    example_section="generator.render.sections.compositional:compositional_example"))
