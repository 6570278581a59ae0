"""Direct logit attribution: the answer token's logit split into what each component wrote.

In a pre-norm transformer the residual stream before the final norm is the embedding plus
every layer's attention and MLP output. Freezing the final RMS norm's scale at its value on
that whole residual makes the norm linear, so the logit of the answer's first token is
exactly the sum of each component's contribution through the norm's weight and the token's
unembedding row (the approximation: a component's contribution ignores how removing it would
rescale the norm). Heads are their slices of the attention output's projection.

With ``by_token``, each layer's attention contribution is split further by source token: the
attention output at the predicting position is ``sum_j a_j v_j`` per head, so the token ``j``
sends ``a_j v_j`` through the head's projection slice; those terms sum to the layer's attention
contribution (the seed's residual-stream decomposition: which tokens' information reaches the
answer, through which layer).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.scoring import teacher_forced_answer
from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.capture.architectures import layer_module
from generator.capture.attention_rows import attention_row_recorded
from generator.capture.interventions import Site, recording
from generator.results.logit_attribution import LOGIT_ATTRIBUTION, LogitAttributionExample, LogitAttributionSummary, SegmentContribution
from generator.results.statistics import MeanWithCI
from generator.store.records import Trajectory

APPROXIMATION = ("final RMS norm's scale frozen at its value on the whole residual; contributions are linear "
                 "through its weight and the unembedding")
# Families whose residual is the plain sum of block outputs, with an RMS norm before the unembedding.
PRE_NORM_RMS = {"llama", "qwen2", "qwen3", "mistral", "phi3"}


@dataclass(frozen=True)
class LogitAttributionOptions:
    heads: bool = True  # also attribute to single heads
    by_token: bool = True  # also split each layer's attention contribution by source token


def final_norm(model):
    model_type = model.config.get_text_config().model_type
    norm = getattr(getattr(model, "model", None), "norm", None)
    if model_type not in PRE_NORM_RMS or norm is None:
        raise AnalysisError(f"logit_attribution: {model_type} is not supported (it needs a pre-norm residual stream "
                            f"with an RMS final norm: {', '.join(sorted(PRE_NORM_RMS))})")
    return norm


def attribute(model, ids: list[int], start: int, heads: bool = True, by_token: bool = False) -> dict[str, np.ndarray]:
    """Contributions to the logit of ``ids[start]`` at position ``start - 1``."""
    import torch

    norm = final_norm(model)
    config = model.config.get_text_config()
    layers, n_heads = config.num_hidden_layers, config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    sites = ([Site(0, "resid_pre")] + [Site(l, c) for l in range(layers) for c in ("attn_out", "mlp_out")]
             + ([Site(l, "head", h) for l in range(layers) for h in range(n_heads)] if heads else []))
    seen_final: dict[str, Any] = {}
    hook = norm.register_forward_pre_hook(lambda module, args: seen_final.__setitem__("resid", args[0].detach()))
    rows = attention_row_recorded(model, start - 1) if by_token else contextlib.nullcontext({})
    try:
        with torch.no_grad(), recording(model, sites) as seen, rows as kept:
            logits = model(input_ids=torch.tensor([ids], device=model.device), use_cache=False,
                           logits_to_keep=len(ids) - start + 1).logits  # position start - 1 is row 0
    finally:
        hook.remove()
    at, token = start - 1, ids[start]
    resid = seen_final["resid"][0, at].double()
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    scale = torch.rsqrt(resid.pow(2).mean() + eps)
    direction = (scale * norm.weight.detach().double() * model.get_output_embeddings().weight[token].detach().double())

    def through(vector) -> float:
        return float(vector.double() @ direction)

    out = {"embedding": np.array([through(seen[Site(0, "resid_pre")][0, at])]),
           "attention": np.array([through(seen[Site(l, "attn_out")][0, at]) for l in range(layers)]),
           "mlp": np.array([through(seen[Site(l, "mlp_out")][0, at]) for l in range(layers)]),
           "logit": np.array([float(logits[0, 0, token])])}
    grid = np.zeros((layers, n_heads))
    if heads:
        for l in range(layers):
            weight = layer_module(model, l, "attention_output").weight.detach()
            for h in range(n_heads):
                columns = slice(h * head_dim, (h + 1) * head_dim)
                grid[l, h] = through(seen[Site(l, "head", h)][0, at].double() @ weight[:, columns].double().T)
    out["heads"] = grid
    if by_token:
        tokens = np.zeros((layers, len(ids)))
        for l in range(layers):
            weights, values = kept[l]  # [H, T], [H, T, d_head]
            projection = layer_module(model, l, "attention_output").weight.detach().double()
            per_head = projection.T.reshape(n_heads, head_dim, -1) @ direction  # [H, d_head]: each head's reading
            sent = (values.double() @ per_head.unsqueeze(-1)).squeeze(-1) * weights.double()  # [H, T]
            tokens[l] = sent.sum(0).cpu().numpy()
        out["by_token"] = tokens
    return out


class LogitAttributionAnalysis(Analysis):
    declaration = LOGIT_ATTRIBUTION
    options_type = LogitAttributionOptions

    def check_model(self, model, options) -> None:
        final_norm(model)

    def analyze_example(self, context: ExampleContext, options: LogitAttributionOptions) -> LogitAttributionExample:
        config = context.model.config.get_text_config()
        layers, heads = config.num_hidden_layers, config.num_attention_heads
        forced = teacher_forced_answer(context.trajectory, context.tokenizer, context.segmentation)
        if forced is None:
            nan = np.full(layers, np.nan, dtype=np.float32)
            return LogitAttributionExample(nan, nan.copy(), np.full((layers, heads), np.nan, dtype=np.float32),
                                           np.array([np.nan], dtype=np.float32), np.array([np.nan], dtype=np.float32))
        parts = attribute(context.model, *forced, heads=options.heads, by_token=options.by_token)
        result = LogitAttributionExample(*(parts[k].astype(np.float32)
                                           for k in ("attention", "mlp", "heads", "embedding", "logit")))
        if options.by_token:
            start = forced[1]
            by_token = parts["by_token"][:, :start].astype(np.float32)
            by_segment = np.stack([by_token[:, s.start:min(s.end, start)].sum(axis=1)
                                   for s in context.trajectory.segments if s.start < start], axis=1) \
                if any(s.start < start for s in context.trajectory.segments) else np.zeros((layers, 0), np.float32)
            result = dataclasses.replace(result, by_token=by_token, by_segment=by_segment.astype(np.float32))
        return result

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[LogitAttributionExample],
                          options, others: Mapping[type, list[Any]]) -> LogitAttributionSummary:
        scored = [d for d in digests if d is not None and not math.isnan(float(d.logit[0]))]
        if not scored:
            return LogitAttributionSummary(0, APPROXIMATION, None, None, None, None)

        def mean(key: str) -> np.ndarray:
            return np.mean([getattr(d, key) for d in scored], axis=0)

        def intervals(key: str) -> np.ndarray:
            """Per component (the array's shape), the mean over the scored examples with its t interval."""
            values = np.stack([getattr(d, key) for d in scored]).astype(np.float64)
            flat = values.reshape(len(scored), -1)
            return np.array([MeanWithCI.of(flat[:, i]) for i in range(flat.shape[1])],
                            dtype=object).reshape(values.shape[1:])

        heads_ci = intervals("heads")
        return LogitAttributionSummary(len(scored), APPROXIMATION, tuple(map(float, mean("attention"))),
                                       tuple(map(float, mean("mlp"))),
                                       tuple(tuple(map(float, row)) for row in mean("heads")),
                                       float(mean("embedding")[0]), by_segment_name(trajectories, digests),
                                       attention_ci=tuple(intervals("attention")), mlp_ci=tuple(intervals("mlp")),
                                       heads_ci=tuple(tuple(row) for row in heads_ci),
                                       embedding_ci=intervals("embedding")[0])


def by_segment_name(trajectories: Sequence[Trajectory], digests: list) -> tuple[SegmentContribution, ...]:
    """Mean contribution of each segment name (in order of first appearance) over the examples that have it."""
    sums: dict[str, list[np.ndarray]] = {}
    for trajectory, digest in zip(trajectories, digests):
        if digest is None or digest.by_segment is None or math.isnan(float(digest.logit[0])):
            continue
        for index, segment in enumerate(trajectory.segments[:digest.by_segment.shape[1]]):
            sums.setdefault(segment.name, []).append(digest.by_segment[:, index])
    return tuple(SegmentContribution(name, len(rows), tuple(map(float, np.mean(rows, axis=0))))
                 for name, rows in sums.items())
