"""Float64 references and cases shared by the tests of both fused kernels (Triton and C)."""

from __future__ import annotations

import numpy as np
import torch


def reference(query, key, value, segment_ids, n_segments, allowed, scaling, softcap=None):
    """Float64 attention, segment mass, entropy and max weight; rows that see nothing are zero."""
    groups = query.shape[1] // key.shape[1]
    q, k, v = query.double(), key.double().repeat_interleave(groups, 1), value.double().repeat_interleave(groups, 1)
    scores = q @ k.transpose(-1, -2) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    scores = scores.masked_fill(~allowed, float("-inf"))
    p = torch.softmax(scores, -1).nan_to_num(0.0)
    onehot = torch.zeros(*segment_ids.shape, n_segments, dtype=torch.float64, device=query.device)
    real = segment_ids >= 0
    onehot[real] = torch.nn.functional.one_hot(segment_ids[real].long(), n_segments).double()
    entropy = -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(-1)
    return (p @ v).transpose(1, 2), p @ onehot[:, None], entropy, p.amax(-1)


def causal(n_queries: int, n_keys: int, batch: int = 1, device="cpu"):
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(n_keys - n_queries)[None, None].repeat(
        batch, 1, 1, 1)


CASES = {
    # name: batch, heads, kv heads, queries, keys, head dim, segments, softcap
    "gqa": (1, 4, 2, 40, 40, 32, 3, None),
    "queries-after-a-prefix": (1, 2, 1, 7, 30, 24, 2, None),  # head dim not a power of two
    "softcap": (1, 2, 2, 33, 33, 16, 4, 5.0),
    "many-segments": (1, 2, 2, 37, 37, 16, 20, None),
    "runs": (1, 2, 1, 70, 70, 32, 3, None),
}


def summaries_match_eager(capture, reference_maps, segments):
    n_seg = segments.max() + 1
    p = reference_maps
    mass = np.stack([p[..., segments == s].sum(-1) for s in range(n_seg)], -1)
    entropy = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)).sum(-1)
    assert capture.maps is None
    assert np.abs(capture.segment_mass - mass).max() <= 1e-4
    assert np.abs(capture.max_weight - p.max(-1)).max() <= 1e-4
    assert np.abs(capture.entropy - entropy).max() <= 1e-3
