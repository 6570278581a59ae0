"""Sections of the feature-activation analysis: Neuronpedia-style strips and heatmaps."""

from __future__ import annotations


import numpy as np

from generator.render import plots
from generator.render.sections.base import DATASET_SECTIONS, EXAMPLE_SECTIONS, format_number, embed, stored_result
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def _feature_label(labels: dict, feature: int, source: str) -> str:
    return labels.get(str(feature)) or f"{'neuron' if source == 'MLP neurons' else 'feature'} {feature}"


def features_example(site, run: Run, trajectory: Trajectory, page_dir: str):
    from generator.render.token_strips import strip_rows

    dataset = trajectory.dataset
    stored = stored_result(run, trajectory, "features")
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
        strips.append({"label": _feature_label(labels, int(ids[column]), source), "max": format_number(peak),
                       "rows": strip_rows(trajectory.tokens, values[:, column], peak, per_row, show)})
    shown = values[:, [int(c) for c in order]].T  # [feature, token]
    token_labels = [f"{i}:{plots.display_token(t)}" for i, t in enumerate(trajectory.tokens)]
    item = plots.matrix_heatmap(shown, [s["label"] for s in strips], token_labels,
                                f"atlas-{run.name}-{dataset}-{trajectory.example_id}-features",
                                "Features x tokens", "activation", 0.0)
    return {"template": "_section_features_example.md.j2", "source": source, "strips": strips, "heatmap": embed(item)}


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
        features.append({"label": _feature_label(labels, feature, source), "max": format_number(peak), "examples": [
            {"id": t.example_id, "href": f"examples/{t.example_id}.html", "max": format_number(p),
             "rows": strip_rows(t.tokens, v, peak, per_row, show)} for p, t, v in entries]})
    return {"template": "_section_features_dataset.md.j2", "source": source, "features": features}


DATASET_SECTIONS.register("features", features_dataset)
EXAMPLE_SECTIONS.register("features", features_example)
