"""Attention capture through transformers' ``AttentionInterface``.

While a capture is active, the model's attention layers call ``_capturing_attention``
instead of their usual kernel. It computes the layer's output exactly as eager attention
does and hands the attention weights to the active recorder, which reduces them to what
pages need (segment mass, entropy, max weight, and optionally the full maps).

The capture is installed for one forward pass inside a ``with`` block and removed after,
whatever happens. Everything outside this module sees only ``capture_attention`` and
``AttentionCapture``, so a faster engine can replace the internals without touching callers.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator

import numpy as np

CAPTURE_IMPLEMENTATION = "atlas_capture"


class CaptureError(RuntimeError):
    """A model whose attention cannot be captured exactly; never silently wrong numbers."""


@dataclass
class AttentionCapture:
    """Per-layer, per-head attention summaries of one sequence (float32 numpy arrays)."""

    segment_mass: np.ndarray  # [layer, head, query, segment]: weight each query puts on each segment
    entropy: np.ndarray  # [layer, head, query]: entropy (nats) of each query's distribution
    max_weight: np.ndarray  # [layer, head, query]: largest single weight of each query
    maps: np.ndarray | None  # [layer, head, query, key]: full maps, only when asked for


class _Recorder:
    """Collects one sequence's attention, layer by layer, as the forward pass runs."""

    def __init__(self, segment_matrix, keep_maps: bool) -> None:
        self.segment_matrix = segment_matrix  # [key, segment] one-hot, float32
        self.keep_maps = keep_maps
        self.by_layer: dict[int, dict[str, np.ndarray]] = {}
        self.calls = 0

    def record(self, layer: int, weights) -> None:
        import torch

        self.calls += 1
        w = weights[0].float()  # [head, query, key]
        mass = w @ self.segment_matrix  # [head, query, segment]
        entropy = -(torch.where(w > 0, w * torch.log(w), torch.zeros_like(w))).sum(-1)
        entry = {
            "segment_mass": mass.cpu().numpy(),
            "entropy": entropy.cpu().numpy(),
            "max_weight": w.max(-1).values.cpu().numpy(),
        }
        if self.keep_maps:
            entry["maps"] = w.cpu().numpy()
        self.by_layer[layer] = entry


_ACTIVE: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar("atlas_recorder", default=None)

# Keyword arguments that change attention in ways this function does not implement. A model
# that passes one is refused rather than captured wrongly.
_UNSUPPORTED_KWARGS = ("s_aux", "sinks")


def _capturing_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """Eager attention, weights recorded. Shapes: query [batch, head, q, d], key/value [batch, kv_head, k, d]."""
    import torch

    for name in _UNSUPPORTED_KWARGS:
        if kwargs.get(name) is not None:
            raise CaptureError(
                f"{type(module).__name__} passes {name!r} to its attention function (attention sinks); "
                "Attention Atlas cannot capture this architecture exactly yet"
            )
    groups = query.shape[1] // key.shape[1]
    key_states = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    value_states = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    scores = torch.matmul(query, key_states.transpose(2, 3)) * scaling  # [batch, head, q, k]
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key_states.shape[-2]]
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    recorder = _ACTIVE.get()
    if recorder is not None:
        layer = getattr(module, "layer_idx", None)
        recorder.record(recorder.calls if layer is None else layer, weights)
    output = torch.matmul(weights, value_states).transpose(1, 2).contiguous()
    return output, weights


def _register_once() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    if CAPTURE_IMPLEMENTATION not in AttentionInterface._global_mapping:
        AttentionInterface.register(CAPTURE_IMPLEMENTATION, _capturing_attention)
    if CAPTURE_IMPLEMENTATION not in AttentionMaskInterface._global_mapping:
        # Without a registered mask function the mask would silently be None (wrong for padding).
        AttentionMaskInterface.register(CAPTURE_IMPLEMENTATION, eager_mask)


@contextlib.contextmanager
def _capturing(model, recorder: _Recorder) -> Iterator[None]:
    """Route the model's attention through the recorder for the duration of the block."""
    _register_once()
    previous = model.config._attn_implementation
    model.set_attn_implementation(CAPTURE_IMPLEMENTATION)
    if model.config._attn_implementation != CAPTURE_IMPLEMENTATION:
        raise CaptureError(
            f"{type(model).__name__} does not dispatch attention through transformers' AttentionInterface; "
            "its attention cannot be captured"
        )
    token = _ACTIVE.set(recorder)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        model.set_attn_implementation(previous)


def segment_matrix(segment_ids: np.ndarray, n_segments: int) -> np.ndarray:
    """One-hot [token, segment] matrix; tokens with id -1 belong to no segment."""
    matrix = np.zeros((len(segment_ids), n_segments), dtype=np.float32)
    rows = np.flatnonzero(segment_ids >= 0)
    matrix[rows, segment_ids[rows]] = 1.0
    return matrix


def capture_attention(model, input_ids, segment_ids: np.ndarray, n_segments: int, keep_maps: bool) -> AttentionCapture:
    """Run one sequence (``input_ids`` of shape [1, T]) and return its attention summaries."""
    import torch

    if input_ids.shape[0] != 1:
        raise ValueError(f"capture_attention takes one sequence at a time, got a batch of {input_ids.shape[0]}")
    seg = torch.from_numpy(segment_matrix(np.asarray(segment_ids), n_segments)).to(input_ids.device)
    recorder = _Recorder(seg, keep_maps)
    with _capturing(model, recorder), torch.no_grad():
        model(input_ids=input_ids, use_cache=False)
    n_layers = model.config.get_text_config().num_hidden_layers
    if sorted(recorder.by_layer) != list(range(n_layers)):
        raise CaptureError(
            f"{type(model).__name__}: captured attention for layers {sorted(recorder.by_layer)}, "
            f"expected 0..{n_layers - 1}; this architecture is not supported"
        )
    layers = [recorder.by_layer[i] for i in range(n_layers)]
    stack = lambda key: np.stack([entry[key] for entry in layers]).astype(np.float32)  # noqa: E731
    return AttentionCapture(
        segment_mass=stack("segment_mass"),
        entropy=stack("entropy"),
        max_weight=stack("max_weight"),
        maps=stack("maps") if keep_maps else None,
    )
