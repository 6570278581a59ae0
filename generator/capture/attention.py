"""Attention capture through transformers' ``AttentionInterface``, at bounded memory.

While a capture is active, the model's attention layers call ``_capturing_attention``, which
keeps, per layer, only summaries: mass on each segment, entropy, max weight, and full or
pooled maps for the heads asked for. Nothing of size heads x tokens x tokens is kept for
any layer. Two engines compute them:

- a fused kernel, for layers that keep no map: one flash-style pass gives the layer's output
  and all summaries (Triton on CUDA, ``fused_attention.py``; C compiled for this machine on the
  CPU, ``native_attention.py``);
- everywhere else (layers that keep maps, generation rows, additive masks, or no kernel),
  ``_Recorder.record`` walks the queries in blocks and recomputes each block's weights in
  float32 from the layer's own queries, keys and mask; in float32 the same pass gives the
  layer's output.

The capture is installed for one forward (or one ``generate``) inside a ``with`` block and
removed after, whatever happens. Callers see ``capture_attention`` / ``capture_attention_batch``
and ``AttentionCapture`` only, so the engines can change without touching them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

CAPTURE_IMPLEMENTATION = "atlas_capture"
DEFAULT_BLOCK_BYTES = 256 * 1024 * 1024
ENGINES = ("auto", "torch", "fused")
MASKED = -1e30  # score of a masked key: finite, so 0 * s stays 0 in the entropy sum; exp(MASKED - m) = 0


class CaptureError(RuntimeError):
    """A model whose attention cannot be captured exactly; never silently wrong numbers."""


@dataclass(frozen=True)
class CaptureOptions:
    """What to keep besides the per-query summaries, which are always captured."""

    exact_maps_up_to: int = 256  # sequences this short keep every head's full map
    map_heads: tuple[tuple[int, int], ...] = ()  # (layer, head) pairs whose map is kept for longer sequences
    pooled_map_size: int = 128  # longer maps are pooled to this many query x key blocks
    block_bytes: int = DEFAULT_BLOCK_BYTES  # at most this much memory for one block of recomputed scores
    block_bytes_floor: int = 16 * 1024 * 1024  # and at least this much (fewer, larger blocks on short inputs)
    # "auto": a fused kernel for layers that keep no map (Triton on CUDA when installed, C on the
    # CPU when a compiler is there), else the block-wise PyTorch pass; "torch" or "fused" to insist.
    engine: str = "auto"

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
    extra: dict = field(default_factory=dict)


def bin_edges(n_tokens: int, n_bins: int) -> np.ndarray:
    n_bins = min(n_bins, n_tokens)
    return np.array([(i * n_tokens) // n_bins for i in range(n_bins + 1)], dtype=np.int64)


class _Recorder:
    """Receives each layer's queries/keys/mask and keeps only the summaries."""

    def __init__(self, segment_matrix, options: CaptureOptions, n_tokens: int, tail: int = 0) -> None:
        self.segment_matrix = segment_matrix  # [batch, key, segment] float32 one-hot (0 rows for padding)
        self.options = options
        self.tail = tail  # also keep each row's weights on the last `tail` keys
        self.keep_all_maps = n_tokens <= options.exact_maps_up_to
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
        from generator.capture.segment_runs import segment_ids_of, segment_run_ends

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

    def record(self, layer: int, query, key, attention_mask, scaling: float, softcap: float | None, value=None):
        """Reduce one layer's attention to summaries, one block of query rows at a time.

        Per block: scores s (from queries scaled once; masked keys get the finite ``MASKED``),
        row max m, e = exp(s - m) into a second buffer so s is kept. One matmul e @ [S | 1]
        gives the segment mass and z = sum(e) (the ones column: no separate reduction pass),
        with p = e / z. The largest weight is 1 / z, and the entropy is logsumexp(s) -
        sum_k p_k s_k, the last a row-by-row dot product of e and s. This holds for soft-capped
        scores and additive masks alike. (Taking sum_k p_k s_k as q . (e @ K) instead costs 32
        more matmul columns, slower on CPU than the dot product.)

        With ``value`` given, the same pass also returns the layer's output ([batch, query,
        head, dim], from e @ V / z, V leading the same matmul), so the scores are computed
        once, not twice.
        """
        import torch

        self.calls += 1
        batch, n_heads, n_queries, head_dim = query.shape
        n_kv_heads, n_keys = key.shape[1], key.shape[2]
        groups = n_heads // n_kv_heads
        # scaled once here (a [query, dim] pass) rather than every [query, key] block of scores
        q = (query.float() * scaling).reshape(batch, n_kv_heads, groups, n_queries, head_dim)
        k = key.float().contiguous()  # [batch, kv_head, key, dim]; row slices stay contiguous for bmm
        seg = self.segment_matrix[:, :n_keys].unsqueeze(1).expand(batch, n_kv_heads, n_keys, -1)
        n_seg = seg.shape[-1]
        # [(V |) S | 1 | 0...]: the ones column gives z = sum e; zero columns pad the width to a
        # multiple of 8, which CPU matrix kernels handle much faster (37 columns: 1.4 ms, 40: 1.1 ms)
        n_value = value.shape[-1] if value is not None else 0
        n_right = n_value + seg.shape[-1] + 1
        extra = torch.zeros(batch, n_kv_heads, n_keys, 1 + (-n_right) % 8, device=query.device)
        extra[..., 0] = 1.0
        parts = ([value.float()] if value is not None else []) + [seg, extra]
        right = torch.cat(parts, dim=-1)  # [batch, kv_head, key, (value dim +) segment + 1 + padding]
        z_column = n_right - 1
        # Blocks are sized like the layer's own activations, so the capture adds little peak memory.
        budget = max(self.options.block_bytes_floor, 4 * query.numel() * 2)
        budget = min(budget, self.options.block_bytes)
        rows_per_block = max(1, budget // max(1, 2 * 4 * batch * n_heads * n_keys))  # two buffers: s and e
        offset = n_keys - n_queries  # queries are the last n_queries positions (bottom-right causal)
        key_positions = torch.arange(n_keys, device=query.device)
        out = {name: [] for name in ("segment_mass", "entropy", "max_weight")}
        outputs, tails = [], []
        maps, pooled_sum, pooled_max = [], None, None
        heads_here = [h for (l, h) in self.pooled if l == layer]
        for start in range(0, n_queries, rows_per_block):
            stop = min(n_queries, start + rows_per_block)
            rows = stop - start
            # Only keys some row of the block may see: causal blocks skip the future, sliding
            # windows the distant past. Every weight outside [first, last) is exactly zero.
            if attention_mask is None:
                first, last = 0, min(n_keys, stop + offset)
            elif attention_mask.dtype == torch.bool:
                visible = torch.nonzero(attention_mask[:, :, start:stop, :n_keys].any(dim=(0, 1, 2)))
                first, last = (int(visible[0]), int(visible[-1]) + 1) if len(visible) else (0, 1)
            else:
                first, last = 0, n_keys
            width = last - first
            q_block = q[:, :, :, start:stop].reshape(batch, n_kv_heads, groups * rows, head_dim)
            size = batch * n_kv_heads * groups * rows * width
            buffer = self._scratch(2 * size, query.device)
            scores = buffer[:size].view(batch, n_kv_heads, groups * rows, width)
            torch.matmul(q_block, k[:, :, first:last].transpose(-1, -2), out=scores)
            scores = scores.view(batch, n_heads, rows, width)
            if softcap is not None:
                scores = scores.div_(softcap).tanh_().mul_(softcap)
            if attention_mask is None:
                # only the keys from the block's first query on can lie in some row's future
                edge = max(first, start + offset)
                query_positions = torch.arange(start, stop, device=query.device) + offset
                scores[..., edge - first:].masked_fill_(key_positions[None, edge:last] > query_positions[:, None],
                                                        MASKED)
            else:
                mask = attention_mask[:, :, start:stop, first:last]
                if mask.dtype == torch.bool:
                    scores.masked_fill_(~mask, MASKED)
                else:
                    scores.add_(mask.float()).clamp_min_(MASKED)
            row_max = scores.amax(-1, keepdim=True)
            # a row that sees no key (padding): m = +inf makes every e exactly 0
            row_max = torch.where(row_max > MASKED / 2, row_max, torch.full_like(row_max, float("inf")))
            weights = buffer[size:].view(scores.shape)
            torch.sub(scores, row_max, out=weights).exp_()  # e = exp(s - m); s is kept for the entropy
            mixed = torch.matmul(weights.view(batch, n_kv_heads, groups * rows, width), right[:, :, first:last])
            mixed = mixed.view(batch, n_heads, rows, -1)
            total = mixed[..., z_column:z_column + 1]  # z = sum e, from the ones column; 0 for a padding row
            inv_total = torch.where(total > 0, 1.0 / total, torch.zeros_like(total))
            mixed = mixed[..., :z_column] * inv_total
            if n_value:
                outputs.append(mixed[..., :n_value])
                mixed = mixed[..., n_value:]
            out["segment_mass"].append(mixed[..., :n_seg])
            out["max_weight"].append(inv_total[..., 0])
            seen = total[..., 0] > 0
            log_total = row_max[..., 0] + torch.log(torch.where(seen, total[..., 0], 1.0))  # logsumexp
            # sum_k e_k s_k, row by row (einsum: no [rows, keys] temporary)
            expected_score = torch.einsum("bhrk,bhrk->bhr", weights, scores) * inv_total[..., 0]
            entropy = torch.where(seen, log_total - expected_score, 0.0)
            out["entropy"].append(entropy.clamp_min_(0.0))
            if self.keep_all_maps or heads_here or self.tail:
                probabilities = weights.mul_(inv_total)
                # a copy: the block lives in the reusable scratch buffer, which the next block overwrites
                full = probabilities.new_zeros(batch, n_heads, rows, n_keys)
                full[..., first:last] = probabilities
                probabilities = full
                if self.tail:
                    tail = probabilities[..., max(0, n_keys - self.tail):]
                    if tail.shape[-1] < self.tail:  # fewer keys than the tail: left-pad with zeros
                        tail = torch.nn.functional.pad(tail, (self.tail - tail.shape[-1], 0))
                    tails.append(tail)
                if self.keep_all_maps:
                    maps.append(probabilities)
                elif heads_here:
                    pooled_sum, pooled_max = self._pool(probabilities[:, heads_here], start, n_keys,
                                                        pooled_sum, pooled_max)
        entry: dict[str, object] = {name: torch.cat(parts, dim=2) for name, parts in out.items()}
        if self.tail:
            entry["tail"] = torch.cat(tails, dim=2)  # [batch, head, query, last keys]
        if self.keep_all_maps:
            entry["maps"] = torch.cat(maps, dim=2)
        elif heads_here:
            entry["pooled"] = (heads_here, pooled_sum, pooled_max)
        self.by_layer[layer] = entry
        if n_value:
            return torch.cat(outputs, dim=2).transpose(1, 2).to(query.dtype).contiguous()
        return None

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


_ACTIVE: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar("atlas_recorder", default=None)

# Keyword arguments that change attention in ways this function does not implement. A model
# that passes one is refused rather than captured wrongly.
_UNSUPPORTED_KWARGS = ("s_aux", "sinks", "position_bias")


def eager_output(module, query, key, value, attention_mask, scaling, softcap, knocked=None):
    """Eager attention output, for the cases SDPA kernels do not cover (soft-capping, knockout).

    ``knocked`` ([batch, 1, query, key] bool, optional) marks pairs that may not attend.
    """
    import torch

    groups = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    value = value.repeat_interleave(groups, dim=1) if groups > 1 else value
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
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    return torch.matmul(weights, value).transpose(1, 2).contiguous()


def _capturing_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """Attention whose weights are summarised on the side. query [batch, head, q, d]; key/value [batch, kv_head, k, d]."""
    import torch
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
        layer = recorder.calls if layer is None else layer
        exact = query.dtype == torch.float32
        if recorder.fuses(layer, query, attention_mask):
            output = recorder.record_fused(layer, query, key, value, attention_mask, scaling, softcap)
            # On CUDA the kernel's own output is the point (flash speed); in half precision on
            # the CPU the model's own kernel gives the output below, so logits stay bit for bit.
            if exact or query.is_cuda:
                return output, None
        elif exact:
            # One pass gives output and summaries: in float32 the output equals eager attention.
            output = recorder.record(layer, query, key, attention_mask, scaling, softcap, value=value)
            return output, None
        else:
            # Half precision: keep the model's own kernel for the output, summarise in float32 beside it.
            recorder.record(layer, query, key, attention_mask, scaling, softcap)
    if softcap is not None:
        return eager_output(module, query, key, value, attention_mask, scaling, softcap), None
    kwargs.pop("output_attentions", None)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)


