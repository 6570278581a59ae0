"""Attention knockout: no query outside a part may attend to the part's tokens.

Implemented as an attention function registered with ``AttentionInterface`` (eager
attention with one more mask), active for one forward pass inside a ``with`` block.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

KNOCKOUT_IMPLEMENTATION = "atlas_knockout"
_BLOCKED: contextvars.ContextVar = contextvars.ContextVar("atlas_knockout", default=None)


def _knockout_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """query [batch, head, q, d]; key/value [batch, kv_head, k, d]; blocked: [batch, k] bool."""
    import torch

    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    value = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    scores = torch.matmul(query.float(), key.float().transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    lowest = torch.finfo(scores.dtype).min
    n_q, n_k = query.shape[2], key.shape[2]
    if attention_mask is not None:
        mask = attention_mask[:, :, :, :n_k]
        scores = scores.masked_fill(~mask, lowest) if mask.dtype == torch.bool else scores + mask.float()
    else:
        allowed = torch.ones(n_q, n_k, dtype=torch.bool, device=query.device).tril(n_k - n_q)
        scores = scores.masked_fill(~allowed, lowest)
    state = _BLOCKED.get()
    layer = getattr(module, "layer_idx", None)
    if state is not None and (state[1] is None or layer in state[1]):
        blocked = state[0][:, :n_k]  # [batch, key]
        query_blocked = blocked[:, n_k - n_q:]  # queries are the last n_q positions
        knocked = blocked[:, None, None, :] & ~query_blocked[:, None, :, None]
        scores = scores.masked_fill(knocked, lowest)
    weights = torch.softmax(scores, dim=-1)
    output = torch.matmul(weights, value.float()).to(query.dtype)
    return output.transpose(1, 2).contiguous(), None


def _register_once() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if KNOCKOUT_IMPLEMENTATION not in AttentionInterface._global_mapping:
        AttentionInterface.register(KNOCKOUT_IMPLEMENTATION, _knockout_attention)
    if KNOCKOUT_IMPLEMENTATION not in AttentionMaskInterface._global_mapping:
        AttentionMaskInterface.register(KNOCKOUT_IMPLEMENTATION, sdpa_mask)


@contextlib.contextmanager
def knocked_out(model, blocked, layers: set[int] | None = None) -> Iterator[None]:
    """``blocked`` [batch, pos] bool: keys no outside query may see, at ``layers`` (all when None)."""
    from generator.capture.attention import CaptureError

    _register_once()
    previous = model.config._attn_implementation
    model.set_attn_implementation(KNOCKOUT_IMPLEMENTATION)
    if model.config._attn_implementation != KNOCKOUT_IMPLEMENTATION:
        raise CaptureError(f"{type(model).__name__} does not dispatch attention through AttentionInterface; "
                           "attention knockout is not possible")
    token = _BLOCKED.set((blocked, layers))
    try:
        yield
    finally:
        _BLOCKED.reset(token)
        model.set_attn_implementation(previous)
