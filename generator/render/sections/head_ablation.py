"""Sections of head ablation: the layers x heads map of what each head's removal costs, and the top heads."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render.context import SiteContext, plot_target
from generator.render.readings.interventions import heads_reading
from generator.render.readings.words import percent, share
from generator.render.sections.base import dataset_heatmap, format_number, small_matrix
from generator.results.behaviour import Behaviour
from generator.results.head_ablation import HeadAblationExample, HeadAblationSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def interval_text(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:.3g} to {high:.3g}"


def _labels(grid: np.ndarray) -> tuple[list[str], list[str]]:
    return [f"layer {i}" for i in range(grid.shape[0])], [f"head {h}" for h in range(grid.shape[1])]


def baseline_share(summary: HeadAblationSummary) -> str:
    """``23 of 24 (96%, 95% CI 80–99%)``: the scored examples whose answer is the model's first choice unablated
    (the summary keeps the rate of 0/1 outcomes, so the count is exact)."""
    if summary.baseline_correct_rate is None or not summary.n_scored:
        return "none measured"
    return share(round(summary.baseline_correct_rate * summary.n_scored), summary.n_scored)


def head_ablation_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                          page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, HeadAblationSummary)
    if summary is None:
        return None
    context: dict[str, Any] = {"summary": summary, "map": None,
                               "behaviour": Behaviour.parse(summary.behaviour),
                               "baseline": baseline_share(summary),
                               "reading": heads_reading(summary),
                               "top": [{"layer": t.layer, "head": t.head, "delta": format_number(t.mean_delta_logprob),
                                        "ci": interval_text(t.ci_low, t.ci_high), "p": format_number(t.p_adjusted, 2),
                                        "rate": percent(t.correct_rate)} for t in summary.top_heads],
                               "specific": [{"layer": t.layer, "head": t.head,
                                             "behaviour": format_number(t.behaviour_delta),
                                             "expected": format_number(t.expected_delta),
                                             "difference": format_number(t.specificity),
                                             "ci": interval_text(t.ci_low, t.ci_high),
                                             "p": format_number(t.p_adjusted, 2)} for t in summary.specific_heads]}
    if summary.mean_delta_logprob is not None:
        grid = np.array(summary.mean_delta_logprob, dtype=np.float32)
        layers, heads = _labels(grid)
        context["map"], context["figure"] = dataset_heatmap(  # signed: a diverging map, white at zero
            site, run, dataset, page_dir, "head-ablation", grid, layers, heads,
            f"Change in the answer's log-probability, each head ablated ({summary.method})",
            "mean Δ log p (−: the head matters)")
    return context


def head_ablation_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, HeadAblationExample)
    if result is None or np.isnan(result.baseline[0]):
        return None
    layers, heads = _labels(result.delta_logprob)
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "head-ablation")
    summary = run.summary(trajectory.dataset, HeadAblationSummary)
    return {"baseline": format_number(float(result.baseline[0])),
            "behaviour": Behaviour.parse(summary.behaviour if summary else "correct"),
            "asked_as": summary.template if summary else None,
            "map": small_matrix(result.delta_logprob, layers, heads, target,
                                "Change in the answer's log-probability", "Δ log p (−: the head matters)")}
