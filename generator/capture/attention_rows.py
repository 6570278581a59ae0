"""One query position's attention, kept with the values it mixes: what each source token sends.

The attention output at position ``q`` is ``sum_j a_qj v_j`` per head; keeping the row ``a_q``
and the values ``v`` of every layer splits that output, and whatever is linear in it (a direct
logit contribution), into one term per source token. Runs through an eager attention function
registered with ``AttentionInterface``; only ``[heads, T]`` weights and ``[heads, T, d_head]``
values are kept per layer, never a ``T x T`` map.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Iterator

from generator.capture.attention import attention_routed, eager_weights, weighted_values

ROW_IMPLEMENTATION = "atlas_attention_row"
_STATE: contextvars.ContextVar = contextvars.ContextVar("atlas_attention_row", default=None)


@dataclass
class _Row:
    position: int
    kept: dict = field(default_factory=dict)  # layer -> (weights [head, T], values [head, T, d_head]) of batch row 0


def _row_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    weights = eager_weights(query, key, attention_mask, scaling, softcap)
    plan: _Row = _STATE.get()
    groups = weights.shape[1] // value.shape[1]
    values = value[0].repeat_interleave(groups, dim=0) if groups > 1 else value[0]
    plan.kept[getattr(module, "layer_idx", None)] = (weights[0, :, plan.position].detach().clone(),
                                                     values.detach().clone())
    return weighted_values(weights, value), None


@contextlib.contextmanager
def attention_row_recorded(model, position: int) -> Iterator[dict]:
    """Each layer's attention weights from ``position`` and its values, for the forward pass in the block."""
    plan = _Row(position)
    with attention_routed(model, ROW_IMPLEMENTATION, _row_attention, _STATE, plan):
        yield plan.kept
