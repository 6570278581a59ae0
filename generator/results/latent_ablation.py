"""Result types of latent ablation: each continuous thought (or pair) replaced, the answer decoded again."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.ablation import AttentionImportance
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.results.statistics import MeanWithCI, RateWithCI
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class LatentAblationExample(ExampleResult):
    """One example's E edits (every method x site x later-thoughts rule x thought or pair) and K thoughts."""

    method: np.ndarray = tensor("[E]", "index into the summary's `methods` (zero, mean, resample)", dtype="int64")
    site: np.ndarray = tensor("[E]", "-1: the thought's input embedding; L: the residual stream entering layer L",
                              dtype="int64")
    recompute: np.ndarray = tensor("[E]", "1: later thoughts made again from the edited state; 0: kept as stored",
                                   dtype="int64")
    thoughts: np.ndarray = tensor("[E, 2]", "the edited thoughts, 0-based (the second -1 for a single thought)",
                                  dtype="int64")
    answer_changed: np.ndarray = tensor("[E]", "1 when the greedy answer's tokens differ from the unedited ones")
    correct_after: np.ndarray = tensor("[E]", "1 when the edited run's answer passes the run's check; NaN without an "
                                       "expected answer")
    delta_logprob: np.ndarray = tensor("[E]", "edited minus unedited log-probability of the model's own unedited "
                                       "answer (its tokens after the end of thoughts)")
    baseline_correct: np.ndarray = tensor("[1]", "1 when the unedited answer passes the check; NaN without one")
    attention: np.ndarray = tensor("[L, K]", "attention mass on each thought from the positions that decode the "
                                   "answer (the end token and the answer's tokens), mean over heads and positions")


@dataclass(frozen=True)
class ThoughtEffect:
    """What one edit does to one thought position over the dataset."""

    thought: str = value("`thought 1`, ...; a pair as `thought 1 + thought 2`")
    breaks: RateWithCI = value("correct -> wrong among the examples answered correctly unedited (Wilson 95%)")
    changes: RateWithCI = value("answer changed, among all examples (Wilson 95%)")
    delta_logprob: MeanWithCI = value("mean change in the log-probability of the unedited answer (t 95%)")


@dataclass(frozen=True)
class LatentCondition:
    """One way of editing: a method at a site, later thoughts recomputed or kept."""

    method: str = value("zero | mean | resample")
    site: str = value("`input`, or `layer L` (the residual stream entering layer L)")
    later: str = value("`recompute` or `keep`")
    singles: tuple[ThoughtEffect, ...] = value("one entry per thought position")
    pairs: tuple[ThoughtEffect, ...] = value("one entry per pair of thoughts (when `pairs` is on)")


@dataclass(frozen=True)
class LatentAblationSummary(DatasetSummary):
    """Importance of each continuous thought over a dataset, and whether attention predicts it."""

    thoughts: int = value("thoughts per example (K)")
    n_examples: int = value("examples")
    n_correct: int = value("examples answered correctly without any edit")
    conditions: tuple[LatentCondition, ...] = value("one entry per method x site x later-thoughts rule")
    example_ids: tuple[str, ...] = value("rows of `importance`")
    importance: tuple[tuple[float | None, ...], ...] = value(
        "`[example][thought]` drop in the unedited answer's log-probability under the first condition (null: "
        "not measured)")
    attention_vs_importance: AttentionImportance | None = value(
        "x: attention on the thought from the answer's positions; y: the drop under the first condition; per layer, "
        "pooled over positions and within each")


LATENT_ABLATION = declare_analysis(AnalysisDeclaration(
    name="latent_ablation", page_order=45, example=LatentAblationExample, summary=LatentAblationSummary,
    description="Replace one continuous thought (or a pair) at its input or a layer, later thoughts recomputed or "
                "kept, and decode the answer again.",
    analysis="generator.analyses.latent_ablation:LatentAblationAnalysis",
    dataset_section="generator.render.sections.latent_ablation:latent_ablation_dataset",
    example_section="generator.render.sections.latent_ablation:latent_ablation_example"))
