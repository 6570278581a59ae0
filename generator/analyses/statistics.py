"""Small statistics shared by analyses: means with confidence intervals, correlations, rates."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from generator.results.ablation import AblationExample, AttentionImportance, CorrelationPoints, LayerCorrelation
from generator.results.attention import AttentionDigest
from generator.results.latent_ablation import LatentAblationExample, LatentAblationSummary, LatentCondition, ThoughtEffect
from generator.intervals import wilson
from generator.results.statistics import Correlation, MeanWithCI, RateWithCI


def mean_with_ci(values: Sequence[float]) -> MeanWithCI:
    """Mean and its 95% t-distribution confidence interval (None where n < 2)."""
    return MeanWithCI.of(values)


def rate_with_ci(successes: int, trials: int, confidence: float = 0.95) -> RateWithCI:
    """A proportion with its Wilson score interval."""
    interval = wilson(successes, trials, confidence)
    if interval is None:
        return RateWithCI(0, 0, None, None, None)
    return RateWithCI(successes, trials, successes / trials, *interval)


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


def layer_correlations(attention: np.ndarray, importance: np.ndarray, labels: list[str]) -> tuple[LayerCorrelation, ...]:
    """Per layer, x = ``attention[example, layer, position]`` against y = ``importance[example, position]``:
    pooled over positions, and within each position (pooling mixes positions that differ on both axes)."""
    by_layer = []
    for layer in range(attention.shape[1]):
        xs, ys, where = [], [], []
        for example in range(attention.shape[0]):
            for position, label in enumerate(labels):
                if np.isfinite(importance[example, position]):
                    xs.append(float(attention[example, layer, position]))
                    ys.append(float(importance[example, position]))
                    where.append(label)
        by_position = {label: correlation([x for x, w in zip(xs, where) if w == label],
                                          [y for y, w in zip(ys, where) if w == label]) for label in labels}
        by_layer.append(LayerCorrelation(**vars(correlation(xs, ys)), layer=layer,
                                         points=CorrelationPoints(tuple(xs), tuple(ys), tuple(where)),
                                         by_position=by_position))
    return tuple(by_layer)


def _thought_label(thoughts) -> str:
    return " + ".join(f"thought {int(t) + 1}" for t in thoughts if t >= 0)


def _effect(digests: list[LatentAblationExample], picks: list[np.ndarray], label: str) -> ThoughtEffect:
    """One thought's (or pair's) effect under one condition: ``picks[i]`` indexes example i's edits."""
    breaks = trials = changed = 0
    deltas = []
    for digest, pick in zip(digests, picks):
        if len(pick) == 0:
            continue
        row = int(pick[0])
        changed += int(digest.answer_changed[row] == 1)
        deltas.append(float(digest.delta_logprob[row]))
        if digest.baseline_correct[0] == 1 and np.isfinite(digest.correct_after[row]):
            trials += 1
            breaks += int(digest.correct_after[row] == 0)
    return ThoughtEffect(label, rate_with_ci(breaks, trials), rate_with_ci(changed, len(deltas)), mean_with_ci(deltas))


def _condition_rows(digest: LatentAblationExample, condition: tuple[int, int, int], thoughts) -> np.ndarray:
    method, site, recompute = condition
    return np.flatnonzero((digest.method == method) & (digest.site == site) & (digest.recompute == recompute)
                          & (digest.thoughts == np.asarray(thoughts)).all(axis=1))


def summarize_latent_ablation(trajectories, digests: list[LatentAblationExample], options) -> LatentAblationSummary:
    """Per condition and thought: correct -> wrong (Wilson), answer changed (Wilson), mean log-prob change (t);
    the examples x thoughts importance under the first condition, and attention against it per layer."""
    k = max((len(t.latent_segments) for t in trajectories), default=0)
    conditions = [(m, site, int(later == "recompute")) for m in range(len(options.methods)) for site in options.sites
                  for later in options.later]
    records = [_latent_condition(digests, condition, k, options) for condition in conditions]
    importance = _importance(digests, conditions[0], k) if conditions else np.full((len(digests), k), np.nan)
    correlations = _thought_correlations(digests, records[0], importance) if digests and records else None
    return LatentAblationSummary(
        thoughts=k, n_examples=len(digests), n_correct=sum(int(d.baseline_correct[0] == 1) for d in digests),
        conditions=tuple(records), example_ids=tuple(t.example_id for t in trajectories),
        importance=tuple(tuple(float(v) if np.isfinite(v) else None for v in row) for row in importance),
        attention_vs_importance=correlations)


def _thought_correlations(digests: list[LatentAblationExample], first: LatentCondition,
                          importance: np.ndarray) -> AttentionImportance:
    labels = [f"thought {i + 1}" for i in range(importance.shape[1])]
    return AttentionImportance(
        x="attention mass on the thought from the positions that decode the answer (mean over heads)",
        y=f"importance: drop in the unedited answer's log-probability ({first.method} at {first.site}, "
          f"later thoughts {first.later})",
        by_layer=layer_correlations(np.stack([d.attention for d in digests]), importance, labels))


def _latent_condition(digests: list[LatentAblationExample], condition: tuple[int, int, int], k: int,
                      options) -> LatentCondition:
    singles = [[i, -1] for i in range(k)]
    pairs = [[i, j] for i in range(k) for j in range(i + 1, k)] if options.pairs else []
    effects = [tuple(_effect(digests, [_condition_rows(d, condition, t) for d in digests], _thought_label(t))
                     for t in group) for group in (singles, pairs)]
    method, site, recompute = condition
    return LatentCondition(options.methods[method], "input" if site < 0 else f"layer {site}",
                           "recompute" if recompute else "keep", effects[0], effects[1])


def _importance(digests: list[LatentAblationExample], condition: tuple[int, int, int], k: int) -> np.ndarray:
    """[example, thought] drop in the unedited answer's log-probability under ``condition`` (NaN: not measured)."""
    importance = np.full((len(digests), k), np.nan)
    for row, digest in enumerate(digests):
        for thought in range(k):
            found = _condition_rows(digest, condition, [thought, -1])
            if len(found):
                importance[row, thought] = -float(digest.delta_logprob[found[0]])
    return importance
