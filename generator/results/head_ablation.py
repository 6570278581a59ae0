"""Result types of head ablation: what removing each attention head alone does to the answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.behaviour import check_behaviour_field
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class HeadAblationExample(ExampleResult):
    """One example with each head's output replaced in turn; L layers, H heads."""

    delta_logprob: np.ndarray = tensor("[L, H]", "change in the log-probability of the scored answer (teacher "
                                       "forced; the expected one unless `behaviour` names a field) when that head "
                                       "alone is ablated; NaN when the example has no such answer to score")
    still_correct: np.ndarray = tensor("[L, H]", "1 when every answer token is still the model's first choice",
                                       dtype="uint8")
    baseline: np.ndarray = tensor("[2]", "the answer's log-probability without ablation, and 1 if it is then "
                                  "the model's first choice", dtype="float64")
    delta_logprob_expected: np.ndarray | None = tensor(
        "[L, H]", "with `behaviour: field:<name>`: the change in the log-probability of the expected answer, forced "
        "in the same place, when that head alone is ablated (specificity); NaN when the expected answer is the "
        "field's", optional=True)


@dataclass(frozen=True)
class TopHead:
    layer: int = value("layer")
    head: int = value("head")
    mean_delta_logprob: float = value("mean change in the answer's log-probability when it is ablated")
    correct_rate: float = value("share of scored examples still answered correctly with it ablated")
    ci_low: float | None = value("lower end of the 95% t interval of the mean change", default=None)
    ci_high: float | None = value("upper end of the 95% t interval of the mean change", default=None)
    p_adjusted: float | None = value("t-test of mean change zero, Holm-adjusted over every head", default=None)


@dataclass(frozen=True)
class SpecificHead:
    """A head whose ablation costs the behaviour's answer more than the expected one."""

    layer: int = value("layer")
    head: int = value("head")
    behaviour_delta: float = value("mean change of the behaviour's answer's log-probability (informative items)")
    expected_delta: float = value("mean change of the expected answer's log-probability, forced in the same place")
    specificity: float = value("mean of the two changes' difference (behaviour minus expected; negative: the head "
                               "serves the behaviour, not the answer in general)")
    ci_low: float | None = value("lower end of its 95% t interval")
    ci_high: float | None = value("upper end of its 95% t interval")
    p_adjusted: float | None = value("t-test of difference zero, Holm-adjusted over every head")


@dataclass(frozen=True)
class HeadAblationSummary(DatasetSummary):
    """Mean effect of ablating each head, and the heads whose removal costs the most."""

    method: str = value("`zero` (the head's output set to 0) or `mean` (set to its mean over the dataset)")
    n_scored: int = value("examples with an answer to score and an answer found in the generation (the others are "
                          "not scored)")
    baseline_correct_rate: float | None = value("share of scored examples whose scored answer is the model's first "
                                                "choice without ablation")
    mean_delta_logprob: tuple[tuple[float, ...], ...] | None = value("`[L][H]` mean change of the answer's "
                                                                     "log-probability")
    correct_rate: tuple[tuple[float, ...], ...] | None = value("`[L][H]` share whose scored answer is still the "
                                                               "first choice")
    top_heads: tuple[TopHead, ...] = value("the heads whose ablation lowers the answer's log-probability most "
                                           "(up to 10)", factory=tuple)
    behaviour: str = value("the answer scored: `correct` (the expected one) or `field:<name>` (an item field)",
                           default="correct")
    template: str | None = value("the format the items were asked in (null: their own run)", default=None)
    mean_delta_logprob_expected: tuple[tuple[float, ...], ...] | None = value(
        "`[L][H]` with `behaviour: field:<name>`: mean change of the expected answer's log-probability over the "
        "informative items", default=None)
    n_informative: int | None = value("scored items whose expected answer differs from the field's", default=None)
    specific_heads: tuple[SpecificHead, ...] = value("the heads most specific to the behaviour (most negative "
                                                     "specificity; up to 10)", factory=tuple)

    def __post_init__(self) -> None:
        check_behaviour_field(self.behaviour)


HEAD_ABLATION = declare_analysis(AnalysisDeclaration(
    name="head_ablation", page_order=90, example=HeadAblationExample, summary=HeadAblationSummary,
    description="Ablate each attention head alone (zero or dataset mean): change in the answer's log-probability.",
    analysis="generator.analyses.head_ablation:HeadAblationAnalysis",
    dataset_section="generator.render.sections.head_ablation:head_ablation_dataset",
    example_section="generator.render.sections.head_ablation:head_ablation_example"))
