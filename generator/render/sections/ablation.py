"""Sections of the ablation analysis: importance, attention versus importance, per-example effects."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.sections.base import DATASET_SECTIONS, EXAMPLE_SECTIONS, format_number, embed, stored_result
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def ablation_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.dataset_result(dataset, "ablation")
    if summary is None:
        return None
    base = f"atlas-{run.name}-{dataset}-ablation"
    figure_dir = site.docs_dir / page_dir / "figures"
    methods, parts = summary["methods"], summary["parts"]
    importance = summary["importance_by_position"]
    context: dict[str, Any] = {"template": "_section_ablation_dataset.md.j2", "methods": methods,
                               "layers": summary["layers"]}
    context["bars"] = embed(plots.bars_with_ci(importance, f"{base}-bars", "Importance by position",
                                               "drop in answer log-prob"))
    first = importance[methods[0]]
    written = figures.bars_with_ci(parts, [first[p]["mean"] if first[p]["mean"] is not None else np.nan for p in parts],
                                   [first[p]["ci_low"] if first[p]["ci_low"] is not None else np.nan for p in parts],
                                   [first[p]["ci_high"] if first[p]["ci_high"] is not None else np.nan for p in parts],
                                   figure_dir / "importance-by-position", f"{dataset}: importance ({methods[0]})",
                                   "drop in answer log-prob")
    context["bars_figure"] = site.figure("importance-by-position", run.name, dataset, None, written, page_dir)
    # examples x parts, first method and first ablation layer
    matrix = np.full((len(trajectories), len(parts)), np.nan, dtype=np.float32)
    for row, t in enumerate(trajectories):
        if not run.has_tensors(dataset, t.example_id, "ablation"):
            continue
        tensors = run.tensors(dataset, t.example_id, "ablation")
        names = [t.segments[int(i)].name for i in tensors["part_segments"]]
        for p_index, name in enumerate(names):
            if name in parts:
                matrix[row, parts.index(name)] = -tensors["delta_logprob"][0, 0, p_index]
    ids = [t.example_id for t in trajectories]
    context["heatmap"] = embed(plots.matrix_heatmap(matrix, ids, parts, f"{base}-heatmap",
                                                    f"Importance ({methods[0]}), examples x parts", "importance"))
    written = figures.matrix_heatmap(matrix, ids, parts, figure_dir / "importance-heatmap",
                                     f"{dataset}: importance ({methods[0]})", "drop in answer log-prob")
    context["heatmap_figure"] = site.figure("importance-heatmap", run.name, dataset, None, written, page_dir)
    stats = summary.get("attention_vs_importance")
    context["correlation"] = None
    if stats:
        panels = [{"layer": e["layer"], "x": e["points"]["attention"], "y": e["points"]["importance"],
                   "label": e["points"]["part"], "slope": e["slope"], "intercept": e["intercept"],
                   "r": e["pearson_r"], "p": e["pearson_p"], "n": e["n"]} for e in stats["by_layer"]]
        written = figures.scatter_grid(panels, figure_dir / "attention-vs-importance", "attention from answer",
                                       "importance")
        context["correlation"] = {
            "x": stats["x"], "y": stats["y"],
            "scatter": embed(plots.scatter_by_layer(panels, f"{base}-scatter", "attention from answer", "importance")),
            "figure": site.figure("attention-vs-importance", run.name, dataset, None, written, page_dir),
            "by_position": None,
            "rows": [{"layer": e["layer"], "n": e["n"], "pearson_r": format_number(e["pearson_r"]), "pearson_p": format_number(e["pearson_p"]),
                      "spearman_rho": format_number(e["spearman_rho"]), "spearman_p": format_number(e["spearman_p"]),
                      "by_position": [(label, format_number(c["pearson_r"]), c["n"]) for label, c in e["by_position"].items()]}
                     for e in stats["by_layer"]],
        }
        # correlation by position: Pearson r per layer (rows) and step (columns)
        r = np.array([[np.nan if e["by_position"][p]["pearson_r"] is None else e["by_position"][p]["pearson_r"]
                       for p in parts] for e in stats["by_layer"]], dtype=np.float32)
        layers = [f"layer {e['layer']}" for e in stats["by_layer"]]
        written = figures.matrix_heatmap(r, layers, parts, figure_dir / "correlation-by-position",
                                         f"{dataset}: attention-importance r by position", "Pearson r")
        context["correlation"]["by_position"] = {
            "plot": embed(plots.matrix_heatmap(r, layers, parts, f"{base}-by-position",
                                               "Pearson r by position (grey: undefined)", "r", -1.0, 1.0)),
            "figure": site.figure("correlation-by-position", run.name, dataset, None, written, page_dir)}
    return context


def ablation_example(site, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    stored = stored_result(run, trajectory, "ablation")
    if stored is None:
        return None
    tensors, summary = stored
    methods = summary.get("methods", [f"method {i}" for i in range(tensors["delta_logprob"].shape[0])])
    layers = [int(x) for x in tensors["layers"]]
    parts = [trajectory.segments[int(i)].name for i in tensors["part_segments"]]
    attention = None
    if run.has_tensors(dataset, trajectory.example_id, "attention"):
        mass = run.tensors(dataset, trajectory.example_id, "attention")["answer_segment_mass"]  # [layer, head, segment]
        attention = [[format_number(float(mass[l, :, int(s)].mean())) for l in range(mass.shape[0])] for s in tensors["part_segments"]]
    rows = []
    for p_index, part in enumerate(parts):
        effects = []
        for m_index, method in enumerate(methods):
            for l_index, layer in enumerate(layers):
                if method == "knockout" and l_index > 0:
                    continue
                value = tensors["delta_logprob"][m_index, l_index, p_index]
                stays = tensors["stays_correct"][m_index, l_index, p_index]
                label = method if method == "knockout" else f"{method} @ layer {layer}"
                effects.append((label, format_number(float(-value)), "–" if not np.isfinite(stays) else ("yes" if stays else "no")))
        rows.append({"part": part, "effects": effects, "attention": attention[p_index] if attention else None})
    series = {}
    for m_index, method in enumerate(methods):
        series[method] = {part: {"mean": float(-tensors["delta_logprob"][m_index, 0, p]), "ci_low": None,
                                 "ci_high": None, "n": 1} for p, part in enumerate(parts)}
    figure = None
    if parts:
        first = [float(-tensors["delta_logprob"][0, 0, p]) for p in range(len(parts))]
        written = figures.bars_with_ci(parts, first, first, first,
                                       site.docs_dir / page_dir / "figures" / f"{trajectory.example_id}-ablation",
                                       f"{trajectory.example_id}: ablation ({methods[0]})", "drop in answer log-prob")
        figure = site.figure("ablation-effect", run.name, dataset, trajectory.example_id, written, page_dir)
    return {"template": "_section_ablation_example.md.j2", "rows": rows, "figure": figure,
            "baseline": format_number(float(tensors["baseline_logprob"][0])),
            "n_layers": None if attention is None else len(attention[0]) if attention else 0,
            "bars": embed(plots.bars_with_ci(series, f"atlas-{run.name}-{dataset}-{trajectory.example_id}-ablation",
                                             "Ablation effect per part", "drop in answer log-prob")) if parts else None}


DATASET_SECTIONS.register("ablation", ablation_dataset)
EXAMPLE_SECTIONS.register("ablation", ablation_example)
