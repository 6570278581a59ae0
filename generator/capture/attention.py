"""Attention capture through transformers' ``AttentionInterface``, at bounded memory.

While a capture is active, the model's attention layers call ``_capturing_attention``, which
keeps, per layer, only summaries: mass on each segment, entropy, max weight, and full or
pooled maps for the heads asked for. Nothing of size heads x tokens x tokens is kept for
any layer. Two engines compute them:

- a fused kernel, for layers that keep no map: one flash-style pass gives the layer's output
  and all summaries (Triton on CUDA, ``fused_attention.py``; C compiled for this machine on the
  CPU, ``native_attention.py``);
- everywhere else (layers that keep maps, generation rows, additive masks, or no kernel),
  ``PassRecorder.record`` walks the queries in blocks and recomputes each block's weights in
  float32 from the layer's own queries, keys and mask; in float32 the same pass gives the
  layer's output.

Whatever records (``PassRecorder`` for one forward pass, the generation recorder for rows as
they are generated) follows the ``AttentionRecorder`` protocol: the attention function hands
it each layer and uses the output it returns. The capture is installed for one forward (or
one ``generate``) inside a ``with`` block and removed after, whatever happens. Callers use the
package's public names (``generator.capture``), so the engines can change without touching them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Literal, Protocol, Sequence

import numpy as np

from generator.capture.native_attention import attention_with_summaries_cpu, unavailable_reason
from generator.capture.segment_runs import segment_ids_of, segment_run_ends
from generator.capture.softmax_summaries import MASKED, exp_rows, masked, row_statistics, soft_capped

CAPTURE_IMPLEMENTATION = "atlas_capture"
DEFAULT_BLOCK_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_MAP_TOKENS = 256
Engine = Literal["auto", "torch", "fused"]
ENGINES: tuple[str, ...] = ("auto", "torch", "fused")


class CaptureError(RuntimeError):
    """A model whose attention cannot be captured exactly; never silently wrong numbers."""


@dataclass(frozen=True)
class CaptureOptions:
    """What to keep besides the per-query summaries, which are always captured."""

    max_map_tokens: int = DEFAULT_MAX_MAP_TOKENS  # sequences this short keep every head's full map
    map_heads: tuple[tuple[int, int], ...] = ()  # (layer, head) pairs whose map is kept for longer sequences
    pooled_map_size: int = 128  # longer maps are pooled to this many query x key blocks
    block_bytes: int = DEFAULT_BLOCK_BYTES  # at most this much memory for one block of recomputed scores
    block_bytes_floor: int = 16 * 1024 * 1024  # and at least this much (fewer, larger blocks on short inputs)
    # "auto": a fused kernel for layers that keep no map (Triton on CUDA when installed, C on the
    # CPU when a compiler is there), else the block-wise PyTorch pass; "torch" or "fused" to insist.
    engine: Engine = "auto"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"CaptureOptions.engine: expected one of {', '.join(ENGINES)}, got {self.engine!r}")


@dataclass
class AttentionCapture:
    """Per-layer, per-head attention summaries of one sequence (float32 numpy arrays)."""

    segment_mass: np.ndarray  # [layer, head, query, segment]: weight each query puts on each segment
    entropy: np.ndarray  # [layer, head, query]: entropy (nats) of each query's distribution
    max_weight: np.ndarray  # [layer, head, query]: largest single weight of each query
    maps: np.ndarray | None = None  # [layer, head, query, key]: every head, short sequences only
    pooled_heads: np.ndarray | None = None  # [n, 2] (layer, head) of the pooled maps
    pooled_mean: np.ndarray | None = None  # [n, bins, bins]: mean weight in each query x key block
    pooled_max: np.ndarray | None = None  # [n, bins, bins]: max weight in each block
    pooled_edges: np.ndarray | None = None  # [bins + 1]: token index where each block starts (and the end)


class AttentionRecorder(Protocol):
    """What the capturing attention function hands every layer's attention to, for one forward or generate."""

    calls: int  # layers seen so far (the layer index of modules that carry none)

    def attend(self, layer: int, query, key, value, attention_mask, scaling: float, softcap: float | None):
        """Record the layer; return its output [batch, query, head, dim] if computed here, else None.

        query [batch, head, q, dim]; key and value [batch, kv_head, k, dim]; the mask is boolean
        (True: may attend) or additive, [batch or 1, 1, q, k], or None for plain causal.
        """


