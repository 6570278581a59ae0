"""Attention structure of every layer and head: segment mass, entropy, and short-sequence maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from generator.analyses import register_analysis
from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.capture.attention import CaptureOptions, capture_attention
from generator.store.records import Trajectory


@dataclass(frozen=True)
class AttentionOptions:
    # Every head's full token-by-token map is stored for sequences up to this length.
    max_map_tokens: int = 256
    # For longer sequences, these (layer, head) pairs keep a map pooled to a bounded size.
    map_heads: tuple[tuple[int, ...], ...] = ()
    pooled_map_size: int = 128
    # Capture rows while generating (no second pass over the sequence).
    during_generation: bool = True
    # "auto": the fused kernel (Triton on CUDA, compiled C on the CPU) where available, else the
    # block-wise PyTorch pass; "fused" / "torch" to insist on one (docs/capture.md).
    engine: Literal["auto", "torch", "fused"] = "auto"

    def capture_options(self) -> CaptureOptions:
        return CaptureOptions(exact_maps_up_to=self.max_map_tokens, map_heads=tuple(tuple(p) for p in self.map_heads),
                              pooled_map_size=self.pooled_map_size, engine=self.engine)


def check_map_heads(options: AttentionOptions, n_layers: int, n_heads: int) -> None:
    for index, pair in enumerate(options.map_heads):
        where = f"analyses.attention.map_heads[{index}]"
        if len(pair) != 2:
            raise AnalysisError(f"{where}: expected [layer, head], got {list(pair)}")
        layer, head = pair
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise AnalysisError(f"{where}: layer {layer}, head {head} is out of range "
                             f"(the model has {n_layers} layers of {n_heads} heads)")


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
    large_outputs = frozenset({"maps", "segment_mass", "entropy", "max_weight", "pooled_heads",
                               "pooled_mean", "pooled_max", "pooled_edges"})

    def check_model(self, model, options: AttentionOptions) -> None:
        text_config = model.config.get_text_config()
        check_map_heads(options, text_config.num_hidden_layers, text_config.num_attention_heads)

    def analyze_example(self, context: ExampleContext, options: AttentionOptions) -> dict[str, np.ndarray]:
        n_tokens = context.input_ids.shape[1]
        captured = context.captured_attention
        wants_maps = n_tokens <= options.max_map_tokens
        wants_pooled = not wants_maps and bool(options.map_heads)
        if captured is None or (wants_maps and captured.maps is None) or wants_pooled:
            captured = capture_attention(context.model, context.input_ids, context.segment_ids,
                                         len(context.trajectory.segments), options=options.capture_options())
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
        if captured.maps is not None and wants_maps:
            out["maps"] = captured.maps  # [layer, head, query, key]
        if captured.pooled_heads is not None and len(captured.pooled_heads):
            out["pooled_heads"] = captured.pooled_heads  # [n, 2] (layer, head)
            out["pooled_mean"] = captured.pooled_mean  # [n, bins, bins]
            out["pooled_max"] = captured.pooled_max  # [n, bins, bins]
            out["pooled_edges"] = captured.pooled_edges  # [bins + 1] token index of each block start
        return out

    def summarize_dataset(self, trajectories: list[Trajectory], results: list[dict[str, np.ndarray]],
                          options: AttentionOptions, others) -> dict[str, Any]:
        per_head = np.stack([r["mean_entropy"] for r in results])  # [example, layer, head]
        return {
            "n_examples": len(results),
            "mean_entropy_by_layer": per_head.mean(axis=(0, 2)).tolist(),
            "std_entropy_by_layer": per_head.mean(axis=2).std(axis=0).tolist(),
            "mean_entropy_by_layer_head": per_head.mean(axis=0).tolist(),
        }
