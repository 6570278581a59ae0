"""Thought salience: how much attention a span (the answer, by default) pays to each reasoning step.

For each example a layers x heads x steps array, as in the salient-thoughts scripts our users
have: entry [l, h, s] is the attention mass that the span's tokens put on step s in head h of
layer l, averaged over the span's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.analyses import register_analysis
from generator.analyses.base import Analysis, ExampleContext, check_layers
from generator.capture.attention import CaptureOptions, capture_attention


@dataclass(frozen=True)
class SalienceOptions:
    span: str = "answer"  # the segment (by name, or by kind) whose attention is measured
    layers: tuple[int, ...] = ()  # a subset of layers; empty means every layer


def salience_by_position(results: list[dict[str, np.ndarray]], names: list[list[str]]) -> dict[str, np.ndarray]:
    """Mean salience grid per step name ("step 1", ...) over the examples that have that step."""
    grids: dict[str, list[np.ndarray]] = {}
    for result, steps in zip(results, names):
        for index, step in enumerate(steps):
            grids.setdefault(step, []).append(result["salience"][:, :, index])
    return {step: np.mean(values, axis=0) for step, values in grids.items()}


@register_analysis
class SalienceAnalysis(Analysis):
    name = "salience"
    options_type = SalienceOptions

    def check_model(self, model, options: SalienceOptions) -> None:
        check_layers(model, options.layers, "analyses.salience.layers")

    def analyze_example(self, context: ExampleContext, options: SalienceOptions) -> dict[str, np.ndarray]:
        trajectory = context.trajectory
        span = [i for i, s in enumerate(trajectory.segments) if s.name == options.span or s.kind == options.span]
        steps = [i for i, s in enumerate(trajectory.segments) if s.kind == "step"]
        n_layers = context.model.config.get_text_config().num_hidden_layers
        layers = list(options.layers) or list(range(n_layers))
        if not span or not steps:
            n_heads = context.model.config.get_text_config().num_attention_heads
            return {"salience": np.zeros((len(layers), n_heads, 0), np.float32),
                    "layers": np.array(layers, np.int64), "step_segments": np.zeros(0, np.int64)}
        captured = context.captured_attention
        if captured is None:
            captured = capture_attention(context.model, context.input_ids, context.segment_ids,
                                         len(trajectory.segments), options=CaptureOptions(exact_maps_up_to=0))
        segment = trajectory.segments[span[0]]
        mass = captured.segment_mass[layers][:, :, segment.start:segment.end][..., steps]  # [layer, head, query, step]
        return {"salience": mass.mean(axis=2).astype(np.float32),  # [layer, head, step]
                "layers": np.array(layers, np.int64), "step_segments": np.array(steps, np.int64)}

    def summarize_dataset(self, trajectories, results, options: SalienceOptions, others) -> dict[str, Any]:
        names = [[t.segments[int(i)].name for i in r["step_segments"]] for t, r in zip(trajectories, results)]
        means = salience_by_position(results, names)
        return {"span": options.span, "layers": [int(x) for x in results[0]["layers"]] if results else [],
                "mean_by_step": {step: grid.tolist() for step, grid in sorted(means.items())},
                "max": float(max((r["salience"].max() for r in results if r["salience"].size), default=0.0))}
