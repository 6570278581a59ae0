"""Sections of the feature-activation analysis: Neuronpedia-style strips and heatmaps."""

from __future__ import annotations

import numpy as np

from generator.render import plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import format_number, small_matrix
from generator.render.token_strips import strip_item
from generator.results.features import FeaturesExample, FeaturesSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def features_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    result = run.result(dataset, trajectory.example_id, FeaturesExample)
    if result is None:
        return None
    summary = run.summary(dataset, FeaturesSummary) or FeaturesSummary(source="features")
    strips = []
    order = result.top_columns(summary.top_k)
    base = plot_target(run, dataset, trajectory.example_id, "feature")
    for rank, column in enumerate(order):
        peak = float(result.activations[:, column].max())
        strips.append({"label": summary.label(int(result.feature_ids[column])), "max": format_number(peak),
                       "strip": strip_item(f"{base}-{rank}", trajectory.tokens, result.activations[:, column], peak,
                                           summary.tokens_per_row, summary.show_values)})
    shown = result.activations[:, order].T  # [feature, token]
    token_labels = [f"{i}:{plots.display_token(t)}" for i, t in enumerate(trajectory.tokens)]
    heatmap = small_matrix(shown, [s["label"] for s in strips], token_labels,
                           plot_target(run, dataset, trajectory.example_id, "features"), "Features x tokens",
                           "activation", 0.0)
    return {"source": summary.source, "strips": strips, "heatmap": heatmap}


EXAMPLES_PER_FEATURE = 5  # the top activations of each feature (as Neuronpedia shows): bounded in the dataset's size


def features_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.summary(dataset, FeaturesSummary)
    if summary is None:
        return None
    peaks: dict[int, list[tuple[float, Trajectory, np.ndarray]]] = {}
    for t in trajectories:
        result = run.result(dataset, t.example_id, FeaturesExample)
        if result is None:
            continue
        for column, feature in enumerate(result.feature_ids):
            column_values = result.activations[:, column]
            peaks.setdefault(int(feature), []).append((float(column_values.max()), t, column_values))
    ranked = sorted(peaks, key=lambda f: -max(p for p, _, _ in peaks[f]))[:summary.top_k]
    features = []
    base = plot_target(run, dataset, "feature")
    for feature in ranked:
        entries = sorted(peaks[feature], key=lambda e: -e[0])
        peak = entries[0][0]
        features.append({"label": summary.label(feature), "max": format_number(peak), "n_examples": len(entries),
                         "examples": [
            {"id": t.example_id, "href": f"examples/{t.example_id}.html", "max": format_number(p),
             "strip": strip_item(f"{base}-{feature}-{rank}", t.tokens, v, peak, summary.tokens_per_row,
                                 summary.show_values)}
            for rank, (p, t, v) in enumerate(entries[:EXAMPLES_PER_FEATURE])]})
    return {"source": summary.source, "features": features}