def bin_edges(n_tokens: int, n_bins: int) -> np.ndarray:
    n_bins = min(n_bins, n_tokens)
    return np.array([(i * n_tokens) // n_bins for i in range(n_bins + 1)], dtype=np.int64)


@dataclass
class _LayerOperands:
    """One layer's queries (scaled once), keys and the right-hand matrix of the block-wise pass."""

    q: object  # [batch, kv_head, group, query, dim] float32, scaled
    k: object  # [batch, kv_head, key, dim] float32, contiguous: row slices stay contiguous for bmm
    right: object  # [batch, kv_head, key, (value dim +) segment + 1 + padding]
    batch: int
    n_heads: int
    n_kv_heads: int
    groups: int
    head_dim: int
    n_queries: int
    n_keys: int
    n_value: int
    n_segments: int
    z_column: int  # the ones column of ``right``: z = sum e

    @property
    def offset(self) -> int:
        return self.n_keys - self.n_queries  # queries are the last n_queries positions (bottom-right causal)

    @classmethod
    def of(cls, query, key, value, segment_matrix, scaling: float) -> "_LayerOperands":
        import torch

        batch, n_heads, n_queries, head_dim = query.shape
        n_kv_heads, n_keys = key.shape[1], key.shape[2]
        groups = n_heads // n_kv_heads
        q = (query.float() * scaling).reshape(batch, n_kv_heads, groups, n_queries, head_dim)
        seg = segment_matrix[:, :n_keys].unsqueeze(1).expand(batch, n_kv_heads, n_keys, -1)
        # [(V |) S | 1 | 0...]: the ones column gives z = sum e; zero columns pad the width to a
        # multiple of 8, which CPU matrix kernels handle much faster (37 columns: 1.4 ms, 40: 1.1 ms)
        n_value = value.shape[-1] if value is not None else 0
        n_right = n_value + seg.shape[-1] + 1
        extra = torch.zeros(batch, n_kv_heads, n_keys, 1 + (-n_right) % 8, device=query.device)
        extra[..., 0] = 1.0
        right = torch.cat(([value.float()] if value is not None else []) + [seg, extra], dim=-1)
        return cls(q, key.float().contiguous(), right, batch, n_heads, n_kv_heads, groups, head_dim, n_queries,
                   n_keys, n_value, seg.shape[-1], n_right - 1)


@dataclass
class _LayerBlocks:
    """What the blocks of one layer produce, concatenated along queries at the end."""

    heads_here: list[int]  # heads of this layer whose pooled map is kept
    segment_mass: list = field(default_factory=list)
    entropy: list = field(default_factory=list)
    max_weight: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    tails: list = field(default_factory=list)
    maps: list = field(default_factory=list)
    pooled_sum: object = None
    pooled_max: object = None

    def output(self):
        import torch

        return torch.cat(self.outputs, dim=2).transpose(1, 2).contiguous()  # [batch, query, head, dim]


def _visible_keys(attention_mask, start: int, stop: int, ops: _LayerOperands) -> tuple[int, int]:
    """Keys [first, last) that some query row start:stop may see; every weight outside is exactly zero.

    Causal blocks skip the future, sliding windows the distant past.
    """
    import torch

    if attention_mask is None:
        return 0, min(ops.n_keys, stop + ops.offset)
    if attention_mask.dtype != torch.bool:
        return 0, ops.n_keys
    visible = torch.nonzero(attention_mask[:, :, start:stop, :ops.n_keys].any(dim=(0, 1, 2)))
    return (int(visible[0]), int(visible[-1]) + 1) if len(visible) else (0, 1)


class PassRecorder:
    """Receives each layer's queries/keys/mask and keeps only the summaries."""

    def __init__(self, segment_matrix, options: CaptureOptions, n_tokens: int, tail: int = 0) -> None:
        self.segment_matrix = segment_matrix  # [batch, key, segment] float32 one-hot (0 rows for padding)
        self.options = options
        self.tail = tail  # also keep each row's weights on the last `tail` keys
        self.keep_all_maps = n_tokens <= options.max_map_tokens
        self.pooled = () if self.keep_all_maps else tuple(options.map_heads)
        self.edges = None if self.keep_all_maps else bin_edges(n_tokens, options.pooled_map_size)
        self.by_layer: dict[int, dict[str, object]] = {}
        self.calls = 0
        self._buffer = None
        self._segment_ids = None  # [batch, key] int32, -1 for no segment: the fused kernel's form of the matrix
        self._run_ends = None  # [batch, key] int32: where each key's run of one segment ends
        self._causal_masks: dict[tuple, bool] = {}

    def fuses(self, layer: int, query, attention_mask) -> bool:
        """Whether this layer's output and summaries come from a fused kernel (CUDA or CPU).

        Layers that keep maps or tails, and float (additive) masks, use the block-wise pass.
        """
        import torch

        engine = self.options.engine
        if engine == "torch" or self.keep_all_maps or self.tail or any(l == layer for l, _ in self.pooled):
            return False
        if attention_mask is not None and attention_mask.dtype != torch.bool:
            return False
        problem = fused_kernel_problem(query.device.type)
        if problem is not None and engine == "fused":
            raise CaptureError(f"capture engine 'fused': {problem}; use engine 'auto' or 'torch'")
        if problem is not None and query.device.type == "cpu":
            _warn_once(f"the CPU attention kernel is not available ({problem}); capturing with the slower "
                       "PyTorch pass, same numbers")
        return problem is None

    def record_fused(self, layer: int, query, key, value, attention_mask, scaling: float, softcap: float | None):
        """Output and summaries of one layer from the fused kernel; returns the output [batch, q, head, dim]."""
        self.calls += 1
        if self._segment_ids is None:
            self._segment_ids = segment_ids_of(self.segment_matrix)
            self._run_ends = segment_run_ends(self._segment_ids)
        causal = attention_mask is None or self._is_causal(attention_mask, key.shape[2])
        output, mass, entropy, max_weight = fused_kernel(query.device.type)(
            query, key, value, self._segment_ids, self.segment_matrix.shape[-1], attention_mask, scaling, softcap,
            causal=causal, run_ends=self._run_ends)
        self.by_layer[layer] = {"segment_mass": mass, "entropy": entropy, "max_weight": max_weight}
        return output

    def _is_causal(self, mask, n_keys: int, rows_per_check: int = 1024) -> bool:
        """No query may see a later key (checked once per mask, a slab of rows at a time)."""
        import torch

        signature = (mask.data_ptr(), tuple(mask.shape), tuple(mask.stride()))
        if signature not in self._causal_masks:
            n_queries = mask.shape[2]
            offset = n_keys - n_queries
            keys = torch.arange(mask.shape[3], device=mask.device)
            future_seen = False
            for start in range(0, n_queries, rows_per_check):
                rows = torch.arange(start, min(n_queries, start + rows_per_check), device=mask.device) + offset
                future = keys[None, :] > rows[:, None]
                if (mask[:, :, start:start + rows_per_check] & future).any():
                    future_seen = True
                    break
            self._causal_masks[signature] = not future_seen
        return self._causal_masks[signature]

    def attend(self, layer: int, query, key, value, attention_mask, scaling: float, softcap: float | None):
        """Summarise one layer; return its output when this pass computed it, else None.

        In float32 the block-wise pass's output equals eager attention, so the scores are
        computed once. In half precision on the CPU the model's own kernel gives the output and
        the summaries come from beside it, so logits stay bit for bit; on CUDA the fused
        kernel's own output is the point (flash speed).
        """
        import torch

        exact = query.dtype == torch.float32
        if self.fuses(layer, query, attention_mask):
            output = self.record_fused(layer, query, key, value, attention_mask, scaling, softcap)
            return output if exact or query.is_cuda else None
        if exact:
            return self.record(layer, query, key, attention_mask, scaling, softcap, value=value)
        self.record(layer, query, key, attention_mask, scaling, softcap)
        return None

    def record(self, layer: int, query, key, attention_mask, scaling: float, softcap: float | None, value=None):
        """Reduce one layer's attention to summaries, one block of query rows at a time.

        Per block: scores s (from queries scaled once), e = exp(s - m) into a second buffer so
        s is kept, then one matmul e @ [(V |) S | 1] gives the output, the segment mass and
        z = sum(e) (the ones column: no separate reduction pass); ``softmax_summaries`` turns
        e, s, m and z into the largest weight and the entropy. (Taking sum_k p_k s_k as
        q . (e @ K) instead costs 32 more matmul columns, slower on CPU than the dot product.)
        With ``value`` given, returns the layer's output [batch, query, head, dim].
        """
        self.calls += 1
        operands = _LayerOperands.of(query, key, value, self.segment_matrix, scaling)
        blocks = _LayerBlocks(heads_here=[h for (l, h) in self.pooled if l == layer])
        step = self._rows_per_block(query, operands.n_keys)
        for start in range(0, operands.n_queries, step):
            stop = min(operands.n_queries, start + step)
            first, last = _visible_keys(attention_mask, start, stop, operands)
            scores = self._block_scores(operands, attention_mask, softcap, start, stop, first, last)
            self._summarise_block(operands, blocks, scores, start, first, last)
        self.by_layer[layer] = self._layer_entry(blocks)
        if operands.n_value:
            return blocks.output().to(query.dtype)
        return None

    def _rows_per_block(self, query, n_keys: int) -> int:
        """Blocks sized like the layer's own activations, so the capture adds little peak memory."""
        batch, n_heads = query.shape[:2]
        budget = min(max(self.options.block_bytes_floor, 4 * query.numel() * 2), self.options.block_bytes)
        return max(1, budget // max(1, 2 * 4 * batch * n_heads * n_keys))  # two buffers: s and e

    def _block_scores(self, ops: "_LayerOperands", attention_mask, softcap, start: int, stop: int, first: int,
                      last: int):
        """Masked (and soft-capped) scores of query rows start:stop on keys first:last: [batch, head, rows, width]."""
        import torch

        rows, width = stop - start, last - first
        q_block = ops.q[:, :, :, start:stop].reshape(ops.batch, ops.n_kv_heads, ops.groups * rows, ops.head_dim)
        size = ops.batch * ops.n_kv_heads * ops.groups * rows * width
        buffer = self._scratch(2 * size, ops.q.device)
        scores = buffer[:size].view(ops.batch, ops.n_kv_heads, ops.groups * rows, width)
        torch.matmul(q_block, ops.k[:, :, first:last].transpose(-1, -2), out=scores)
        scores = soft_capped(scores.view(ops.batch, ops.n_heads, rows, width), softcap)
        if attention_mask is not None:
            return masked(scores, attention_mask[:, :, start:stop, first:last])
        # causal without a mask: only keys from the block's first query on can lie in some row's future
        edge = max(first, start + ops.offset)
        query_positions = torch.arange(start, stop, device=scores.device) + ops.offset
        key_positions = torch.arange(edge, last, device=scores.device)
        scores[..., edge - first:].masked_fill_(key_positions[None, :] > query_positions[:, None], MASKED)
        return scores

    def _summarise_block(self, ops: "_LayerOperands", blocks: "_LayerBlocks", scores, start: int, first: int,
                         last: int) -> None:
        size = scores.numel()
        weights, row_max = exp_rows(scores, out=self._buffer[size:2 * size].view(scores.shape))
        rows, width = scores.shape[2], scores.shape[3]
        mixed = weights.view(ops.batch, ops.n_kv_heads, ops.groups * rows, width) @ ops.right[:, :, first:last]
        mixed = mixed.view(ops.batch, ops.n_heads, rows, -1)
        total = mixed[..., ops.z_column:ops.z_column + 1]  # z = sum e, from the ones column; 0 for a padding row
        inv_total, entropy = row_statistics(weights, scores, row_max, total)
        mixed = mixed[..., :ops.z_column] * inv_total
        if ops.n_value:
            blocks.outputs.append(mixed[..., :ops.n_value])
        blocks.segment_mass.append(mixed[..., ops.n_value:ops.n_value + ops.n_segments])
        blocks.max_weight.append(inv_total[..., 0])
        blocks.entropy.append(entropy[..., 0])
        if self.keep_all_maps or blocks.heads_here or self.tail:
            self._keep_weights(blocks, weights.mul_(inv_total), start, first, last, ops.n_keys)

    def _keep_weights(self, blocks: "_LayerBlocks", probabilities, start: int, first: int, last: int,
                      n_keys: int) -> None:
        """Full maps, pooled maps or tails of one block's weights [batch, head, rows, visible keys]."""
        import torch

        # a copy: the block lives in the reusable scratch buffer, which the next block overwrites
        batch, n_heads, rows, _ = probabilities.shape
        full = probabilities.new_zeros(batch, n_heads, rows, n_keys)
        full[..., first:last] = probabilities
        if self.tail:
            tail = full[..., max(0, n_keys - self.tail):]
            if tail.shape[-1] < self.tail:  # fewer keys than the tail: left-pad with zeros
                tail = torch.nn.functional.pad(tail, (self.tail - tail.shape[-1], 0))
            blocks.tails.append(tail)
        if self.keep_all_maps:
            blocks.maps.append(full)
        elif blocks.heads_here:
            blocks.pooled_sum, blocks.pooled_max = self._pool(full[:, blocks.heads_here], start, n_keys,
                                                              blocks.pooled_sum, blocks.pooled_max)

    def _layer_entry(self, blocks: "_LayerBlocks") -> dict[str, object]:
        import torch

        entry: dict[str, object] = {name: torch.cat(getattr(blocks, name), dim=2)
                                    for name in ("segment_mass", "entropy", "max_weight")}
        if self.tail:
            entry["tail"] = torch.cat(blocks.tails, dim=2)  # [batch, head, query, last keys]
        if self.keep_all_maps:
            entry["maps"] = torch.cat(blocks.maps, dim=2)
        elif blocks.heads_here:
            entry["pooled"] = (blocks.heads_here, blocks.pooled_sum, blocks.pooled_max)
        return entry

    def _scratch(self, size: int, device):
        """One reusable buffer for score blocks: no allocation, and no heap fragmentation, per block."""
        import torch

        if self._buffer is None or self._buffer.numel() < size or self._buffer.device != device:
            self._buffer = torch.empty(size, dtype=torch.float32, device=device)
        return self._buffer[:size]

    def _pool(self, weights, start: int, n_keys: int, pooled_sum, pooled_max):
        """Fold a block of rows [batch, head, rows, key] into query x key bins (sum and max)."""
        import torch

        edges = torch.as_tensor(self.edges, device=weights.device)
        n_bins = len(self.edges) - 1
        batch, heads, rows, _ = weights.shape
        key_bin = torch.bucketize(torch.arange(n_keys, device=weights.device), edges[1:], right=True)
        query_bin = torch.bucketize(torch.arange(start, start + rows, device=weights.device), edges[1:], right=True)
        by_key_sum = torch.zeros(batch, heads, rows, n_bins, device=weights.device).index_add_(3, key_bin, weights)
        by_key_max = torch.full((batch, heads, rows, n_bins), 0.0, device=weights.device).scatter_reduce_(
            3, key_bin.expand(batch, heads, rows, n_keys), weights, reduce="amax")
        if pooled_sum is None:
            pooled_sum = torch.zeros(batch, heads, n_bins, n_bins, device=weights.device)
            pooled_max = torch.zeros(batch, heads, n_bins, n_bins, device=weights.device)
        pooled_sum.index_add_(2, query_bin, by_key_sum)
        pooled_max.scatter_reduce_(2, query_bin.view(1, 1, rows, 1).expand_as(by_key_max), by_key_max, reduce="amax")
        return pooled_sum, pooled_max


_ACTIVE: contextvars.ContextVar[AttentionRecorder | None] = contextvars.ContextVar("atlas_recorder", default=None)

# Keyword arguments that change attention in ways this function does not implement. A model
# that passes one is refused rather than captured wrongly.
_UNSUPPORTED_KWARGS = ("s_aux", "sinks", "position_bias")


def eager_output(module, query, key, value, attention_mask, scaling, softcap, knocked=None):
    """Eager attention output, for the cases SDPA kernels do not cover (soft-capping, knockout).

    ``knocked`` ([batch, 1, query, key] bool, optional) marks pairs that may not attend.
    """
    weights = eager_weights(query, key, attention_mask, scaling, softcap, knocked)
    return weighted_values(weights, value)


def weighted_values(weights, value):
    """``weights`` [batch, head, q, k] applied to ``value`` [batch, kv_head, k, d] -> [batch, q, head, d]."""
    import torch

    groups = weights.shape[1] // value.shape[1]
    value = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    return torch.matmul(weights, value).transpose(1, 2).contiguous()


def eager_weights(query, key, attention_mask, scaling, softcap, knocked=None):
    """Eager attention weights [batch, head, q, k], as transformers' eager attention computes them."""
    import torch

    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    # The most negative finite value, as eager attention uses: a fully masked (padding) row
    # then gets harmless uniform weights instead of NaN that would spread to real tokens.
    lowest = torch.finfo(scores.dtype).min
    if attention_mask is not None:
        mask = attention_mask[:, :, :, : key.shape[-2]]
        scores = scores.masked_fill(~mask, lowest) if mask.dtype == torch.bool else scores + mask
    elif query.shape[2] > 1:
        n_q, n_k = query.shape[2], key.shape[2]
        allowed = torch.ones(n_q, n_k, dtype=torch.bool, device=query.device).tril(n_k - n_q)
        scores = scores.masked_fill(~allowed, lowest)
    if knocked is not None:
        scores = scores.masked_fill(knocked, lowest)
    return torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)


def _capturing_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """Attention whose weights are summarised on the side. query [batch, head, q, d]; key/value [batch, kv_head, k, d]."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    for name in _UNSUPPORTED_KWARGS:
        if kwargs.get(name) is not None:
            raise CaptureError(
                f"{type(module).__name__} passes {name!r} to its attention function (attention sinks or a position "
                "bias); "
                "Attention Atlas cannot capture this architecture exactly yet"
            )
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    recorder = _ACTIVE.get()
    if recorder is not None:
        layer = getattr(module, "layer_idx", None)
        output = recorder.attend(recorder.calls if layer is None else layer, query, key, value, attention_mask,
                                 scaling, softcap)
        if output is not None:
            return output, None
    if softcap is not None:
        return eager_output(module, query, key, value, attention_mask, scaling, softcap), None
    kwargs.pop("output_attentions", None)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)


def fused_kernel(device_type: str):
    """The fused kernel for a device: Triton on CUDA, the compiled C kernel on the CPU."""
    if device_type == "cuda":
        from generator.capture.fused_attention import attention_with_summaries  # imports Triton: optional

        return attention_with_summaries
    return attention_with_summaries_cpu


@functools.lru_cache(maxsize=None)
def fused_kernel_problem(device_type: str) -> str | None:
    """None when a fused kernel runs on this kind of device; else why not."""
    import importlib.util

    if device_type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "the CUDA kernel needs Triton (it comes with CUDA builds of torch)"
        return None
    if device_type == "cpu":
        reason = unavailable_reason()
        return None if reason is None else f"the CPU kernel could not be built: {reason}"
    return f"no fused kernel for {device_type} devices"


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def register_attention(name: str, function) -> None:
    """Register an attention function and the SDPA mask function under ``name`` (once)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if name not in AttentionInterface._global_mapping:
        AttentionInterface.register(name, function)
    if name not in AttentionMaskInterface._global_mapping:
        # Without a registered mask function the mask would silently be None (wrong for padding).
        AttentionMaskInterface.register(name, sdpa_mask)


@contextlib.contextmanager
def attention_routed(model, name: str, function, variable: contextvars.ContextVar, value) -> Iterator[None]:
    """Run the model's attention through ``function`` (reading ``variable``) for the block, then restore it."""
    register_attention(name, function)
    previous = model.config._attn_implementation
    model.set_attn_implementation(name)
    if model.config._attn_implementation != name:
        raise CaptureError(
            f"{type(model).__name__} does not dispatch attention through transformers' AttentionInterface; "
            "its attention cannot be captured or edited"
        )
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)
        model.set_attn_implementation(previous)


def capturing(model, recorder: AttentionRecorder | None):
    """Route the model's attention through the recorder for the duration of the block."""
    return attention_routed(model, CAPTURE_IMPLEMENTATION, _capturing_attention, _ACTIVE, recorder)


def segment_matrix(segment_ids: np.ndarray, n_segments: int) -> np.ndarray:
    """One-hot [token, segment] matrix; tokens with id -1 belong to no segment."""
    matrix = np.zeros((len(segment_ids), n_segments), dtype=np.float32)
    rows = np.flatnonzero(segment_ids >= 0)
    matrix[rows, segment_ids[rows]] = 1.0
    return matrix


def _check_layers(model, recorder: PassRecorder) -> int:
    n_layers = model.config.get_text_config().num_hidden_layers
    if sorted(recorder.by_layer) != list(range(n_layers)):
        raise CaptureError(
            f"{type(model).__name__}: captured attention for layers {sorted(recorder.by_layer)}, "
            f"expected 0..{n_layers - 1}; this architecture is not supported"
        )
    return n_layers


def capture_attention_batch(model, input_ids, attention_mask, segment_ids: Sequence[np.ndarray],
                            options: CaptureOptions = CaptureOptions()) -> list[AttentionCapture]:
    """Capture a (left- or right-) padded batch; returns one capture per sequence, padding removed.

    ``segment_ids[i]`` gives each real token of sequence ``i`` its segment (-1 for none).
    """
    import torch

    batch, width = input_ids.shape
    valid = attention_mask.bool().cpu().numpy()
    matrix = _segment_matrices(valid, segment_ids)
    recorder = PassRecorder(torch.from_numpy(matrix).to(input_ids.device), options, int(valid.sum(1).max()))
    with capturing(model, recorder), torch.no_grad():
        model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=1)
    n_layers = _check_layers(model, recorder)
    layers = [recorder.by_layer[i] for i in range(n_layers)]
    names = ["segment_mass", "entropy", "max_weight"] + (["maps"] if recorder.keep_all_maps else [])
    # one stacked array per quantity, [layer, batch, head, query, ...], moved to the host in one copy
    stacked = {name: _to_host(torch.stack([entry[name] for entry in layers])) for name in names}
    captures = []
    for row, ids in enumerate(segment_ids):
        keep = _positions(valid[row])
        n_seg = int(np.max(ids)) + 1 if len(ids) else 0

        def take(name: str, trim_keys: bool = False) -> np.ndarray:
            value = stacked[name][:, row][:, :, keep]
            if trim_keys:
                value = value[..., keep]
            return np.ascontiguousarray(value)

        capture = AttentionCapture(
            segment_mass=np.ascontiguousarray(take("segment_mass")[..., :n_seg]),
            entropy=take("entropy"),
            max_weight=take("max_weight"),
            maps=take("maps", trim_keys=True) if recorder.keep_all_maps else None,
        )
        if recorder.pooled:
            if batch > 1:
                raise ValueError("pooled maps of long sequences are captured one sequence at a time")
            _add_pooled(capture, layers, recorder.edges)
        captures.append(capture)
    return captures


