"""Sections of latent ablation: what replacing each continuous thought costs, and whether attention predicts it.

The dataset page carries seed 001's four figures over thoughts (importance by position, examples x
thoughts, attention versus importance per layer, correlation within each position) and a sentence
computed from the numbers, with its interval and n, that says "inconclusive" when the interval
holds zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import (attention_importance, dataset_heatmap, embed, finite_or_nan,
                                            mean_text, pooled_caveat, rate_text,
                                            small_matrix)
from generator.results.latent_ablation import LatentAblationExample, LatentAblationSummary, LatentCondition
from generator.results.statistics import MeanWithCI
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def condition_name(condition: LatentCondition) -> str:
    return f"{condition.method} at {condition.site}, later thoughts {condition.later}"


def reading(summary: LatentAblationSummary) -> str:
    """The sentence the page prints about the first condition, computed from its numbers."""
    condition = summary.conditions[0]
    drops = [(e, e.delta_logprob) for e in condition.singles if e.delta_logprob.mean is not None]
    if not drops:
        return "No thought could be scored, so nothing is measured: the result is inconclusive."
    effect, change = min(drops, key=lambda item: item[1].mean)  # the largest drop: the most negative change
    if change.mean >= 0:
        return (f"With {condition_name(condition)}, no replacement lowered the log-probability of the model's own "
                f"answer on average (the lowest mean change, for {effect.thought}: {mean_text(change)}).")
    sure = change.ci_high is not None and change.ci_high < 0
    parts = [f"With {condition_name(condition)}, replacing {effect.thought} lowers the log-probability of the "
             f"model's own answer the most: {mean_text(change)}"]
    parts.append("; its interval excludes zero." if sure else
                 "; its interval includes zero (or n < 2), so this is inconclusive.")
    broken = max(condition.singles, key=lambda e: (e.breaks.rate or 0.0))
    if summary.n_correct and broken.breaks.k == 0:
        parts.append(f" No replacement of one thought turned a right answer wrong (0 of {broken.breaks.n} for each; "
                     f"Wilson upper bound {broken.breaks.ci_high:.0%}).")
    elif summary.n_correct:
        parts.append(f" Answers that went from correct to wrong: most often after replacing {broken.thought}, "
                     f"{rate_text(broken.breaks)} of the {summary.n_correct} answered correctly.")
    else:
        parts.append(" No example was answered correctly without an edit, so correct → wrong is not measured.")
    return "".join(parts)


def latent_ablation_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                            page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, LatentAblationSummary)
    if summary is None or not summary.conditions:
        return None
    labels = [f"thought {i + 1}" for i in range(summary.thoughts)]
    first = summary.conditions[0]
    context: dict[str, Any] = {"summary": summary, "reading": reading(summary), "first": condition_name(first),
                               "rows": _table(summary), "correlation": None, "pooled": []}
    drops = {e.thought: MeanWithCI(e.delta_logprob.n, *(None if v is None else -v for v in (
        e.delta_logprob.mean, e.delta_logprob.ci_high, e.delta_logprob.ci_low))) for e in first.singles}
    base = plot_target(run, dataset, "latent_ablation")
    context["bars"] = embed(plots.bars_with_ci({first.method: drops}, f"{base}-bars", "Importance of each thought",
                                               "drop in answer log-prob (+: the thought matters)"))
    written = figures.bars_with_ci(labels, [finite_or_nan(drops[t].mean) for t in labels],
                                   [finite_or_nan(drops[t].ci_low) for t in labels],
                                   [finite_or_nan(drops[t].ci_high) for t in labels],
                                   site.docs_dir / page_dir / "figures" / "thought-importance-by-position",
                                   f"{dataset}: importance of each thought", "drop in answer log-prob")
    context["bars_figure"] = site.figure("thought-importance-by-position", run.name, dataset, None, written, page_dir)
    grid = np.array([[np.nan if v is None else v for v in row] for row in summary.importance], dtype=np.float32)
    context["heatmap"], context["heatmap_figure"] = dataset_heatmap(
        site, run, dataset, page_dir, "thought-importance-heatmap", grid.reshape(len(summary.example_ids), -1),
        list(summary.example_ids), labels, "Importance: examples x thoughts", "drop in answer log-prob")
    stats = summary.attention_vs_importance
    if stats is not None:
        context["correlation"] = attention_importance(site, run, dataset, page_dir, stats, labels,
                                                      analysis="latent_ablation", prefix="thought-")
        context["pooled"] = pooled_caveat(stats)
    return context


def _table(summary: LatentAblationSummary) -> list[dict[str, str]]:
    rows = []
    for condition in summary.conditions:
        for effect in condition.singles + condition.pairs:
            rows.append({"condition": condition_name(condition), "thought": effect.thought,
                         "breaks": rate_text(effect.breaks), "changes": rate_text(effect.changes),
                         "delta": mean_text(effect.delta_logprob)})
    return rows


def latent_ablation_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str
                            ) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, LatentAblationExample)
    summary = run.summary(trajectory.dataset, LatentAblationSummary)
    if result is None or summary is None:
        return None
    k = len(trajectory.latent_segments)
    rows, names = [], []
    for condition in summary.conditions:
        method = list(dict.fromkeys(c.method for c in summary.conditions)).index(condition.method)
        site_code = -1 if condition.site == "input" else int(condition.site.split()[-1])
        pick = (result.method == method) & (result.site == site_code) & (
            result.recompute == int(condition.later == "recompute")) & (result.thoughts[:, 1] == -1)
        row = np.full(k, np.nan, dtype=np.float32)
        for index in np.flatnonzero(pick):
            row[int(result.thoughts[index, 0])] = -result.delta_logprob[index]
        rows.append(row)
        names.append(condition_name(condition))
    labels = [f"thought {i + 1}" for i in range(k)]
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "latent_ablation")
    layers = [f"layer {i}" for i in range(result.attention.shape[0])]
    return {"changed": int(np.nansum(result.answer_changed)), "edits": len(result.answer_changed),
            "map": small_matrix(np.stack(rows), names, labels, target, "Drop in answer log-prob when replaced",
                                "drop"),
            "attention": small_matrix(result.attention, layers, labels, f"{target}-attention",
                                      "Attention on each thought from the answer", "mass", 0.0, None)}
