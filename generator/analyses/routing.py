"""Question-to-step routing: for each reasoning step, the attention it puts on each question token.

Each question token is made its own segment and the capture's per-query segment mass does the
rest, so no full attention map is kept, at any sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, ExampleContext
from generator.capture import CaptureOptions, capture_attention
from generator.results.routing import ROUTING, RoutingExample, RoutingSummary
from generator.results.statistics import MeanWithCI
from generator.store.records import Trajectory


@dataclass(frozen=True)
class RoutingOptions:
    step_kind: str = "step"  # which segments are the reasoning steps (agent runs: "thought" or "call")


def mass_on_groups(model, input_ids, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``[L, H, T, G]``: each query token's attention mass on each group of key tokens (-1: no group)."""
    return capture_attention(model, input_ids, groups, n_groups, options=CaptureOptions(max_map_tokens=0)).segment_mass


def question_positions(trajectory: Trajectory) -> np.ndarray:
    question = next((s for s in trajectory.segments if s.kind == "question"), None)
    return np.arange(question.start, question.end) if question else np.arange(0)


class RoutingAnalysis(Analysis):
    declaration = ROUTING
    options_type = RoutingOptions

    def analyze_example(self, context: ExampleContext, options: RoutingOptions) -> RoutingExample:
        trajectory = context.trajectory
        question = question_positions(trajectory)
        steps = [s for s in trajectory.segments if s.kind == options.step_kind]
        config = context.model.config.get_text_config()
        if not steps or not question.size:
            return RoutingExample(np.zeros((config.num_hidden_layers, config.num_attention_heads, 0, question.size),
                                           dtype=np.float32))
        groups = np.full(len(trajectory.token_ids), -1, dtype=np.int64)
        groups[question] = np.arange(question.size)
        mass = mass_on_groups(context.model, context.input_ids, groups, question.size)
        routing = np.stack([mass[:, :, s.start:s.end].mean(axis=2) for s in steps], axis=2)
        return RoutingExample(routing.astype(np.float32))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[RoutingExample], options,
                          others: Mapping[type, list[Any]]) -> RoutingSummary:
        used = [d.routing.mean(axis=(0, 1)) for d in digests if d is not None and d.routing.shape[2]]
        if not used:
            return RoutingSummary(0, ())
        steps, positions = max(u.shape[0] for u in used), max(u.shape[1] for u in used)
        cells = [[MeanWithCI.of([grid[s, q] for grid in used if s < grid.shape[0] and q < grid.shape[1]])
                  for q in range(positions)] for s in range(steps)]
        return RoutingSummary(len(used), tuple(tuple(cell.mean for cell in row) for row in cells),
                              tuple(tuple(row) for row in cells))
