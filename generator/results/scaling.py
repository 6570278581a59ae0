"""Result types of component scaling: the behaviour rate with one component's output multiplied by a factor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.behaviour import check_behaviour_field
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class ScalingExample(ExampleResult):
    """One item asked again with each component scaled by each factor; C components, F factors."""

    behaviour: np.ndarray = tensor("[C, F]", "1 when the answer shows the behaviour (the expected answer, or the "
                                   "item field named by `behaviour`), NaN when the item has nothing to compare")
    baseline: np.ndarray = tensor("[1]", "the same without any scaling")
    outcome: np.ndarray | None = tensor("[C, F]", "what the answer was: 0 the behaviour, 1 the expected answer "
                                        "(when the behaviour is another one), 2 another answer, 3 no valid answer; "
                                        "-1 when the item has nothing to compare", dtype="int8", optional=True)
    baseline_outcome: np.ndarray | None = tensor("[1]", "the same without any scaling", dtype="int8", optional=True)
    informative: np.ndarray | None = tensor("[1]", "1 when the item's expected answer differs from the behaviour's "
                                            "(only such an item can be fixed)", dtype="int8", optional=True)


OUTCOMES = ("behaviour", "expected answer", "other answer", "no valid answer")


@dataclass(frozen=True)
class ScalingSummary(DatasetSummary):
    """Behaviour rate per component and factor."""

    behaviour: str = value("`correct`, or `field:<name>`: which answer counts as the behaviour")
    components: tuple[str, ...] = value("the scaled components, e.g. `L2 attn_out`, `L1 head 3`")
    factors: tuple[float, ...] = value("the factors, in column order")
    n_items: int = value("items with something to compare")
    baseline_rate: float | None = value("behaviour rate without scaling")
    rate: tuple[tuple[float, ...], ...] | None = value("`[C][F]` behaviour rate")
    largest_change: float | None = value("the largest absolute change of the rate from the baseline")
    outcome_counts: tuple[tuple[tuple[int, ...], ...], ...] | None = value(
        "`[C][F][4]` how many informative items gave each outcome (behaviour, expected answer, other answer, no "
        "valid answer); null in runs made before outcomes were kept", default=None)
    n_informative: int | None = value("items counted in `outcome_counts`: those whose expected answer differs from "
                                      "the behaviour's, or every scored item when the behaviour is `correct`",
                                      default=None)
    baseline_counts: tuple[int, ...] | None = value("the same without scaling", default=None)
    p_adjusted: tuple[tuple[float, ...], ...] | None = value(
        "`[C][F]` exact McNemar test of the behaviour against no scaling, item by item, Holm-adjusted over every "
        "cell (C x F tests at once)", default=None)

    def counts(self, row: int, column: int) -> dict[str, int] | None:
        """One cell's items by outcome (None in runs made before outcomes were kept)."""
        if self.outcome_counts is None:
            return None
        return dict(zip(OUTCOMES, self.outcome_counts[row][column]))

    def never_shown(self) -> bool:
        """The behaviour occurred nowhere, scaled or not: "no effect" is then no evidence either way."""
        return self.rate is not None and self.baseline_rate == 0 and max(max(row) for row in self.rate) == 0

    def __post_init__(self) -> None:
        check_behaviour_field(self.behaviour)


SCALING = declare_analysis(AnalysisDeclaration(
    name="scaling", page_order=110, example=ScalingExample, summary=ScalingSummary,
    description="Multiply one component's output (attention, MLP, a head) by factors: the behaviour rate per factor.",
    analysis="generator.analyses.scaling:ScalingAnalysis",
    dataset_section="generator.render.sections.scaling:scaling_dataset",
    example_section="generator.render.sections.scaling:scaling_example"))
