"""Sections of the thought-salience analysis."""

from __future__ import annotations


import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.plot_data import data_item, layer_head_grid_data
from generator.render.readings.attention import salience_reading
from generator.render.sections.base import no_steps_note
from generator.render.step_order import step_key
from generator.results.salience import SalienceExample, SalienceSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def salience_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str):
    dataset = trajectory.dataset
    result = run.result(dataset, trajectory.example_id, SalienceExample)
    if result is None:
        return None
    if result.salience.shape[-1] == 0:
        return {"no_steps": no_steps_note(trajectory, "there is no attention to steps to show")}
    steps = [trajectory.segments[int(i)] for i in result.step_segments]
    hover = [f"{s.name}: {plots.display_token(trajectory.text[s.char_start:s.char_end])}" for s in steps]
    values = np.moveaxis(result.salience, 2, 0)  # [step, layer, head]
    data = layer_head_grid_data(values, [s.name for s in steps], "Salience of", "mass", hover,
                                layer_labels=[int(x) for x in result.layers])
    return {"plot": data_item("layer-head-grid", plot_target(run, dataset, trajectory.example_id, "salience"), data)}


def salience_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.summary(dataset, SalienceSummary)
    if summary is None or not summary.mean_by_step:
        return None
    figure_dir = site.docs_dir / page_dir / "figures"
    steps = sorted(summary.mean_by_step, key=step_key)
    layers = list(summary.layers)
    means = np.stack([np.array(summary.mean_by_step[s], dtype=np.float32) for s in steps])
    item = data_item("layer-head-grid", plot_target(run, dataset, "salience-mean"),
                     layer_head_grid_data(means, steps, "Mean salience of", "mass", layer_labels=layers))
    results = {t.example_id: run.result(dataset, t.example_id, SalienceExample) for t in trajectories}
    grids_by_step = []
    for step in steps:
        grids, titles = [], []
        for t in trajectories:
            result = results[t.example_id]
            if result is None:
                continue
            names = [t.segments[int(i)].name for i in result.step_segments]
            if step in names:
                grids.append(result.salience[:, :, names.index(step)])
                titles.append(t.example_id)
        if grids:
            slug = step.replace(" ", "-")
            written = figures.small_multiples(grids, titles, figure_dir / f"salience-{slug}",
                                              f"{dataset}: salience of {step} (layers down, heads across)", "mass",
                                              high=summary.max)
            grids_by_step.append({"step": step, "figure": site.figure(f"salience-{slug}", run.name, dataset, None,
                                                                      written, page_dir)})
    return {"plot": item, "span": summary.span, "reading": salience_reading(summary),
            "layers": layers, "grids": grids_by_step}
