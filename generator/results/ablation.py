"""Result types of the ablation analysis (and its attention-versus-importance statistics)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import Correlation, MeanWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class AblationExample(ExampleResult):
    """One example's ablation effects; M methods, N residual layers, P parts."""

    delta_logprob: np.ndarray = tensor("[M, N, P]", "ablated minus baseline log-probability of the expected answer "
                                       "(methods in `analyses.ablation.methods` order; knockout repeats across "
                                       "layers)")
    stays_correct: np.ndarray = tensor("[M, N, P]", "1 when greedy decoding still gives the expected answer")
    baseline_logprob: np.ndarray = tensor("[1]", "log-probability of the expected answer without ablation")
    baseline_correct: np.ndarray = tensor("[1]", "1 when greedy decoding gives it without ablation")
    layers: np.ndarray = tensor("[N]", "the residual ablation layers", dtype="int64")
    part_segments: np.ndarray = tensor("[P]", "index of each part's segment in the trajectory's `segments`",
                                       dtype="int64")

    def importance(self, method: int = 0, layer: int = 0) -> np.ndarray:
        """[P] drop in the answer's log-probability when each part is ablated."""
        return -self.delta_logprob[method, layer]


@dataclass(frozen=True)
class CorrelationPoints:
    attention: tuple[float, ...] = value("x of every (example, part) point")
    importance: tuple[float, ...] = value("y of every point")
    part: tuple[str, ...] = value("the part's label (`step 1`, ...) of every point")


@dataclass(frozen=True)
class LayerCorrelation(Correlation):
    """Attention versus importance in one layer: overall, its points, and per position."""

    layer: int = value("the layer whose attention is x")
    points: CorrelationPoints = value("the points the correlation is computed from")
    by_position: dict[str, Correlation] = value("the same correlation for each position (`step 1`, ...) alone")


@dataclass(frozen=True)
class AttentionImportance:
    """Does the attention the answer pays a part predict the part's importance?"""

    x: str = value("what x is")
    y: str = value("what y is")
    by_layer: tuple[LayerCorrelation, ...] = value("one entry per layer")


@dataclass(frozen=True)
class AblationSummary(DatasetSummary):
    """Importance of each position over a dataset."""

    methods: tuple[str, ...] = value("the ablation methods, in config order")
    layers: tuple[int, ...] = value("the residual ablation layers")
    parts: tuple[str, ...] = value("every part label that occurs, in position order")
    importance_by_position: dict[str, dict[str, MeanWithCI]] = value(
        "method -> part -> mean importance (first ablation layer) with a 95% interval")
    attention_vs_importance: AttentionImportance | None = value(
        "present when the attention analysis ran on the same dataset", default=None)


ABLATION = declare_analysis(AnalysisDeclaration(
    name="ablation", page_order=40, example=AblationExample, summary=AblationSummary,
    description="Remove one part at a time (residual ablation or attention knockout) and measure the answer.",
    analysis="generator.analyses.ablation:AblationAnalysis",
    dataset_section="generator.render.sections.ablation:ablation_dataset",
    example_section="generator.render.sections.ablation:ablation_example"))
