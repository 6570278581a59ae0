"""Sections of the ablation analysis: importance, attention versus importance, per-example effects."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.attention import ablation_reading
from generator.render.sections.base import (attention_importance, embed, finite_or_nan, format_number, no_steps_note,
                                            pooled_caveat)
from generator.render.step_order import in_step_order
from generator.results.ablation import AblationExample, AblationSummary
from generator.results.attention import AttentionExample
from generator.results.statistics import MeanWithCI
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def ablation_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.summary(dataset, AblationSummary)
    if summary is None:
        return None
    base = plot_target(run, dataset, "ablation")
    figure_dir = site.docs_dir / page_dir / "figures"
    methods, parts = list(summary.methods), list(summary.parts)
    importance = {method: in_step_order(by_part, parts)  # run files keep dicts sorted as text: "step 10" first
                  for method, by_part in in_step_order(summary.importance_by_position, methods).items()}
    context: dict[str, Any] = {"methods": methods, "reading": ablation_reading(summary),
                               "layers": summary.layers}
    if not parts:  # no example had a part to remove: the reading says so, and there is nothing to draw
        return {**context, "bars": None, "bars_figure": None, "heatmap": None, "heatmap_figure": None,
                "correlation": None, "pooled": []}
    context["bars"] = embed(plots.bars_with_ci(importance, f"{base}-bars", "Importance by position",
                                               "drop in answer log-prob (+: the part matters)"))
    first = importance[methods[0]]
    written = figures.bars_with_ci(parts, [finite_or_nan(first[p].mean) for p in parts],
                                   [finite_or_nan(first[p].ci_low) for p in parts],
                                   [finite_or_nan(first[p].ci_high) for p in parts],
                                   figure_dir / "importance-by-position", f"{dataset}: importance ({methods[0]})",
                                   "drop in answer log-prob")
    context["bars_figure"] = site.figure("importance-by-position", run.name, dataset, None, written, page_dir)
    # examples x parts, first method and first ablation layer
    matrix = _importance_matrix(run, dataset, trajectories, parts)
    ids = [t.example_id for t in trajectories]
    context["heatmap"] = embed(plots.matrix_heatmap(matrix, ids, parts, f"{base}-heatmap",
                                                    f"Importance ({methods[0]}), examples x parts", "importance"))
    written = figures.matrix_heatmap(matrix, ids, parts, figure_dir / "importance-heatmap",
                                     f"{dataset}: importance ({methods[0]})", "drop in answer log-prob")
    context["heatmap_figure"] = site.figure("importance-heatmap", run.name, dataset, None, written, page_dir)
    stats = summary.attention_vs_importance
    context["correlation"] = attention_importance(site, run, dataset, page_dir, stats, parts) if stats else None
    context["pooled"] = pooled_caveat(stats) if stats else []
    return context


def _importance_matrix(run: Run, dataset: str, trajectories: list[Trajectory], parts: list[str]) -> np.ndarray:
    """[example, part] importance (first method, first layer); NaN where an example lacks the part."""
    matrix = np.full((len(trajectories), len(parts)), np.nan, dtype=np.float32)
    for row, t in enumerate(trajectories):
        result = run.result(dataset, t.example_id, AblationExample)
        if result is None:
            continue
        names = [t.segments[int(i)].name for i in result.part_segments]
        for p_index, name in enumerate(names):
            if name in parts:
                matrix[row, parts.index(name)] = result.importance()[p_index]
    return matrix


def ablation_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    result = run.result(dataset, trajectory.example_id, AblationExample)
    if result is None:
        return None
    if result.part_segments.size == 0:
        return {"no_steps": no_steps_note(trajectory, "nothing was ablated and the example adds nothing to the "
                                          "dataset's importance", "part to ablate")}
    summary = run.summary(dataset, AblationSummary)
    methods = list(summary.methods) if summary else [f"method {i}" for i in range(result.delta_logprob.shape[0])]
    parts = [trajectory.segments[int(i)].name for i in result.part_segments]
    attention = _answer_attention(run, trajectory, result)
    effects = _effects(result, methods, parts)
    rows = [{"part": part, "effects": effects[p_index], "attention": attention[p_index] if attention else None}
            for p_index, part in enumerate(parts)]
    series = {method: {part: MeanWithCI(1, float(result.importance(m_index)[p]), None, None)
                       for p, part in enumerate(parts)} for m_index, method in enumerate(methods)}
    figure = _example_figure(site, run, trajectory, result, parts, methods[0], page_dir) \
        if parts and site.example_figures else None
    return {"rows": rows, "figure": figure,
            "baseline": format_number(float(result.baseline_logprob[0])),
            "n_layers": None if attention is None else len(attention[0]) if attention else 0,
            "bars": embed(plots.bars_with_ci(series, plot_target(run, dataset, trajectory.example_id, "ablation"),
                                             "Ablation effect per part", "drop in answer log-prob")) if parts else None}


def _example_figure(site: SiteContext, run: Run, trajectory: Trajectory, result: AblationExample,
                    parts: list[str], method: str, page_dir: str):
    """The static figure of one example's drops (first method), when the build asked for example figures."""
    first = [float(v) for v in result.importance()]
    written = figures.bars_with_ci(parts, first, first, first,
                                   site.docs_dir / page_dir / "figures" / f"{trajectory.example_id}-ablation",
                                   f"{trajectory.example_id}: ablation ({method})", "drop in answer log-prob")
    return site.figure("ablation-effect", run.name, trajectory.dataset, trajectory.example_id, written, page_dir)


def _answer_attention(run: Run, trajectory: Trajectory, result: AblationExample) -> list[list[str]] | None:
    """Per part, per layer: the answer's attention to the part's segment (mean over heads), when measured."""
    attention_result = run.result(trajectory.dataset, trajectory.example_id, AttentionExample)
    if attention_result is None:
        return None
    mass = attention_result.answer_segment_mass  # [layer, head, segment]
    return [[format_number(float(mass[l, :, int(s)].mean())) for l in range(mass.shape[0])]
            for s in result.part_segments]


def _effects(result: AblationExample, methods: list[str], parts: list[str]) -> list[list[tuple[str, str, str]]]:
    """Per part: (method and layer, drop in log-probability, still correct?) for every ablation that ran."""
    layers = [int(x) for x in result.layers]
    by_part = []
    for p_index in range(len(parts)):
        effects = []
        for m_index, method in enumerate(methods):
            for l_index, layer in enumerate(layers):
                if method == "knockout" and l_index > 0:
                    continue
                value = result.delta_logprob[m_index, l_index, p_index]
                stays = result.stays_correct[m_index, l_index, p_index]
                label = method if method == "knockout" else f"{method} @ layer {layer}"
                kept = "–" if not np.isfinite(stays) else ("yes" if stays else "no")
                effects.append((label, format_number(float(-value)), kept))
        by_part.append(effects)
    return by_part
