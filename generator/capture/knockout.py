"""Attention knockout: no query outside a part may attend to the part's tokens.

Implemented as an attention function registered with ``AttentionInterface`` (eager
attention with one more mask), active for one forward pass inside a ``with`` block.
"""

from __future__ import annotations

import contextvars

from generator.capture.attention import attention_routed, eager_output

KNOCKOUT_IMPLEMENTATION = "atlas_knockout"
_BLOCKED: contextvars.ContextVar = contextvars.ContextVar("atlas_knockout", default=None)


def _knockout_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """Eager attention with knocked-out keys. query [batch, head, q, d]; key/value [batch, kv_head, k, d]."""
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    knocked = None
    state = _BLOCKED.get()
    if state is not None and (state[1] is None or getattr(module, "layer_idx", None) in state[1]):
        n_q, n_k = query.shape[2], key.shape[2]
        blocked = state[0][:, :n_k]  # [batch, key]
        query_blocked = blocked[:, n_k - n_q:]  # queries are the last n_q positions
        knocked = blocked[:, None, None, :] & ~query_blocked[:, None, :, None]
    return eager_output(module, query, key, value, attention_mask, scaling, softcap, knocked), None


def knocked_out(model, blocked, layers: set[int] | None = None):
    """``blocked`` [batch, pos] bool: keys no outside query may see, at ``layers`` (all when None)."""
    return attention_routed(model, KNOCKOUT_IMPLEMENTATION, _knockout_attention, _BLOCKED, (blocked, layers))
