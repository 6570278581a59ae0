"""One GPU kernel for attention output and its summaries (Triton), so capture costs about a flash forward.

A flash-attention forward already walks every (query block, key block) tile with a running
row max ``m`` and a running sum ``l`` of ``exp(s - m)``. This kernel keeps two more running
sums in the same loop, each rescaled like the output accumulator:

- ``sum p * onehot(segment)``: the mass each query puts on each segment (attention with V = S).
  A key block inside one run of a segment adds the block's row sum, already computed for
  ``l``, to that segment's column; two scalar loads of precomputed run ends decide it. Only
  blocks that straddle a segment boundary take a tensor-core product with a 0/1 matrix built
  in registers, split into a bfloat16 high part and a bfloat16 remainder so each weight keeps
  about 16 bits, not 8 (float32 in the interpreter);
- ``sum p * s``: then entropy = logsumexp(s) - sum p s, since -log p = logsumexp(s) - s;
- nothing for the max weight: it is ``exp(m - lse) = 1 / l`` once the loop ends.

No heads x tokens x tokens tensor exists at any point. Rows with no visible key (padding
queries) get zeros everywhere. Scores are kept in log2 units so the exponential is ``exp2``.

Imported only when a capture runs on CUDA (or when forced under ``TRITON_INTERPRET=1``, which
the tests use to check the kernel on the CPU); everything else works without Triton.
"""

from __future__ import annotations

import math
import os

import triton
import triton.language as tl

from generator.capture.segment_runs import segment_run_ends

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def _configs() -> list[triton.Config]:
    if INTERPRETED:  # the interpreter runs every config; one small tile keeps the tests quick
        return [triton.Config({"BLOCK_M": 16, "BLOCK_N": 16}, num_warps=1, num_stages=1)]
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
        for m, n, w, s in [(64, 64, 4, 3), (128, 64, 8, 3), (128, 64, 4, 3), (128, 128, 8, 2), (128, 32, 4, 4)]
    ]


def _prune(configs, named_args, **kwargs):
    """Short inputs take the first config untuned: tuning would cost more than it saves."""
    return configs if named_args["size_class"] >= 11 else configs[:1]


LOG2E = 1.4426950408889634


