"""Attention structure of every layer and head: segment mass, entropy, and short-sequence maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.analyses import register_analysis
from generator.analyses.base import Analysis, ExampleContext
from generator.capture.attention import capture_attention
from generator.store.records import Trajectory


@dataclass(frozen=True)
class AttentionOptions:
    # Full token-by-token maps are stored only for sequences up to this length.
    max_map_tokens: int = 256


def answer_queries(trajectory: Trajectory) -> np.ndarray:
    """Token positions whose attention 'the answer pays': the answer span, else the last token."""
    for seg in trajectory.segments:
        if seg.kind == "answer":
            return np.arange(seg.start, seg.end)
    return np.array([len(trajectory.tokens) - 1])


@register_analysis
class AttentionAnalysis(Analysis):
    name = "attention"
    options_type = AttentionOptions
    large_outputs = frozenset({"maps", "segment_mass", "entropy", "max_weight"})

    def analyze_example(self, context: ExampleContext, options: AttentionOptions) -> dict[str, np.ndarray]:
        n_tokens = context.input_ids.shape[1]
        captured = capture_attention(
            context.model, context.input_ids, context.segment_ids, len(context.trajectory.segments),
            keep_maps=n_tokens <= options.max_map_tokens,
        )
        queries = answer_queries(context.trajectory)
        out = {
            "segment_mass": captured.segment_mass,  # [layer, head, query, segment]
            "entropy": captured.entropy,  # [layer, head, query]
            "max_weight": captured.max_weight,  # [layer, head, query]
            # [layer, head, segment]: mean mass the answer's tokens put on each segment
            "answer_segment_mass": captured.segment_mass[:, :, queries, :].mean(axis=2),
            # [layer, head]: mean entropy over queries 1.. (query 0 can only attend to itself)
            "mean_entropy": captured.entropy[:, :, 1:].mean(axis=2) if n_tokens > 1 else captured.entropy[:, :, 0],
        }
        if captured.maps is not None:
            out["maps"] = captured.maps  # [layer, head, query, key]
        return out

    def summarize_dataset(self, trajectories: list[Trajectory], results: list[dict[str, np.ndarray]],
                          options: AttentionOptions) -> dict[str, Any]:
        per_head = np.stack([r["mean_entropy"] for r in results])  # [example, layer, head]
        return {
            "n_examples": len(results),
            "mean_entropy_by_layer": per_head.mean(axis=(0, 2)).tolist(),
            "std_entropy_by_layer": per_head.mean(axis=2).std(axis=0).tolist(),
            "mean_entropy_by_layer_head": per_head.mean(axis=0).tolist(),
        }
