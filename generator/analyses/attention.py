"""Attention structure of every layer and head: segment mass, entropy, and short-sequence maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.capture import DEFAULT_MAX_MAP_TOKENS, CaptureOptions, capture_attention
from generator.results.attention import ATTENTION, AttentionDigest, AttentionExample, AttentionSummary, attention_example, summarize_attention
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class AttentionOptions:
    # Every head's full token-by-token map is stored for sequences up to this length.
    max_map_tokens: int = DEFAULT_MAX_MAP_TOKENS
    # For longer sequences, these (layer, head) pairs keep a map pooled to a bounded size.
    map_heads: tuple[tuple[int, ...], ...] = ()
    pooled_map_size: int = 128
    # Capture rows while generating (no second pass) instead of one forward pass after it. Off by
    # default: on the CPU the pass after costs 1.03-1.08x plain generation, capture during it
    # 1.8x (docs/capture.md); not yet measured on a GPU (benchmarks/gpu.py does).
    during_generation: bool = False
    # "auto": the fused kernel (Triton on CUDA, compiled C on the CPU) where available, else the
    # block-wise PyTorch pass; "fused" / "torch" to insist on one (docs/capture.md).
    engine: Literal["auto", "torch", "fused"] = "auto"
    # The per-token segment mass [L, H, T, S] is stored up to this size per example; above it (long
    # agent runs: tokens x steps) only its per-segment averages are (segment_pair_mass).
    max_segment_mass_mib: float = 64.0

    def __post_init__(self) -> None:
        for index, pair in enumerate(self.map_heads):
            if len(pair) != 2:
                raise OptionError(f"map_heads[{index}]", f"expected [layer, head], got {list(pair)}")
        if self.max_map_tokens < 0:
            raise OptionError("max_map_tokens", f"expected 0 or more, got {self.max_map_tokens}")
        if self.max_segment_mass_mib < 0:
            raise OptionError("max_segment_mass_mib", f"expected 0 or more, got {self.max_segment_mass_mib}")
        if self.pooled_map_size < 1:
            raise OptionError("pooled_map_size", f"expected a positive integer, got {self.pooled_map_size}")

    def capture_options(self) -> CaptureOptions:
        return CaptureOptions(max_map_tokens=self.max_map_tokens, map_heads=tuple(tuple(p) for p in self.map_heads),
                              pooled_map_size=self.pooled_map_size, engine=self.engine)


def check_map_heads(options: AttentionOptions, n_layers: int, n_heads: int) -> None:
    for index, (layer, head) in enumerate(options.map_heads):
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise AnalysisError(f"analyses.attention.map_heads[{index}]: layer {layer}, head {head} is out of range "
                                f"(the model has {n_layers} layers of {n_heads} heads)")


class AttentionAnalysis(Analysis):
    declaration = ATTENTION
    options_type = AttentionOptions
    digest_type = AttentionDigest

    def capture_during_generation(self, options: AttentionOptions) -> CaptureOptions | None:
        return options.capture_options() if options.during_generation else None

    def check_model(self, model, options: AttentionOptions) -> None:
        text_config = model.config.get_text_config()
        check_map_heads(options, text_config.num_hidden_layers, text_config.num_attention_heads)

    def analyze_example(self, context: ExampleContext, options: AttentionOptions) -> AttentionExample:
        n_tokens = context.input_ids.shape[1]
        captured = context.captured_attention
        wants_maps = n_tokens <= options.max_map_tokens
        wants_pooled = not wants_maps and bool(options.map_heads)
        if captured is None or (wants_maps and captured.maps is None) or wants_pooled:
            captured = capture_attention(context.model, context.input_ids, context.segment_ids,
                                         len(context.trajectory.segments), options=options.capture_options())
        pooled = {}
        if captured.pooled_heads is not None and len(captured.pooled_heads):
            pooled = {"pooled_heads": captured.pooled_heads, "pooled_mean": captured.pooled_mean,
                      "pooled_max": captured.pooled_max, "pooled_edges": captured.pooled_edges}
        return attention_example(captured.segment_mass, captured.entropy, captured.max_weight, context.trajectory,
                                 options.max_segment_mass_mib * 2**20, maps=captured.maps if wants_maps else None,
                                 **pooled)

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[AttentionDigest],
                          options: AttentionOptions, others: Mapping[type, list[Any]]) -> AttentionSummary:
        return summarize_attention(digests)
