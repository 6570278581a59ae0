"""Result types of the agent analysis: attention between an agent run's steps, and what its answer follows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.results.statistics import MeanWithCI
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class AgentExample(ExampleResult):
    """One agent run; S segments: the question, then every thought, tool call, observation and the answer."""

    step_mass: np.ndarray = tensor("[L, H, S, S]", "attention weight segment `i`'s tokens put on segment `j`, "
                                   "averaged over `i`'s tokens (`[query step, key step]`)")
    step_entropy: np.ndarray = tensor("[L, H, S]", "entropy in nats of the segment's tokens' attention, averaged")
    step_max_weight: np.ndarray = tensor("[L, H, S]", "the largest weight of each of the segment's tokens, "
                                         "averaged")
    step_received: np.ndarray = tensor("[L, H, S]", "attention the later tokens pay the segment, per token of "
                                       "the segment (its mass divided by its length), averaged over those tokens")
    counterfactual_segment: np.ndarray = tensor("[1]", "index of the observation the counterfactual-tool check "
                                                "replaced (the last numeric one); -1 when there was none",
                                                dtype="int64")
    counterfactual_values: np.ndarray = tensor("[4]", "(the observation's value, the value put in its place, "
                                               "the answer as run, the answer given the replaced value); NaN "
                                               "where there is none or it is not a number", dtype="float64")


@dataclass(frozen=True)
class AgentSummary(DatasetSummary):
    """An agent dataset: how its runs ended, their tool use, and what their answers follow."""

    n_runs: int = value("agent runs in the dataset")
    answered: int = value("runs that ended with an answer")
    stopped_at_step_limit: int = value("runs stopped at the step limit")
    tool_calls: int = value("tool calls over all runs")
    tool_errors: int = value("observations that were errors (unknown tool, bad arguments, raised, timed out, "
                             "too long, malformed call)")
    counterfactual_checked: int = value("runs with a numeric observation to replace")
    counterfactual_followed: int = value("of those, runs whose answer became the replaced value")
    mass_by_kind: dict[str, dict[str, float]] = value("mean attention (over layers, heads and runs) that a "
                                                      "segment of one kind pays to segments of another: "
                                                      "`[query kind][key kind]`")
    mass_by_kind_ci: dict[str, dict[str, MeanWithCI]] | None = value(
        "`[query kind][key kind]`: each run's mean attention from its segments of one kind to its segments (the same "
        "or earlier) of another, over layers and heads, then the mean over the runs that have both, with a 95% t "
        "interval (the runs are the independent units; null in runs made before it)", default=None)


AGENT = declare_analysis(AnalysisDeclaration(
    name="agent", page_order=10, example=AgentExample, summary=AgentSummary,
    description="Agent runs: attention between steps, per-step statistics and the counterfactual-tool check.",
    analysis="generator.analyses.agent:AgentAnalysis",
    dataset_section="generator.render.sections.agent:agent_dataset",
    example_section="generator.render.sections.agent:agent_example"))


def step_statistics(segment_mass: np.ndarray, entropy: np.ndarray, max_weight: np.ndarray,
                    segment_ids: np.ndarray, n_segments: int) -> tuple[np.ndarray, ...]:
    """Per-query summaries ``[L, H, T, S]``/``[L, H, T]`` -> per-step ones (defined here, once)."""
    layers, heads = entropy.shape[:2]
    mass = np.zeros((layers, heads, n_segments, n_segments), dtype=np.float32)
    step_entropy = np.zeros((layers, heads, n_segments), dtype=np.float32)
    step_max = np.zeros((layers, heads, n_segments), dtype=np.float32)
    received = np.zeros((layers, heads, n_segments), dtype=np.float32)
    positions = np.arange(len(segment_ids))
    for index in range(n_segments):
        members = positions[segment_ids == index]
        if members.size == 0:
            continue
        mass[:, :, index] = segment_mass[:, :, members].mean(axis=2)
        step_entropy[:, :, index] = entropy[:, :, members].mean(axis=2)
        step_max[:, :, index] = max_weight[:, :, members].mean(axis=2)
        later = positions[positions > members[-1]]
        if later.size:
            received[:, :, index] = segment_mass[:, :, later, index].mean(axis=2) / members.size
    return mass, step_entropy, step_max, received