def fused_kernel(device_type: str):
    """The fused kernel for a device: Triton on CUDA, the compiled C kernel on the CPU."""
    if device_type == "cuda":
        from generator.capture.fused_attention import attention_with_summaries
    else:
        from generator.capture.native_attention import attention_with_summaries_cpu as attention_with_summaries
    return attention_with_summaries


@functools.lru_cache(maxsize=None)
def fused_kernel_problem(device_type: str) -> str | None:
    """None when a fused kernel runs on this kind of device; else why not."""
    import importlib.util

    if device_type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "the CUDA kernel needs Triton (it comes with CUDA builds of torch)"
        return None
    if device_type == "cpu":
        from generator.capture.native_attention import unavailable_reason

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


def capturing(model, recorder: _Recorder | None):
    """Route the model's attention through the recorder for the duration of the block."""
    return attention_routed(model, CAPTURE_IMPLEMENTATION, _capturing_attention, _ACTIVE, recorder)


def segment_matrix(segment_ids: np.ndarray, n_segments: int) -> np.ndarray:
    """One-hot [token, segment] matrix; tokens with id -1 belong to no segment."""
    matrix = np.zeros((len(segment_ids), n_segments), dtype=np.float32)
    rows = np.flatnonzero(segment_ids >= 0)
    matrix[rows, segment_ids[rows]] = 1.0
    return matrix


