"""Attention transplantation: one run's attention weights recorded, then used in place of another's.

Both run through an attention function registered with ``AttentionInterface`` (eager attention,
whose weights can be kept or replaced). Replacement is batched: batch row ``i`` takes the
donor's weights at the layers ``rows[i]`` names, so every layer's transplant is one forward pass.
The donor is either recorded first (every layer's ``heads x T x T`` weights kept: 1.3 GB for
28 layers x 12 heads at 1,024 tokens in float32) or, cheaper, run as row 0 of the same batch,
its weights copied layer by layer as they are computed and never kept.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Iterator

from generator.capture.attention import attention_routed, eager_weights, weighted_values

TRANSPLANT_IMPLEMENTATION = "atlas_transplant"
_STATE: contextvars.ContextVar = contextvars.ContextVar("atlas_transplant", default=None)


@dataclass
class _Plan:
    recorded: dict = field(default_factory=dict)  # layer -> weights [batch, head, q, k] (record mode)
    donor: dict | None = None  # layer -> weights [1, head, q, k] to put in
    # per batch row: what takes the donor's weights: layers (every head) and/or (layer, head) pairs
    rows: list[set] = field(default_factory=list)
    keep: set[int] | None = None  # record mode: the layers whose weights are kept (None: all)
    donor_in_batch: bool = False  # batch row 0 is the donor: its weights, as computed, are the ones put in


BLOCK_BYTES = 256 * 2**20  # weights of one block of query rows, across the batch and heads


def _transplant_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None,
                          **kwargs):
    import torch

    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    plan: _Plan = _STATE.get()
    layer = getattr(module, "layer_idx", None)
    if plan.donor is None and not plan.donor_in_batch:
        weights = eager_weights(query, key, attention_mask, scaling, softcap)
        if plan.keep is None or layer in plan.keep:
            plan.recorded[layer] = weights.detach().clone()
        return weighted_values(weights, value), None
    taken = [(row, heads) for row, spec in enumerate(plan.rows) if (heads := heads_taken(spec, layer)) is not None]
    n_queries, n_keys = query.shape[2], key.shape[2]
    if attention_mask is None:  # causal, queries last: made explicit so that blocks of queries can slice it
        attention_mask = torch.ones(n_queries, n_keys, dtype=torch.bool, device=query.device).tril(
            n_keys - n_queries)[None, None]
    # blocks of query rows: the batch's weights are never all held at once (rows x heads x T x T)
    block = max(1, BLOCK_BYTES // (query.shape[0] * query.shape[1] * n_keys * 4))
    outputs = []
    for first in range(0, n_queries, block):
        rows = slice(first, first + block)
        weights = eager_weights(query[:, :, rows], key, attention_mask[:, :, rows], scaling, softcap)
        if taken:
            source = weights[:1] if plan.donor_in_batch else plan.donor[layer][:, :, rows].to(weights.dtype)
            for row, heads in taken:
                weights[row, heads] = source[0, heads]
        outputs.append(weighted_values(weights, value))
    return torch.cat(outputs, dim=1), None


def heads_taken(spec: set, layer: int) -> slice | list[int] | None:
    """Which heads of ``layer`` a row's spec transplants: all (the layer is in it), some ((layer, head) pairs), none."""
    if layer in spec:
        return slice(None)
    heads = sorted(item[1] for item in spec if isinstance(item, tuple) and item[0] == layer)
    return heads or None


@contextlib.contextmanager
def attention_recorded(model, layers=None) -> Iterator[dict]:
    """Every layer's (or ``layers``') attention weights of the forward passes in the block.

    Yields layer -> weights ``[batch, head, q, k]``."""
    plan = _Plan(keep=None if layers is None else set(layers))
    with attention_routed(model, TRANSPLANT_IMPLEMENTATION, _transplant_attention, _STATE, plan):
        yield plan.recorded


def attention_transplanted(model, donor: dict, rows: list[set]):
    """Batch row ``i`` runs with ``donor``'s weights where ``rows[i]`` says (layers, or (layer, head) pairs);
    everything else computes its own."""
    return attention_routed(model, TRANSPLANT_IMPLEMENTATION, _transplant_attention, _STATE,
                            _Plan(donor=donor, rows=rows))


def attention_transplanted_in_batch(model, rows: list[set]):
    """Batch row 0 is the donor (run as itself); row ``i + 1`` takes its weights where ``rows[i]`` says."""
    return attention_routed(model, TRANSPLANT_IMPLEMENTATION, _transplant_attention, _STATE,
                            _Plan(rows=[set()] + list(rows), donor_in_batch=True))
