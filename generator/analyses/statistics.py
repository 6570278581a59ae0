"""Small statistics shared by analyses: means with confidence intervals, correlations, rates."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from generator.results.ablation import AblationExample, AttentionImportance, CorrelationPoints, LayerCorrelation
from generator.results.attention import AttentionDigest
from generator.results.statistics import Correlation, MeanWithCI, RateWithCI


def mean_with_ci(values: Sequence[float], confidence: float = 0.95) -> MeanWithCI:
    """Mean and a t-distribution confidence interval (None where n < 2)."""
    from scipy import stats  # heavy: imported where used

    data = np.asarray([float(v) for v in values], dtype=np.float64)
    n = len(data)
    if n == 0:
        return MeanWithCI(0, None, None, None)
    mean = float(data.mean())
    if n < 2 or float(data.std(ddof=1)) == 0.0:
        return MeanWithCI(n, mean, mean if n >= 2 else None, mean if n >= 2 else None)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(data))
    return MeanWithCI(n, mean, float(low), float(high))


def rate_with_ci(successes: int, trials: int, confidence: float = 0.95) -> RateWithCI:
    """A proportion with its Wilson score interval."""
    from scipy import stats  # heavy: imported where used

    if trials == 0:
        return RateWithCI(0, 0, None, None, None)
    interval = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return RateWithCI(successes, trials, successes / trials, float(interval.low), float(interval.high))


def correlation(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Pearson and Spearman correlation with p-values; None where undefined (n < 3 or constant)."""
    from scipy import stats  # heavy: imported where used

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(int(len(x)), None, None, None, None, None, None)
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    fit = stats.linregress(x, y)
    return Correlation(int(len(x)), float(pearson.statistic), float(pearson.pvalue), float(spearman.statistic),
                       float(spearman.pvalue), float(fit.slope), float(fit.intercept))


def attention_importance_statistics(ablation_results: list[AblationExample], attention_results: list[AttentionDigest],
                                    labels_by_example: list[list[str]], positions: list[str]) -> AttentionImportance:
    """Per layer: does the attention the answer pays a part predict the part's importance?

    x = attention mass from the answer's tokens onto the part, averaged over heads;
    y = importance = loss in log-probability of the answer when the part is ablated (first
    method, first ablation layer). Overall and per position (step 1, step 2, ...).
    """
    n_layers = attention_results[0].answer_segment_mass.shape[0]
    by_layer = []
    for layer in range(n_layers):
        xs, ys, where = [], [], []
        for ablation, attention, labels in zip(ablation_results, attention_results, labels_by_example):
            mass = attention.answer_segment_mass[layer].mean(axis=0)  # [segment]
            for p_index, segment in enumerate(ablation.part_segments):
                importance = float(ablation.importance()[p_index])
                if not np.isfinite(importance):  # unscored (no answer to force): not a point
                    continue
                xs.append(float(mass[int(segment)]))
                ys.append(importance)
                where.append(labels[p_index])
        overall = correlation(xs, ys)
        by_position = {label: correlation([x for x, w in zip(xs, where) if w == label],
                                          [y for y, w in zip(ys, where) if w == label]) for label in positions}
        by_layer.append(LayerCorrelation(**vars(overall), layer=layer,
                                         points=CorrelationPoints(tuple(xs), tuple(ys), tuple(where)),
                                         by_position=by_position))
    return AttentionImportance(x="attention mass from the answer onto the part (mean over heads)",
                               y="importance: drop in log-probability of the expected answer when the part is ablated",
                               by_layer=tuple(by_layer))
