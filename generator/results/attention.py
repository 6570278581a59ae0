"""Result types of the attention analysis, and the definition of its quantities from weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.store.records import Trajectory
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class AttentionExample(ExampleResult):
    """Every layer's and head's attention over one example; L layers, H heads, T tokens, S segments."""

    entropy: np.ndarray = tensor("[L, H, T]", "entropy in nats of each query token's attention distribution")
    max_weight: np.ndarray = tensor("[L, H, T]", "the largest weight in each query token's distribution")
    answer_segment_mass: np.ndarray = tensor("[L, H, S]", "`segment_mass` averaged over the answer segment's query "
                                             "tokens (the last token when there is no answer)")
    mean_entropy: np.ndarray = tensor("[L, H]", "`entropy` averaged over query positions 1.. (position 0 can only "
                                      "attend to itself)")
    segment_mass: np.ndarray | None = tensor("[L, H, T, S]", "attention weight each query token puts on each "
                                             "segment (rows sum to 1 over segments when every token is in a "
                                             "segment); absent when larger than the attention option "
                                             "`max_segment_mass_mib` (long agent runs)", optional=True)
    segment_pair_mass: np.ndarray | None = tensor("[L, H, S, S]", "`segment_mass` averaged over each segment's query "
                                                  "tokens: row = the attending segment, column = the attended one",
                                                  optional=True)
    maps: np.ndarray | None = tensor("[L, H, T, T]", "full token-by-token attention, `[query, key]`; present only "
                                     "when `T <= analyses.attention.max_map_tokens`", optional=True)
    pooled_heads: np.ndarray | None = tensor("[n, 2]", "for longer sequences: the `(layer, head)` pairs listed in "
                                             "`analyses.attention.map_heads`", dtype="int64", optional=True)
    pooled_mean: np.ndarray | None = tensor("[n, B, B]", "their maps pooled into `B x B` blocks "
                                            "(`analyses.attention.pooled_map_size`): mean weight of each block",
                                            optional=True)
    pooled_max: np.ndarray | None = tensor("[n, B, B]", "the same blocks' largest weight", optional=True)
    pooled_edges: np.ndarray | None = tensor("[B + 1]", "token index where each block starts, then `T`: block `i` "
                                             "covers tokens `pooled_edges[i]:pooled_edges[i+1]`", dtype="int64",
                                             optional=True)

    def steps_mass(self, trajectory: Trajectory) -> np.ndarray:
        """[layer, head] mass the answer puts on all reasoning steps together."""
        return answer_steps_mass(self.answer_segment_mass, trajectory)


@dataclass(frozen=True)
class AttentionSummary(DatasetSummary):
    """Attention entropy over a dataset."""

    n_examples: int = value("how many examples the means are over")
    mean_entropy_by_layer: tuple[float, ...] = value("`[L]` mean entropy per layer (over heads, queries 1.. and "
                                                     "examples)")
    std_entropy_by_layer: tuple[float, ...] = value("`[L]` standard deviation across examples of each example's "
                                                    "mean entropy in that layer")
    mean_entropy_by_layer_head: tuple[tuple[float, ...], ...] = value("`[L][H]` mean entropy per layer and head")


@dataclass(frozen=True, eq=False)
class AttentionDigest(ExampleResult):
    """What dataset-level statistics need of an example: two small tensors of its attention file."""

    analysis = "attention"
    projection = True
    answer_segment_mass: np.ndarray = tensor("[L, H, S]", "as in AttentionExample")
    mean_entropy: np.ndarray = tensor("[L, H]", "as in AttentionExample")

    def steps_mass(self, trajectory: Trajectory) -> np.ndarray:
        """[layer, head] mass the answer puts on all reasoning steps together."""
        return answer_steps_mass(self.answer_segment_mass, trajectory)


def answer_steps_mass(answer_segment_mass: np.ndarray, trajectory: Trajectory) -> np.ndarray:
    """``[L, H, S]`` answer mass per segment -> ``[L, H]`` on the reasoning steps together."""
    steps = [i for i, seg in enumerate(trajectory.segments) if seg.is_reasoning]
    if not steps:
        return np.zeros(answer_segment_mass.shape[:2], dtype=np.float32)
    return answer_segment_mass[:, :, steps].sum(axis=2)


ATTENTION = declare_analysis(AnalysisDeclaration(
    name="attention", page_order=30, example=AttentionExample, summary=AttentionSummary,
    description="Attention of every layer and head: segment mass, entropy, maximum weight, maps.",
    analysis="generator.analyses.attention:AttentionAnalysis",
    dataset_section="generator.render.sections.attention:attention_dataset",
    example_section="generator.render.sections.attention:attention_example"))


def answer_queries(trajectory: Trajectory) -> np.ndarray:
    """Token positions whose attention 'the answer pays': the answer span, else the last token."""
    for seg in trajectory.segments:
        if seg.kind == "answer":
            return np.arange(seg.start, seg.end)
    return np.array([len(trajectory.tokens) - 1])


def attention_example(segment_mass: np.ndarray, entropy: np.ndarray, max_weight: np.ndarray,
                      trajectory: Trajectory, max_segment_mass_bytes: float = float("inf"),
                      **maps: np.ndarray | None) -> AttentionExample:
    """The stored result from per-query summaries: the answer's mass and mean entropy defined once.

    The per-token ``segment_mass`` grows as tokens x segments (an agent run of 2,500 tokens and
    120 steps on 28 x 12 heads: 411 MB); above ``max_segment_mass_bytes`` only its averages per
    segment (``segment_pair_mass``, ``answer_segment_mass``) are kept.
    """
    n_tokens = entropy.shape[2]
    return AttentionExample(
        segment_mass=segment_mass if segment_mass.nbytes <= max_segment_mass_bytes else None,
        segment_pair_mass=segment_pair_mass(segment_mass, trajectory),
        entropy=entropy,
        max_weight=max_weight,
        answer_segment_mass=segment_mass[:, :, answer_queries(trajectory), :].mean(axis=2),
        mean_entropy=entropy[:, :, 1:].mean(axis=2) if n_tokens > 1 else entropy[:, :, 0],
        **maps,
    )


def segment_pair_mass(segment_mass: np.ndarray, trajectory: Trajectory) -> np.ndarray:
    """``[L, H, T, S]`` -> ``[L, H, S, S]``: each segment's query tokens' mass, averaged (NaN for an empty one)."""
    n_segments = segment_mass.shape[3]
    pairs = np.full(segment_mass.shape[:2] + (n_segments, n_segments), np.nan, dtype=np.float32)
    for index, segment in enumerate(trajectory.segments[:n_segments]):
        if segment.end > segment.start:
            pairs[:, :, index] = segment_mass[:, :, segment.start:segment.end].mean(axis=2)
    return pairs


def summaries_from_weights(maps: np.ndarray, segment_ids: np.ndarray, n_segments: int):
    """(segment mass, entropy, max weight) of full weight maps [L, H, Tq, Tk]; for imported maps."""
    one_hot = np.zeros((maps.shape[-1], n_segments), dtype=np.float64)
    rows = np.flatnonzero(segment_ids >= 0)
    one_hot[rows, segment_ids[rows]] = 1.0
    safe = np.where(maps > 0, maps, 1.0)
    entropy = -(np.where(maps > 0, maps * np.log(safe), 0.0)).sum(-1)
    return ((maps @ one_hot).astype(np.float32), entropy.astype(np.float32), maps.max(-1).astype(np.float32))


def summarize_attention(results: list[AttentionDigest]) -> AttentionSummary:
    per_head = np.stack([r.mean_entropy for r in results])  # [example, layer, head]
    return AttentionSummary(
        n_examples=len(results),
        mean_entropy_by_layer=tuple(per_head.mean(axis=(0, 2)).tolist()),
        std_entropy_by_layer=tuple(per_head.mean(axis=2).std(axis=0).tolist()),
        mean_entropy_by_layer_head=tuple(tuple(row) for row in per_head.mean(axis=0).tolist()),
    )
