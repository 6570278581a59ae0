"""Thought salience: how much attention a span (the answer, by default) pays to each reasoning step.

For each example a layers x heads x steps array, as in the salient-thoughts scripts our users
have: entry [l, h, s] is the attention mass that the span's tokens put on step s in head h of
layer l, averaged over the span's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, ExampleContext, check_layers
from generator.capture import CaptureOptions, capture_attention
from generator.results.salience import SALIENCE, SalienceExample, SalienceSummary, summarize_salience
from generator.store.records import Trajectory


@dataclass(frozen=True)
class SalienceOptions:
    span: str = "answer"  # the segment (by name, or by kind) whose attention is measured
    layers: tuple[int, ...] = ()  # a subset of layers; empty means every layer


class SalienceAnalysis(Analysis):
    declaration = SALIENCE
    options_type = SalienceOptions

    def check_model(self, model, options: SalienceOptions) -> None:
        check_layers(model, options.layers, "analyses.salience.layers")

    def analyze_example(self, context: ExampleContext, options: SalienceOptions) -> SalienceExample:
        trajectory = context.trajectory
        span = [i for i, s in enumerate(trajectory.segments) if s.name == options.span or s.kind == options.span]
        steps = [i for i, s in enumerate(trajectory.segments) if s.is_reasoning]
        n_layers = context.model.config.get_text_config().num_hidden_layers
        layers = list(options.layers) or list(range(n_layers))
        if not span or not steps:
            n_heads = context.model.config.get_text_config().num_attention_heads
            return SalienceExample(np.zeros((len(layers), n_heads, 0), np.float32), np.array(layers, np.int64),
                                   np.zeros(0, np.int64))
        captured = context.captured_attention
        if captured is None:
            captured = capture_attention(context.model, context.input_ids, context.segment_ids,
                                         len(trajectory.segments), options=CaptureOptions(max_map_tokens=0))
        segment = trajectory.segments[span[0]]
        mass = captured.segment_mass[layers][:, :, segment.start:segment.end][..., steps]  # [layer, head, query, step]
        return SalienceExample(mass.mean(axis=2).astype(np.float32), np.array(layers, np.int64),
                               np.array(steps, np.int64))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[SalienceExample],
                          options: SalienceOptions, others: Mapping[type, list[Any]]) -> SalienceSummary:
        names = [[t.segments[int(i)].name for i in r.step_segments] for t, r in zip(trajectories, digests)]
        layers = [int(x) for x in digests[0].layers] if digests else []
        return summarize_salience(options.span, layers, digests, names)