@triton.jit
def _tile(q, acc, mass, score_sum, m_i, l_i, k_base, v_base, seg_base, run_base, mask_base,
          offs_m, offs_n, offs_d, offs_seg, start_n, n_queries, n_keys, offset, head_dim, qk_scale, softcap,
          stride_kn, stride_kd, stride_vn, stride_vd, stride_sn, stride_rn, stride_mm, stride_mn,
          BLOCK_N: tl.constexpr, BOUNDED: tl.constexpr, CAUSAL_MASK: tl.constexpr, HAS_MASK: tl.constexpr,
          HAS_SOFTCAP: tl.constexpr, EVEN_D: tl.constexpr, MASS_DOTS: tl.constexpr, ENTROPY: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """Fold one key block into the running sums of a query block.

    Scores are kept in log2 units (exp2 is the hardware's exponential); ``BOUNDED`` key blocks
    may run past the last key, the others skip every bounds test.
    """
    cols = start_n + offs_n
    in_range = cols < n_keys
    d_ok = offs_d < head_dim
    k_pointers = k_base + cols[None, :] * stride_kn + offs_d[:, None] * stride_kd
    v_pointers = v_base + cols[:, None] * stride_vn + offs_d[None, :] * stride_vd
    if BOUNDED:
        k = tl.load(k_pointers, mask=in_range[None, :] & d_ok[:, None], other=0.0)
        v = tl.load(v_pointers, mask=in_range[:, None] & d_ok[None, :], other=0.0)
    elif EVEN_D:
        k = tl.load(k_pointers)
        v = tl.load(v_pointers)
    else:
        k = tl.load(k_pointers, mask=d_ok[:, None], other=0.0)
        v = tl.load(v_pointers, mask=d_ok[None, :], other=0.0)
    s = tl.dot(q, k, input_precision=DOT_PRECISION)
    if HAS_SOFTCAP:  # softcap * tanh(scale * q.k / softcap), tanh through exp (the interpreter has no tanh)
        s = softcap * (1.0 - 2.0 / (tl.exp2(2.0 * s * qk_scale / softcap) + 1.0)) * 1.4426950408889634
    else:
        s = s * qk_scale
    if BOUNDED or CAUSAL_MASK or HAS_MASK:
        valid = in_range[None, :]
        if CAUSAL_MASK:
            valid = valid & (cols[None, :] <= offs_m[:, None] + offset)
        if HAS_MASK:
            allowed = tl.load(mask_base + offs_m[:, None] * stride_mm + cols[None, :] * stride_mn,
                              mask=(offs_m[:, None] < n_queries) & in_range[None, :], other=0)
            valid = valid & (allowed != 0)
        finite_s = tl.where(valid, s, 0.0)  # masked p is 0; keep 0 * s finite
        s = tl.where(valid, s, float("-inf"))
    else:
        finite_s = s
    m_new = tl.maximum(m_i, tl.max(s, 1))
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # a row that has seen no key yet
    alpha = tl.exp2(m_i - m_safe)
    p = tl.exp2(s - m_safe[:, None])
    row_sum = tl.sum(p, 1)
    l_i = l_i * alpha + row_sum
    if ENTROPY:
        score_sum = score_sum * alpha + tl.sum(p * finite_s, 1)
    p_low_precision = p.to(v.dtype)
    acc = acc * alpha[:, None] + tl.dot(p_low_precision, v, input_precision=DOT_PRECISION)
    if MASS_DOTS > 0:
        # Two scalar loads say whether the block lies in one run of a segment (segments are
        # usually runs of tokens): then its mass is the row sum already computed, and -1 (no
        # segment) matches no column. No reduction over the block's ids, so no block-wide barrier.
        first_segment = tl.load(seg_base + start_n * stride_sn)
        if tl.load(run_base + start_n * stride_rn) >= start_n + BLOCK_N:
            block_mass = tl.where(offs_seg[None, :] == first_segment, row_sum[:, None], 0.0)
        else:
            segment = tl.load(seg_base + cols * stride_sn, mask=in_range, other=-1)
            if MASS_DOTS == 1:  # float32 (the interpreter, whose bfloat16 conversions are not exact)
                onehot = tl.where(segment[:, None] == offs_seg[None, :], 1.0, 0.0)
                block_mass = tl.dot(p, onehot, input_precision=DOT_PRECISION)
            else:  # p = high + low, two bfloat16 products: about 16 bits of each weight
                onehot = (segment[:, None] == offs_seg[None, :]).to(tl.bfloat16)
                p_high = p.to(tl.bfloat16)
                block_mass = tl.dot(p_high, onehot) + tl.dot((p - p_high.to(tl.float32)).to(tl.bfloat16), onehot)
        mass = mass * alpha[:, None] + block_mass
    return acc, mass, score_sum, m_new, l_i


@triton.autotune(configs=_configs(), key=["size_class", "HEAD_DIM", "N_SEG", "HAS_MASK", "CAUSAL"],
                 prune_configs_by={"early_config_prune": _prune})
@triton.jit
def _attention_summaries(
    Q, K, V, SEG, RUN_END, MASK, OUT, MASS, ENTROPY, MAX_WEIGHT,
    stride_qb, stride_qh, stride_qm, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_sb, stride_sn,
    stride_rb, stride_rn,
    stride_mb, stride_mm, stride_mn,
    stride_ob, stride_om, stride_oh, stride_od,
    stride_ab, stride_ah, stride_am, stride_as,
    stride_eb, stride_eh, stride_em,
    n_heads, n_queries, n_keys, n_segments, groups, head_dim, qk_scale, softcap, size_class,
    HEAD_DIM: tl.constexpr, EVEN_D: tl.constexpr, N_SEG: tl.constexpr, HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr,
    HAS_SOFTCAP: tl.constexpr, MASS_DOTS: tl.constexpr, WITH_ENTROPY: tl.constexpr, DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0)
    batch_head = tl.program_id(1)
    b = batch_head // n_heads
    h = batch_head % n_heads
    kv_h = h // groups
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    offs_seg = tl.arange(0, N_SEG)
    row_ok = offs_m < n_queries
    d_ok = offs_d < head_dim
    q = tl.load(Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :] * stride_qd,
                mask=row_ok[:, None] & d_ok[None, :], other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    seg_base = SEG + b * stride_sb
    run_base = RUN_END + b * stride_rb
    mask_base = MASK + b * stride_mb
    offset = n_keys - n_queries  # queries are the last n_queries positions (bottom-right causal)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    score_sum = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    mass = tl.zeros([BLOCK_M, N_SEG], dtype=tl.float32)

    # Whole key blocks that every row of the block may see need no causal or bounds test;
    # the blocks after them (the diagonal, the last partial block) do.
    full_end = (n_keys // BLOCK_N) * BLOCK_N
    if CAUSAL:
        end = (start_m + 1) * BLOCK_M + offset
        if end > n_keys:
            end = n_keys
        unmasked_end = ((start_m * BLOCK_M + offset + 1) // BLOCK_N) * BLOCK_N
        if unmasked_end > full_end:
            unmasked_end = full_end
        if unmasked_end < 0:
            unmasked_end = 0
    else:
        end = n_keys
        unmasked_end = full_end
    for start_n in tl.range(0, unmasked_end, BLOCK_N):
        acc, mass, score_sum, m_i, l_i = _tile(
            q, acc, mass, score_sum, m_i, l_i, k_base, v_base, seg_base, run_base, mask_base,
            offs_m, offs_n, offs_d, offs_seg, start_n, n_queries, n_keys, offset, head_dim, qk_scale, softcap,
            stride_kn, stride_kd, stride_vn, stride_vd, stride_sn, stride_rn, stride_mm, stride_mn,
            BLOCK_N, False, False, HAS_MASK, HAS_SOFTCAP, EVEN_D, MASS_DOTS, WITH_ENTROPY, DOT_PRECISION)
    for start_n in tl.range(unmasked_end, end, BLOCK_N):
        acc, mass, score_sum, m_i, l_i = _tile(
            q, acc, mass, score_sum, m_i, l_i, k_base, v_base, seg_base, run_base, mask_base,
            offs_m, offs_n, offs_d, offs_seg, start_n, n_queries, n_keys, offset, head_dim, qk_scale, softcap,
            stride_kn, stride_kd, stride_vn, stride_vd, stride_sn, stride_rn, stride_mm, stride_mn,
            BLOCK_N, True, CAUSAL, HAS_MASK, HAS_SOFTCAP, EVEN_D, MASS_DOTS, WITH_ENTROPY, DOT_PRECISION)

    seen = l_i > 0
    inv_l = tl.where(seen, 1.0 / tl.where(seen, l_i, 1.0), 0.0)
    # natural-log units: logsumexp = ln2 * (m + log2 l); entropy = logsumexp - sum p s
    log2_sum = m_i + tl.log2(tl.where(seen, l_i, 1.0))
    entropy = tl.maximum(tl.where(seen, 0.6931471805599453 * (log2_sum - score_sum * inv_l), 0.0), 0.0)
    out = acc * inv_l[:, None]
    tl.store(OUT + b * stride_ob + offs_m[:, None] * stride_om + h * stride_oh + offs_d[None, :] * stride_od,
             out.to(OUT.dtype.element_ty), mask=row_ok[:, None] & d_ok[None, :])
    tl.store(MASS + b * stride_ab + h * stride_ah + offs_m[:, None] * stride_am + offs_seg[None, :] * stride_as,
             mass * inv_l[:, None], mask=row_ok[:, None] & (offs_seg[None, :] < n_segments))
    summary = b * stride_eb + h * stride_eh + offs_m * stride_em
    tl.store(ENTROPY + summary, entropy, mask=row_ok)
    tl.store(MAX_WEIGHT + summary, inv_l, mask=row_ok)


def attention_with_summaries(query, key, value, segment_ids, n_segments: int, attention_mask, scaling: float,
                             softcap: float | None = None, causal: bool = True, summaries: str = "all",
                             run_ends=None):
    """Attention output and per-query summaries in one kernel.

    query [batch, head, q, dim]; key/value [batch, kv_head, k, dim]; segment_ids [batch, k] int32
    (-1: no segment); attention_mask None (plain causal, queries last) or bool [batch or 1, 1, q, k]
    (True = may attend). ``causal`` says the mask never lets a query see a later key, so key
    blocks past the diagonal are skipped. Returns (output [batch, q, head, dim] in the query's
    dtype, segment mass [batch, head, q, n_segments], entropy [batch, head, q], max weight
    [batch, head, q]), the last three float32. ``summaries`` ("mass", "entropy", "none") leaves the
    others out (unset), for measuring what each costs.
    """
    import torch

    batch, n_heads, n_queries, head_dim = query.shape
    n_kv_heads, n_keys = key.shape[1], key.shape[2]
    padded_dim = max(16, triton.next_power_of_2(head_dim))
    padded_segments = max(16, triton.next_power_of_2(max(1, n_segments)))
    device = query.device
    out = torch.empty(batch, n_queries, n_heads, head_dim, dtype=query.dtype, device=device)
    mass = torch.empty(batch, n_heads, n_queries, n_segments, dtype=torch.float32, device=device)
    entropy = torch.empty(batch, n_heads, n_queries, dtype=torch.float32, device=device)
    max_weight = torch.empty_like(entropy)
    segment_ids = segment_ids[:, :n_keys].to(device=device, dtype=torch.int32)
    run_ends = segment_run_ends(segment_ids) if run_ends is None else run_ends[:, :n_keys]
    has_mask = attention_mask is not None
    if has_mask:
        if attention_mask.dtype != torch.bool:
            raise TypeError("attention_with_summaries takes a boolean mask")
        mask = attention_mask[:, 0, :, :n_keys].expand(batch, n_queries, n_keys).view(torch.int8)
        mask_strides = mask.stride()
    else:
        mask = segment_ids  # never read
        mask_strides = (0, 0, 0)
    precision = "ieee" if query.dtype == torch.float32 or INTERPRETED else "tf32"

    def grid(meta):
        return (triton.cdiv(n_queries, meta["BLOCK_M"]), batch * n_heads)

    _attention_summaries[grid](
        query, key, value, segment_ids, run_ends, mask, out, mass, entropy, max_weight,
        *query.stride(), *key.stride(), *value.stride(), *segment_ids.stride(), *run_ends.stride(), *mask_strides,
        *out.stride(), *mass.stride(), *entropy.stride(),
        n_heads, n_queries, n_keys, n_segments, n_heads // n_kv_heads, head_dim, float(scaling) * LOG2E,
        float(softcap) if softcap is not None else 1.0, int(math.log2(max(1, n_keys))),
        HEAD_DIM=padded_dim, EVEN_D=padded_dim == head_dim, N_SEG=padded_segments, HAS_MASK=has_mask, CAUSAL=causal,
        HAS_SOFTCAP=softcap is not None, MASS_DOTS=(1 if INTERPRETED else 2) if summaries in ("all", "mass") else 0,
        WITH_ENTROPY=summaries in ("all", "entropy"), DOT_PRECISION=precision,
    )
    return out, mass, entropy, max_weight
