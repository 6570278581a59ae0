"""Sections of agent runs: the step timeline, attention between steps, per-step statistics, and what
the answer depends on (the counterfactual-tool check)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from generator.render import plots
from generator.render.context import SiteContext, plot_target
from generator.render.readings.agent import counterfactual_reading
from generator.render.sections.base import embed, format_number
from generator.results.agent import AgentExample, AgentSummary
from generator.results.statistics import MeanWithCI
from generator.store.agent_record import AgentRecord
from generator.store.records import RecordFormatError, Trajectory
from generator.store.run_directory import Run, RunFormatError


def agent_record(run: Run, trajectory: Trajectory) -> AgentRecord | None:
    """The agent loop's record in a trajectory (steps, status, settings), or None for other examples;
    a damaged one is the run's ``RunFormatError``."""
    try:
        return AgentRecord.of(trajectory)
    except RecordFormatError as exc:
        raise RunFormatError(f"{run.root}/{exc}") from exc


def timeline(record: AgentRecord) -> list[dict[str, Any]]:
    """Each step with the segment name it has on the page ("thought 1", "call 1", ..., "answer")."""
    return [{"name": name, "kind": step.kind, "text": step.text, "tool": step.tool or "",
             "arguments": "" if step.arguments is None else str(step.arguments), "error": step.error or ""}
            for name, step in record.named_steps()]


def step_rows(result: AgentExample, trajectory: Trajectory) -> list[dict[str, Any]]:
    """Per segment: mean over layers and heads of entropy, largest weight, mass on the question, received."""
    rows = []
    for index, seg in enumerate(trajectory.segments):
        rows.append({"name": seg.name, "kind": seg.kind, "tokens": seg.end - seg.start,
                     "entropy": format_number(float(result.step_entropy[:, :, index].mean())),
                     "max_weight": format_number(float(result.step_max_weight[:, :, index].mean())),
                     "to_question": format_number(float(result.step_mass[:, :, index, 0].mean())),
                     "received": format_number(float(result.step_received[:, :, index].mean()))})
    return rows


def counterfactual_sentence(result: AgentExample, trajectory: Trajectory) -> str:
    segment = int(result.counterfactual_segment[0])
    original, replaced, answered, after = (float(v) for v in result.counterfactual_values)
    if segment < 0:
        return "No observation held a number, so the counterfactual-tool check did not run."

    def shown(value: float) -> str:
        return "no answer" if math.isnan(value) else f"{value:g}"

    name = trajectory.segments[segment].name if segment < len(trajectory.segments) else f"segment {segment}"
    verdict = ("the answer follows the tool: it became the replaced value" if after == replaced else
               "the answer did not change: it does not follow this observation" if after == answered else
               "the answer changed, but not to the replaced value")
    return (f"The tool's result in {name} ({shown(original)}) was replaced by {shown(replaced)} and the model "
            f"went on from there: it answered {shown(after)} instead of {shown(answered)}; {verdict}.")


def steps_grid(result: AgentExample, trajectory: Trajectory, target: str, high: float | None = None) -> dict:
    names = [seg.name for seg in trajectory.segments]
    grid = result.step_mass.mean(axis=(0, 1)).astype(np.float64)
    grid[np.triu_indices(len(names), 1)] = np.nan  # a step cannot attend to later ones
    return embed(plots.matrix_heatmap(grid, names, names, target, "Attention between steps", "mass", low=0.0,
                                      high=high, max_cell=28))


def agent_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    record = agent_record(run, trajectory)
    if record is None:
        return None
    result = run.result(trajectory.dataset, trajectory.example_id, AgentExample)
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "steps")
    return {"status": record.status,
            "timestamp": record.timestamp, "format": record.format,
            "tools": ", ".join(record.tools), "timeline": timeline(record),
            "steps": step_rows(result, trajectory) if result is not None else [],
            "grid": steps_grid(result, trajectory, target) if result is not None else None,
            "counterfactual": counterfactual_sentence(result, trajectory) if result is not None else None}


def agent_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                  page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, AgentSummary)
    if summary is None:
        return None
    kinds = [k for k in ("question", "thought", "call", "observation", "answer", "other") if k in summary.mass_by_kind
             or any(k in row for row in summary.mass_by_kind.values())]
    with_ci = summary.mass_by_kind_ci  # each run's mean, then their mean and t interval over the runs

    def cell(query: str, key: str) -> str:  # a run made before intervals: its pooled means, said to carry none
        if with_ci is None:
            return format_number(summary.mass_by_kind.get(query, {}).get(key))
        return mass_cell(with_ci.get(query, {}).get(key))

    table = [{"kind": q, "cells": [cell(q, k) for k in kinds]} for q in kinds if q in summary.mass_by_kind]
    return {"summary": summary, "kinds": kinds, "mass_table": table, "intervals": with_ci is not None,
            "counterfactual": counterfactual_reading(summary)}


def mass_cell(mean: MeanWithCI | None) -> str:
    """``0.412 (0.38–0.44; n = 12)``: a mean attention mass over runs, its 95% t interval and its n. A mass lies
    in 0..1, so the interval is cut to that range (what it leaves out cannot hold the mean)."""
    if mean is None or mean.mean is None:
        return "–"
    if mean.ci_low is None or mean.ci_high is None:
        return f"{mean.mean:.3g} (n = {mean.n}, no interval)"
    return f"{mean.mean:.3g} ({max(mean.ci_low, 0.0):.3g}–{min(mean.ci_high, 1.0):.3g}; n = {mean.n})"