def _segment_matrices(valid: np.ndarray, segment_ids: Sequence[np.ndarray]) -> np.ndarray:
    """[batch, width, segments] one-hot segment membership of every real token (padding: all zero)."""
    batch, width = valid.shape
    n_segments = max(1, max(int(np.max(s)) + 1 if len(s) else 0 for s in segment_ids))
    matrix = np.zeros((batch, width, n_segments), dtype=np.float32)
    for row, ids in enumerate(segment_ids):
        positions = np.flatnonzero(valid[row])
        if len(positions) != len(ids):
            raise ValueError(f"sequence {row}: {len(ids)} segment ids for {len(positions)} tokens")
        matrix[row, positions] = segment_matrix(np.asarray(ids), n_segments)
    return matrix


def _add_pooled(capture: AttentionCapture, layers: list[dict], edges: np.ndarray) -> None:
    """The pooled maps of the heads that kept them (one sequence): mean and maximum per block of the grid."""
    import torch

    heads, sums, maxes = [], [], []
    for layer, entry in enumerate(layers):
        if "pooled" in entry:
            names, pooled_sum, pooled_max = entry["pooled"]
            heads += [(layer, h) for h in names]
            sums.append(pooled_sum[0])
            maxes.append(pooled_max[0])
    area = np.outer(np.diff(edges), np.diff(edges)).astype(np.float32)
    capture.pooled_heads = np.array(heads, dtype=np.int64).reshape(-1, 2)
    capture.pooled_mean = torch.cat(sums).cpu().numpy() / area
    capture.pooled_max = torch.cat(maxes).cpu().numpy()
    capture.pooled_edges = edges


