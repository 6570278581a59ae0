"""Agent runs: attention between steps over the whole conversation, and the counterfactual-tool check.

The check replaces the last numeric observation with another number (``agent.counterfactual_offset``
added) and lets the model go on from there: when the answer copies the observation, the answer
becomes the new number. It runs the same model and the same tools as the run did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.agent.loop import AgentSpec, agent_format, model_reply, run_agent
from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.capture import CaptureOptions, capture_attention
from generator.results.agent import AGENT, AgentExample, AgentSummary, step_statistics
from generator.results.statistics import MeanWithCI
from generator.store.agent_record import AgentRecord
from generator.store.plain_data import build_dataclass
from generator.store.records import Trajectory


@dataclass(frozen=True)
class AgentOptions:
    counterfactual: bool = True  # run the counterfactual-tool check (one more agent continuation per run)


def number(text: str | None) -> float:
    try:
        return float(text.strip()) if text is not None else math.nan
    except ValueError:
        return math.nan


def spec_of(trajectory: Trajectory) -> AgentSpec:
    """The settings the run used, as recorded in the trajectory."""
    recorded = AgentRecord.of(trajectory)
    if recorded is None:
        raise AnalysisError(f"example {trajectory.example_id!r}: the agent analysis needs an agent dataset "
                            "(datasets[i].agent in the run config)")
    return build_dataclass(AgentSpec, recorded.settings, "agent.settings", trajectory.example_id, AnalysisError)


def counterfactual(context: ExampleContext, spec: AgentSpec) -> tuple[int, np.ndarray]:
    """Replace the last numeric observation; the answer the model then gives."""
    trajectory = context.trajectory
    named = AgentRecord.of(trajectory).named_steps()
    steps = [step for _, step in named]
    observed = [i for i, step in enumerate(steps) if step.kind == "observation" and not step.error
                and not math.isnan(number(step.text))]
    answered = number(trajectory.parsed_answer)
    if not observed:
        return -1, np.array([math.nan, math.nan, answered, math.nan])
    index = observed[-1]
    original = number(steps[index].text)
    replaced = original + spec.counterfactual_offset
    shown = str(int(replaced)) if replaced == int(replaced) else f"{replaced:g}"
    fmt = agent_format(spec, context.tokenizer)
    prefix = steps[:index] + [fmt.observation(steps[index].tool, shown, None)]
    rerun = run_agent(trajectory.prompt, model_reply(context.model, context.tokenizer, spec), spec, fmt, prefix)
    name = named[index][0]
    segment = next((i for i, seg in enumerate(trajectory.segments) if seg.name == name), -1)
    return segment, np.array([original, replaced, answered, number(rerun.answer)])


class AgentAnalysis(Analysis):
    declaration = AGENT
    options_type = AgentOptions
    requires_agent = True

    def analyze_example(self, context: ExampleContext, options: AgentOptions) -> AgentExample:
        spec = spec_of(context.trajectory)
        n_segments = len(context.trajectory.segments)
        captured = capture_attention(context.model, context.input_ids, context.segment_ids, n_segments,
                                     options=CaptureOptions(max_map_tokens=0))
        mass, entropy, max_weight, received = step_statistics(captured.segment_mass, captured.entropy,
                                                              captured.max_weight, context.segment_ids, n_segments)
        segment, values = (counterfactual(context, spec) if options.counterfactual
                           else (-1, np.full(4, math.nan)))
        return AgentExample(mass, entropy, max_weight, received, np.array([segment], dtype=np.int64),
                            values.astype(np.float64))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[AgentExample],
                          options: AgentOptions, others: Mapping[type, list[Any]]) -> AgentSummary:
        records = [AgentRecord.of(t) for t in trajectories]
        statuses = [record.status for record in records]
        checked = [d for d in digests if d is not None and int(d.counterfactual_segment[0]) >= 0
                   and not math.isnan(d.counterfactual_values[3])]
        followed = sum(1 for d in checked if d.counterfactual_values[3] == d.counterfactual_values[1])
        return AgentSummary(
            n_runs=len(statuses), answered=statuses.count("answered"),
            stopped_at_step_limit=statuses.count("step limit"),
            tool_calls=sum(record.count("call") for record in records),
            tool_errors=sum(record.count("observation", errors_only=True) for record in records),
            counterfactual_checked=len(checked), counterfactual_followed=followed,
            mass_by_kind=_mass_by_kind(trajectories, digests),
            mass_by_kind_ci=_mass_by_kind_over_runs(trajectories, digests))


def _pair_masses(trajectory: Trajectory, digest: AgentExample) -> dict[tuple[str, str], list[float]]:
    """One run's attention from each segment to itself and each earlier one (over layers and heads), by kinds."""
    kinds = [s.kind for s in trajectory.segments]
    mean = digest.step_mass.mean(axis=(0, 1))
    pairs: dict[tuple[str, str], list[float]] = {}
    for i, query_kind in enumerate(kinds):
        for j, key_kind in enumerate(kinds[:i + 1]):
            pairs.setdefault((query_kind, key_kind), []).append(float(mean[i, j]))
    return pairs


def _mass_by_kind(trajectories: Sequence[Trajectory], digests: list[AgentExample]) -> dict[str, dict[str, float]]:
    """Mean attention from each kind of step to each earlier kind (over layers, heads and every pair of steps)."""
    sums: dict[str, dict[str, list[float]]] = {}
    for trajectory, digest in zip(trajectories, digests):
        if digest is not None:
            for (query_kind, key_kind), values in _pair_masses(trajectory, digest).items():
                sums.setdefault(query_kind, {}).setdefault(key_kind, []).extend(values)
    return {q: {k: float(np.mean(v)) for k, v in row.items()} for q, row in sums.items()}


def _mass_by_kind_over_runs(trajectories: Sequence[Trajectory],
                            digests: list[AgentExample]) -> dict[str, dict[str, MeanWithCI]]:
    """Per pair of kinds: each run's own mean, then their mean with a t interval (the runs are independent;
    the steps of one run are not)."""
    per_run: dict[str, dict[str, list[float]]] = {}
    for trajectory, digest in zip(trajectories, digests):
        if digest is not None:
            for (query_kind, key_kind), values in _pair_masses(trajectory, digest).items():
                per_run.setdefault(query_kind, {}).setdefault(key_kind, []).append(float(np.mean(values)))
    return {q: {k: MeanWithCI.of(v) for k, v in row.items()} for q, row in per_run.items()}