def _check_layers(model, recorder: _Recorder) -> int:
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
    n_segments = max(1, max(int(np.max(s)) + 1 if len(s) else 0 for s in segment_ids))
    matrix = np.zeros((batch, width, n_segments), dtype=np.float32)
    for row, ids in enumerate(segment_ids):
        positions = np.flatnonzero(valid[row])
        if len(positions) != len(ids):
            raise ValueError(f"sequence {row}: {len(ids)} segment ids for {len(positions)} tokens")
        matrix[row, positions] = segment_matrix(np.asarray(ids), n_segments)
    recorder = _Recorder(torch.from_numpy(matrix).to(input_ids.device), options, int(valid.sum(1).max()))
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
            heads, sums, maxes = [], [], []
            for layer, entry in enumerate(layers):
                if "pooled" in entry:
                    names, pooled_sum, pooled_max = entry["pooled"]
                    heads += [(layer, h) for h in names]
                    sums.append(pooled_sum[0])
                    maxes.append(pooled_max[0])
            edges = recorder.edges
            area = np.outer(np.diff(edges), np.diff(edges)).astype(np.float32)
            capture.pooled_heads = np.array(heads, dtype=np.int64).reshape(-1, 2)
            capture.pooled_mean = torch.cat(sums).cpu().numpy() / area
            capture.pooled_max = torch.cat(maxes).cpu().numpy()
            capture.pooled_edges = edges
        captures.append(capture)
    return captures


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
        options = CaptureOptions(exact_maps_up_to=input_ids.shape[1] if keep_maps else 0)
    ids = np.asarray(segment_ids)
    (capture,) = capture_attention_batch(model, input_ids, torch.ones_like(input_ids), [ids], options)
    if n_segments is not None and capture.segment_mass.shape[-1] < n_segments:
        pad = n_segments - capture.segment_mass.shape[-1]
        capture.segment_mass = np.pad(capture.segment_mass, [(0, 0)] * 3 + [(0, pad)])
    return capture
