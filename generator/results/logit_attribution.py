"""Result types of direct logit attribution: what each layer's attention, MLP and head writes toward the answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import MeanWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class LogitAttributionExample(ExampleResult):
    """Direct contributions to the logit of the answer's first token, at the position that predicts it."""

    attention: np.ndarray = tensor("[L]", "each layer's attention output, through the final norm (its scale frozen "
                                   "at the full residual's) and the answer token's unembedding row")
    mlp: np.ndarray = tensor("[L]", "the same for each layer's MLP output")
    heads: np.ndarray = tensor("[L, H]", "the same for each head (its slice through the head-mixing projection); "
                               "a layer's heads sum to its attention row (no projection bias)")
    embedding: np.ndarray = tensor("[1]", "the same for the token embedding entering layer 0")
    logit: np.ndarray = tensor("[1]", "the answer token's logit as the model computed it; the contributions sum to "
                               "it (plus the unembedding bias, if any)")
    by_token: np.ndarray = tensor("[L, T]", "each layer's attention contribution split by source token (the tokens "
                                  "up to the predicting position, in the trajectory's order); a row sums to that "
                                  "layer's `attention`", optional=True)
    by_segment: np.ndarray = tensor("[L, S]", "`by_token` summed over each segment (the trajectory's segments that "
                                    "start before the answer, in order)", optional=True)


@dataclass(frozen=True)
class SegmentContribution:
    segment: str = value("a segment name (`question`, `step 1`, ..., `answer`)")
    n_examples: int = value("scored examples that have it")
    by_layer: tuple[float, ...] = value("`[L]` mean direct contribution through each layer's attention")


@dataclass(frozen=True)
class LogitAttributionSummary(DatasetSummary):
    """Direct contributions averaged over the scored examples."""

    n_scored: int = value("examples with an expected answer found in the generation")
    approximation: str = value("how the final norm is handled")
    attention: tuple[float, ...] | None = value("`[L]` mean attention contribution")
    mlp: tuple[float, ...] | None = value("`[L]` mean MLP contribution")
    heads: tuple[tuple[float, ...], ...] | None = value("`[L][H]` mean head contribution")
    embedding: float | None = value("mean embedding contribution")
    by_segment: tuple[SegmentContribution, ...] = value("the attention contributions by source segment, averaged "
                                                        "over the examples that have the segment", default=())
    attention_ci: tuple[MeanWithCI, ...] | None = value("`[L]` the attention contributions with 95% t intervals",
                                                        default=None)
    mlp_ci: tuple[MeanWithCI, ...] | None = value("`[L]` the MLP contributions with 95% t intervals", default=None)
    heads_ci: tuple[tuple[MeanWithCI, ...], ...] | None = value("`[L][H]` the head contributions with 95% t "
                                                                "intervals", default=None)
    embedding_ci: MeanWithCI | None = value("the embedding contribution with its 95% t interval", default=None)


LOGIT_ATTRIBUTION = declare_analysis(AnalysisDeclaration(
    name="logit_attribution", page_order=100, example=LogitAttributionExample, summary=LogitAttributionSummary,
    description="Direct logit attribution of the answer's first token to each layer's attention, MLP and head.",
    analysis="generator.analyses.logit_attribution:LogitAttributionAnalysis",
    dataset_section="generator.render.sections.logit_attribution:logit_attribution_dataset",
    example_section="generator.render.sections.logit_attribution:logit_attribution_example"))
