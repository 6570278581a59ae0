"""Small statistics shared by analyses: means with confidence intervals, correlations, rates."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def mean_with_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean and a t-distribution confidence interval (None where n < 2)."""
    from scipy import stats

    data = np.asarray([float(v) for v in values], dtype=np.float64)
    n = len(data)
    if n == 0:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
    mean = float(data.mean())
    if n < 2 or float(data.std(ddof=1)) == 0.0:
        return {"n": n, "mean": mean, "ci_low": mean if n >= 2 else None, "ci_high": mean if n >= 2 else None}
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(data))
    return {"n": n, "mean": mean, "ci_low": float(low), "ci_high": float(high)}


def rate_with_ci(successes: int, trials: int, confidence: float = 0.95) -> dict[str, Any]:
    """A proportion with its Wilson score interval."""
    from scipy import stats

    if trials == 0:
        return {"k": 0, "n": 0, "rate": None, "ci_low": None, "ci_high": None}
    interval = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return {"k": successes, "n": trials, "rate": successes / trials,
            "ci_low": float(interval.low), "ci_high": float(interval.high)}


def correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Pearson and Spearman correlation with p-values; None where undefined (n < 3 or constant)."""
    from scipy import stats

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    out: dict[str, Any] = {"n": int(len(x)), "pearson_r": None, "pearson_p": None, "spearman_rho": None,
                           "spearman_p": None, "slope": None, "intercept": None}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    fit = stats.linregress(x, y)
    out.update(pearson_r=float(pearson.statistic), pearson_p=float(pearson.pvalue),
               spearman_rho=float(spearman.statistic), spearman_p=float(spearman.pvalue),
               slope=float(fit.slope), intercept=float(fit.intercept))
    return out


def attention_importance_statistics(trajectories, ablation_results, attention_results, labels_by_example,
                                    positions) -> dict[str, Any]:
    """Per layer: does the attention the answer pays a part predict the part's importance?

    x = attention mass from the answer's tokens onto the part, averaged over heads;
    y = importance = loss in log-probability of the answer when the part is ablated (first
    method, first ablation layer). Overall and per position (step 1, step 2, ...).
    """
    n_layers = attention_results[0]["answer_segment_mass"].shape[0]
    by_layer = []
    for layer in range(n_layers):
        xs, ys, where = [], [], []
        for ablation, attention, labels in zip(ablation_results, attention_results, labels_by_example):
            mass = attention["answer_segment_mass"][layer].mean(axis=0)  # [segment]
            for p_index, segment in enumerate(ablation["part_segments"]):
                xs.append(float(mass[int(segment)]))
                ys.append(float(-ablation["delta_logprob"][0, 0, p_index]))
                where.append(labels[p_index])
        entry = {"layer": layer, **correlation(xs, ys), "points": {"attention": xs, "importance": ys, "part": where},
                 "by_position": {label: correlation([x for x, w in zip(xs, where) if w == label],
                                                    [y for y, w in zip(ys, where) if w == label]) for label in positions}}
        by_layer.append(entry)
    return {"x": "attention mass from the answer onto the part (mean over heads)",
            "y": "importance: drop in log-probability of the expected answer when the part is ablated",
            "by_layer": by_layer}
