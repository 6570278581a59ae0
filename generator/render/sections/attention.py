"""Sections of the attention analysis: token-by-token maps, the answer's attention, entropy, small multiples."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.plot_data import data_item, layer_head_grid_data, pooled_map_data, thumbnails_file, token_map_data
from generator.render.readings.attention import entropy_reading
from generator.render.sections.base import embed
from generator.results.attention import AttentionDigest, AttentionExample, AttentionSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def attention_map_note(result: AttentionExample, n_tokens: int) -> str | None:
    if result.maps is not None:
        return None
    if result.pooled_mean is not None:
        return (f"This sequence has {n_tokens} tokens: maps are pooled into blocks for the heads listed in "
                "analyses.attention.map_heads.")
    return (f"This sequence has {n_tokens} tokens, more than the run stored full maps for "
            "(analyses.attention.max_map_tokens); list heads in analyses.attention.map_heads to keep pooled maps.")


def attention_map_plot(site: SiteContext, result: AttentionExample, trajectory: Trajectory, target: str,
                       page_dir: str) -> dict | None:
    if result.maps is not None:
        target = f"{target}-attention"
        heads = f"{trajectory.example_id}.heads"  # per-head scripts beside the page, for heads past its budget
        data = token_map_data(result.maps, trajectory.tokens, site.docs_dir / page_dir / heads, heads, target,
                              segments=[(s.name, s.start) for s in trajectory.segments])
        site.outputs.extend([thumbnails_file(site.docs_dir / page_dir / heads),
                             *sorted((site.docs_dir / page_dir / heads).glob("*.js"))])
        return data_item("token-map", target, data)
    if result.pooled_mean is not None:
        target = f"{target}-pooled"
        blocks = f"{trajectory.example_id}.heads"
        data = pooled_map_data(result.pooled_mean, result.pooled_max, result.pooled_heads, result.pooled_edges,
                               trajectory.tokens, site.docs_dir / page_dir / blocks, blocks, target)
        site.outputs.extend(sorted((site.docs_dir / page_dir / blocks).glob("*.js")))
        return data_item("pooled-map", target, data)
    return None


def attention_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    dataset = trajectory.dataset
    result = run.result(dataset, trajectory.example_id, AttentionExample)
    if result is None:
        return None
    target = plot_target(run, dataset, trajectory.example_id)
    seg_names = [s.name for s in trajectory.segments]
    seg_text = [f"{s.name}: {plots.display_token(trajectory.text[s.char_start:s.char_end])}" for s in trajectory.segments]
    answer_plot = data_item("layer-head-grid", f"{target}-answer", layer_head_grid_data(
        np.moveaxis(result.answer_segment_mass, 2, 0), seg_names, "Answer attention to", "mass", seg_text))
    answer_figure = None
    if site.example_figures and any(seg.is_reasoning for seg in trajectory.segments):
        written = figures.layer_head_grid(
            result.steps_mass(trajectory), site.docs_dir / page_dir / "figures" / f"{trajectory.example_id}-answer-to-steps",
            f"{trajectory.example_id}: answer-to-steps attention", "attention mass")
        answer_figure = site.figure("answer-to-steps", run.name, dataset, trajectory.example_id, written, page_dir)
    return {"map_plot": attention_map_plot(site, result, trajectory, target, page_dir),
            "map_note": attention_map_note(result, len(trajectory.tokens)), "answer_plot": answer_plot,
            "answer_figure": answer_figure}


def attention_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                      page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, AttentionSummary)
    if summary is None:
        return None
    figure_dir = site.docs_dir / page_dir / "figures"
    series = {dataset: np.asarray(summary.mean_entropy_by_layer)}
    entropy_plot = embed(plots.line_by_layer(series, plot_target(run, dataset, "entropy"), "Mean attention entropy",
                                             "entropy (nats)"))
    written = figures.lines_by_layer(series, figure_dir / "entropy-by-layer", f"{dataset}: attention entropy",
                                     "entropy (nats)")
    entropy_figure = site.figure("entropy-by-layer", run.name, dataset, None, written, page_dir)
    grids, titles = [], []
    for t in trajectories:
        if any(seg.is_reasoning for seg in t.segments):
            digest = run.result(dataset, t.example_id, AttentionDigest)  # two small tensors, not the maps
            if digest is not None:
                grids.append(digest.steps_mass(t))
                titles.append(t.example_id)
    grid_figure = None
    if grids:
        written = figures.small_multiples(grids, titles, figure_dir / "answer-to-steps-grid",
                                          f"{run.name} / {dataset}: answer-to-steps attention", "attention mass")
        grid_figure = site.figure("answer-to-steps-grid", run.name, dataset, None, written, page_dir)
    return {"entropy_plot": entropy_plot, "reading": entropy_reading(summary),
            "entropy_figure": entropy_figure, "grid_figure": grid_figure}
