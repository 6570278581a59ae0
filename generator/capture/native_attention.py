"""The CPU fused kernel: attention output and per-query summaries in one cache-blocked pass.

The C source (``native/attention_summaries.c``) is compiled at first use for this machine
(``native_build.py``) and called through ctypes, which releases the GIL; it parallelises with
OpenMP, sharing the runtime that PyTorch loaded. Same contract as the Triton kernel's
``attention_with_summaries`` (fused_attention.py), in float32.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from generator.capture.native_build import BuildError, load
from generator.capture.segment_runs import segment_run_ends

SOURCE = Path(__file__).parent / "native" / "attention_summaries.c"

_int64, _float, _int, _ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_int, ctypes.c_void_p


@functools.lru_cache(maxsize=None)
def _library() -> ctypes.CDLL:
    library = load(SOURCE)
    function = library.atlas_attention_summaries
    function.restype = _int
    function.argtypes = [_ptr] * 6 + [_int64] * 13 + [_float, _float, _int] + [_ptr] * 4 + [_int]
    for name in ("atlas_key_tile", "atlas_value_align"):
        getattr(library, name).restype = _int64
    return library


def key_tile() -> int:
    """Keys per tile in the compiled kernel: keys are zero-padded to a multiple of it."""
    return int(_library().atlas_key_tile())


@functools.lru_cache(maxsize=None)
def unavailable_reason() -> str | None:
    """None when the kernel builds and loads here; else why not (no compiler, a build error)."""
    try:
        _library()
    except (BuildError, OSError) as error:
        return str(error)
    return None


def attention_with_summaries_cpu(query, key, value, segment_ids, n_segments: int, attention_mask, scaling: float,
                                 softcap: float | None = None, causal: bool = True, run_ends=None):
    """Attention output and summaries for one layer on the CPU.

    query [batch, head, q, dim]; key/value [batch, kv_head, k, dim]; segment_ids [batch, k] int32
    (-1: no segment); run_ends [batch, k] int32 (``segment_runs.segment_run_ends``);
    attention_mask None (plain causal, queries last) or bool [batch or 1, 1, q, k] (True = may
    attend); ``causal``: the mask never lets a query see a later key. Returns (output [batch, q,
    head, dim] in the query's dtype, segment mass [batch, head, q, n_segments], entropy
    [batch, head, q], max weight [batch, head, q]), the last three float32.
    """
    import torch

    batch, n_heads, n_queries, head_dim = query.shape
    n_kv_heads, n_keys, value_dim = key.shape[1], key.shape[2], value.shape[-1]
    tile, align = key_tile(), int(_library().atlas_value_align())
    padded_keys = -(-n_keys // tile) * tile
    padded_value_dim = -(-value_dim // align) * align
    q = query.float().contiguous()
    # keys transposed to [dim, key] (a tile of scores is then row-broadcast times contiguous
    # columns), both zero-padded so full tiles can be read past the last key
    kt = torch.zeros(batch, n_kv_heads, head_dim, padded_keys)
    kt[..., :n_keys] = key.float().transpose(-1, -2)
    v = torch.zeros(batch, n_kv_heads, padded_keys, padded_value_dim)
    v[:, :, :n_keys, :value_dim] = value.float()
    segment_ids = segment_ids[:, :n_keys].to(torch.int32).contiguous()
    if n_keys and int(segment_ids.max()) >= n_segments:  # the C code indexes the mass rows with them
        raise ValueError(f"segment id {int(segment_ids.max())} given for {n_segments} segments")
    run_ends = (segment_run_ends(segment_ids) if run_ends is None else run_ends[:, :n_keys]).contiguous()
    if attention_mask is not None:
        if attention_mask.dtype != torch.bool:
            raise TypeError("attention_with_summaries_cpu takes a boolean mask")
        # a view: the C code reads the model's mask in place, through its strides (0 where broadcast)
        mask = attention_mask[:, 0, :, :n_keys].expand(batch, n_queries, n_keys).view(torch.int8)
        mask_pointer, mask_strides = mask.data_ptr(), mask.stride()
    else:
        mask_pointer, mask_strides = None, (0, 0, 0)
    out = torch.empty(batch, n_queries, n_heads, value_dim)
    mass = torch.empty(batch, n_heads, n_queries, n_segments)
    entropy = torch.empty(batch, n_heads, n_queries)
    max_weight = torch.empty_like(entropy)
    status = _library().atlas_attention_summaries(
        q.data_ptr(), kt.data_ptr(), v.data_ptr(), segment_ids.data_ptr(), run_ends.data_ptr(), mask_pointer,
        *mask_strides, batch, n_heads, n_kv_heads, n_queries, n_keys, padded_keys, head_dim, value_dim,
        padded_value_dim, n_segments, float(scaling), float(softcap or 0.0), int(causal),
        out.data_ptr(), mass.data_ptr(), entropy.data_ptr(), max_weight.data_ptr(), torch.get_num_threads())
    if status != 0:
        raise MemoryError("attention_with_summaries_cpu: could not allocate the kernel's scratch memory")
    return out.to(query.dtype), mass, entropy, max_weight