def _positions(valid: np.ndarray) -> slice | np.ndarray:
    """The real tokens' positions: a slice (a view, no copy) when they are one run, as with padding."""
    positions = np.flatnonzero(valid)
    if len(positions) and positions[-1] - positions[0] + 1 == len(positions):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions


def _to_host(tensor) -> np.ndarray:
    """A float32 numpy copy; from CUDA through pinned memory, several times faster than pageable."""
    import torch

    tensor = tensor.float()
    if not tensor.is_cuda:
        return tensor.numpy()
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor)
    return host.numpy()


def capture_attention(model, input_ids, segment_ids: np.ndarray, n_segments: int | None = None,
                      keep_maps: bool | None = None, options: CaptureOptions | None = None) -> AttentionCapture:
    """Capture one sequence (``input_ids`` of shape [1, T])."""
    import torch

    if input_ids.shape[0] != 1:
        raise ValueError(f"capture_attention takes one sequence at a time, got a batch of {input_ids.shape[0]}")
    if options is None:
        options = CaptureOptions(max_map_tokens=input_ids.shape[1] if keep_maps else 0)
    ids = np.asarray(segment_ids)
    (capture,) = capture_attention_batch(model, input_ids, torch.ones_like(input_ids), [ids], options)
    if n_segments is not None and capture.segment_mass.shape[-1] < n_segments:
        pad = n_segments - capture.segment_mass.shape[-1]
        capture.segment_mass = np.pad(capture.segment_mass, [(0, 0)] * 3 + [(0, pad)])
    return capture
