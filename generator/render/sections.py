"""Page sections of the causal analyses (ablation, patching, formats), one function per page kind.

A section function reads what its analysis stored and returns a template name and context,
or None when the run has nothing for it; registering one is all it takes to add a section.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from generator.registry import Registry
from generator.render import figures, plots
from generator.store.records import Trajectory
from generator.store.run_directory import Run

DatasetSection = Callable[["object", Run, str, list[Trajectory], str], dict[str, Any] | None]
ExampleSection = Callable[["object", Run, Trajectory, str], dict[str, Any] | None]
DATASET_SECTIONS: Registry[DatasetSection] = Registry("dataset section")
EXAMPLE_SECTIONS: Registry[ExampleSection] = Registry("example section")


def _item(item: dict) -> dict[str, str]:
    from generator.render.pages import plot_item

    return plot_item(item)


def _stored(run: Run, trajectory: Trajectory, analysis: str) -> tuple[dict, dict] | None:
    """An example's tensors of ``analysis`` and the dataset's summary of it, or None if it did not run."""
    if not run.has_tensors(trajectory.dataset, trajectory.example_id, analysis):
        return None
    return (run.tensors(trajectory.dataset, trajectory.example_id, analysis),
            run.dataset_result(trajectory.dataset, analysis) or {})


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}g}"


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
    context["bars"] = _item(plots.bars_with_ci(importance, f"{base}-bars", "Importance by position",
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
    context["heatmap"] = _item(plots.matrix_heatmap(matrix, ids, parts, f"{base}-heatmap",
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
            "scatter": _item(plots.scatter_by_layer(panels, f"{base}-scatter", "attention from answer", "importance")),
            "figure": site.figure("attention-vs-importance", run.name, dataset, None, written, page_dir),
            "by_position": None,
            "rows": [{"layer": e["layer"], "n": e["n"], "pearson_r": _fmt(e["pearson_r"]), "pearson_p": _fmt(e["pearson_p"]),
                      "spearman_rho": _fmt(e["spearman_rho"]), "spearman_p": _fmt(e["spearman_p"]),
                      "by_position": [(label, _fmt(c["pearson_r"]), c["n"]) for label, c in e["by_position"].items()]}
                     for e in stats["by_layer"]],
        }
        # correlation by position: Pearson r per layer (rows) and step (columns)
        r = np.array([[np.nan if e["by_position"][p]["pearson_r"] is None else e["by_position"][p]["pearson_r"]
                       for p in parts] for e in stats["by_layer"]], dtype=np.float32)
        layers = [f"layer {e['layer']}" for e in stats["by_layer"]]
        written = figures.matrix_heatmap(r, layers, parts, figure_dir / "correlation-by-position",
                                         f"{dataset}: attention-importance r by position", "Pearson r")
        context["correlation"]["by_position"] = {
            "plot": _item(plots.matrix_heatmap(r, layers, parts, f"{base}-by-position",
                                               "Pearson r by position (grey: undefined)", "r", -1.0, 1.0)),
            "figure": site.figure("correlation-by-position", run.name, dataset, None, written, page_dir)}
    return context


def patching_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.dataset_result(dataset, "patching")
    if summary is None:
        return None
    context: dict[str, Any] = {"template": "_section_patching_dataset.md.j2", "summary": summary, "grid": None,
                               "item_flips": None}
    if summary.get("informative_items"):
        base = f"atlas-{run.name}-{dataset}-patching"
        figure_dir = site.docs_dir / page_dir / "figures"
        grid = np.array(summary["flip_rate"], dtype=np.float32)
        layers = [f"layer {i}" for i in range(grid.shape[0])]
        context["grid"] = _item(plots.matrix_heatmap(grid, layers, summary["components"], f"{base}-grid",
                                                     "Flip rate: patched component -> clean behaviour", "flip rate", 0.0, 1.0))
        written = figures.matrix_heatmap(grid, layers, summary["components"], figure_dir / "patching-grid",
                                         f"{dataset}: patching flip rate", "flip rate")
        context["grid_figure"] = site.figure("patching-grid", run.name, dataset, None, written, page_dir)
        context["heads"] = None
        if "head_flip_rate" in summary:
            heads = np.array(summary["head_flip_rate"], dtype=np.float32)
            head_labels = [f"head {h}" for h in range(heads.shape[1])]
            context["heads"] = _item(plots.matrix_heatmap(heads, layers, head_labels, f"{base}-heads",
                                                          "Flip rate per head (attention output)", "flip rate", 0.0, 1.0))
            written = figures.matrix_heatmap(heads, layers, head_labels, figure_dir / "patching-heads",
                                             f"{dataset}: per-head patching flip rate", "flip rate")
            context["heads_figure"] = site.figure("patching-heads", run.name, dataset, None, written, page_dir)
        items = summary.get("flips_by_item", {})
        if items:
            columns = [f"L{l} {c}" for l in range(grid.shape[0]) for c in summary["components"]]
            by_item = np.array([np.array(v, dtype=np.float32).ravel() for v in items.values()])
            context["item_flips"] = _item(plots.matrix_heatmap(by_item, list(items), columns, f"{base}-items",
                                                          "Flips item by item (1 = flipped)", "flipped", 0.0, 1.0))
        context["rows"] = [{"layer": l, "cells": [
            f"{100 * c['rate']:.0f}% ({c['k']}/{c['n']}, CI {100 * c['ci_low']:.0f}–{100 * c['ci_high']:.0f}%)"
            for c in row]} for l, row in enumerate(summary["flip_rate_ci"])]
    return context


def formats_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.dataset_result(dataset, "formats")
    if summary is None:
        return None

    def cell(rate):
        if not rate or rate["rate"] is None:
            return "–"
        return f"{100 * rate['rate']:.1f}% ({rate['k']}/{rate['n']}; 95% CI {100 * rate['ci_low']:.0f}–{100 * rate['ci_high']:.0f}%)"

    rows = [{"format": r["format"], "template": r["template"], "note": r.get("note"),
             "correct": cell(r.get("correct")), "bug": cell(r.get("bug"))} for r in summary["formats"]]
    measured = [r for r in summary["formats"] if "correct" in r]
    context: dict[str, Any] = {"template": "_section_formats_dataset.md.j2", "rows": rows,
                               "bug_field": summary["bug_field"], "bars": None}
    if measured:
        series = {"correct": {r["format"]: {"mean": r["correct"]["rate"], "ci_low": r["correct"]["ci_low"],
                                            "ci_high": r["correct"]["ci_high"], "n": r["correct"]["n"]} for r in measured},
                  "bug": {r["format"]: {"mean": r["bug"]["rate"], "ci_low": r["bug"]["ci_low"],
                                        "ci_high": r["bug"]["ci_high"], "n": r["bug"]["n"]} for r in measured}}
        context["bars"] = _item(plots.bars_with_ci(series, f"atlas-{run.name}-{dataset}-formats", "Rate by format", "rate"))
        names = [r["format"] for r in measured]
        written = figures.bars_with_ci(names, [r["bug"]["rate"] if r["bug"]["rate"] is not None else np.nan for r in measured],
                                       [r["bug"]["ci_low"] if r["bug"]["ci_low"] is not None else np.nan for r in measured],
                                       [r["bug"]["ci_high"] if r["bug"]["ci_high"] is not None else np.nan for r in measured],
                                       site.docs_dir / page_dir / "figures" / "format-bug-rates",
                                       f"{dataset}: '{summary['bug_field']}' answers by format", "rate")
        context["bars_figure"] = site.figure("format-bug-rates", run.name, dataset, None, written, page_dir)
    return context


def ablation_example(site, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    stored = _stored(run, trajectory, "ablation")
    if stored is None:
        return None
    tensors, summary = stored
    methods = summary.get("methods", [f"method {i}" for i in range(tensors["delta_logprob"].shape[0])])
    layers = [int(x) for x in tensors["layers"]]
    parts = [trajectory.segments[int(i)].name for i in tensors["part_segments"]]
    attention = None
    if run.has_tensors(dataset, trajectory.example_id, "attention"):
        mass = run.tensors(dataset, trajectory.example_id, "attention")["answer_segment_mass"]  # [layer, head, segment]
        attention = [[_fmt(float(mass[l, :, int(s)].mean())) for l in range(mass.shape[0])] for s in tensors["part_segments"]]
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
                effects.append((label, _fmt(float(-value)), "–" if not np.isfinite(stays) else ("yes" if stays else "no")))
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
            "baseline": _fmt(float(tensors["baseline_logprob"][0])),
            "n_layers": None if attention is None else len(attention[0]) if attention else 0,
            "bars": _item(plots.bars_with_ci(series, f"atlas-{run.name}-{dataset}-{trajectory.example_id}-ablation",
                                             "Ablation effect per part", "drop in answer log-prob")) if parts else None}


DATASET_SECTIONS.register("ablation", ablation_dataset)
DATASET_SECTIONS.register("formats", formats_dataset)
DATASET_SECTIONS.register("patching", patching_dataset)
EXAMPLE_SECTIONS.register("ablation", ablation_example)


def salience_example(site, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    stored = _stored(run, trajectory, "salience")
    if stored is None or stored[0]["salience"].shape[-1] == 0:
        return None
    tensors = stored[0]
    steps = [trajectory.segments[int(i)] for i in tensors["step_segments"]]
    hover = [f"{s.name}: {plots.display_token(trajectory.text[s.char_start:s.char_end])}" for s in steps]
    values = np.moveaxis(tensors["salience"], 2, 0)  # [step, layer, head]
    item = plots.layer_head_heatmap(values, [s.name for s in steps], f"atlas-{run.name}-{dataset}-{trajectory.example_id}-salience",
                                    "Salience of", "mass", hover, layer_labels=[int(x) for x in tensors["layers"]])
    return {"template": "_section_salience_example.md.j2", "plot": _item(item)}


def salience_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.dataset_result(dataset, "salience")
    if summary is None or not summary["mean_by_step"]:
        return None
    figure_dir = site.docs_dir / page_dir / "figures"
    steps = list(summary["mean_by_step"])
    layers = summary["layers"]
    means = np.stack([np.array(summary["mean_by_step"][s], dtype=np.float32) for s in steps])
    item = plots.layer_head_heatmap(means, steps, f"atlas-{run.name}-{dataset}-salience-mean", "Mean salience of",
                                    "mass", layer_labels=layers)
    grids_by_step = []
    for step in steps:
        grids, titles = [], []
        for t in trajectories:
            if not run.has_tensors(dataset, t.example_id, "salience"):
                continue
            tensors = run.tensors(dataset, t.example_id, "salience")
            names = [t.segments[int(i)].name for i in tensors["step_segments"]]
            if step in names:
                grids.append(tensors["salience"][:, :, names.index(step)])
                titles.append(t.example_id)
        if grids:
            slug = step.replace(" ", "-")
            written = figures.small_multiples(grids, titles, figure_dir / f"salience-{slug}",
                                              f"{dataset}: salience of {step} (layers down, heads across)", "mass",
                                              high=summary["max"])
            grids_by_step.append({"step": step, "figure": site.figure(f"salience-{slug}", run.name, dataset, None,
                                                                      written, page_dir)})
    return {"template": "_section_salience_dataset.md.j2", "plot": _item(item), "span": summary["span"],
            "layers": layers, "grids": grids_by_step}


DATASET_SECTIONS.register("salience", salience_dataset)
EXAMPLE_SECTIONS.register("salience", salience_example)


def _feature_label(labels: dict, feature: int, source: str) -> str:
    return labels.get(str(feature)) or f"{'neuron' if source == 'MLP neurons' else 'feature'} {feature}"


def features_example(site, run: Run, trajectory: Trajectory, page_dir: str):
    from generator.render.token_strips import strip_rows

    dataset = trajectory.dataset
    stored = _stored(run, trajectory, "features")
    if stored is None:
        return None
    tensors, summary = stored
    per_row, show = int(summary.get("tokens_per_row", 20)), bool(summary.get("show_values", True))
    top_k = int(summary.get("top_k", 8))
    values, ids = tensors["activations"], tensors["feature_ids"]
    order = list(tensors["own_top"]) if "own_top" in tensors else list(np.argsort(-values.max(0), kind="stable")[:top_k])
    source, labels = summary.get("source", "features"), summary.get("feature_labels", {})
    strips = []
    for column in order:
        column = int(column)
        peak = float(values[:, column].max())
        strips.append({"label": _feature_label(labels, int(ids[column]), source), "max": _fmt(peak),
                       "rows": strip_rows(trajectory.tokens, values[:, column], peak, per_row, show)})
    shown = values[:, [int(c) for c in order]].T  # [feature, token]
    token_labels = [f"{i}:{plots.display_token(t)}" for i, t in enumerate(trajectory.tokens)]
    item = plots.matrix_heatmap(shown, [s["label"] for s in strips], token_labels,
                                f"atlas-{run.name}-{dataset}-{trajectory.example_id}-features",
                                "Features x tokens", "activation", 0.0)
    return {"template": "_section_features_example.md.j2", "source": source, "strips": strips, "heatmap": _item(item)}


def features_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    from generator.render.token_strips import strip_rows

    summary = run.dataset_result(dataset, "features")
    if summary is None:
        return None
    per_row, show, top_k = int(summary.get("tokens_per_row", 20)), bool(summary.get("show_values", True)), int(summary.get("top_k", 8))
    source, labels = summary.get("source", "features"), summary.get("feature_labels", {})
    peaks: dict[int, list[tuple[float, Trajectory, np.ndarray]]] = {}
    for t in trajectories:
        if not run.has_tensors(dataset, t.example_id, "features"):
            continue
        tensors = run.tensors(dataset, t.example_id, "features")
        for column, feature in enumerate(tensors["feature_ids"]):
            column_values = tensors["activations"][:, column]
            peaks.setdefault(int(feature), []).append((float(column_values.max()), t, column_values))
    ranked = sorted(peaks, key=lambda f: -max(p for p, _, _ in peaks[f]))[:top_k]
    features = []
    for feature in ranked:
        entries = sorted(peaks[feature], key=lambda e: -e[0])
        peak = entries[0][0]
        features.append({"label": _feature_label(labels, feature, source), "max": _fmt(peak), "examples": [
            {"id": t.example_id, "href": f"examples/{t.example_id}.html", "max": _fmt(p),
             "rows": strip_rows(t.tokens, v, peak, per_row, show)} for p, t, v in entries]})
    return {"template": "_section_features_dataset.md.j2", "source": source, "features": features}


DATASET_SECTIONS.register("features", features_dataset)
EXAMPLE_SECTIONS.register("features", features_example)
