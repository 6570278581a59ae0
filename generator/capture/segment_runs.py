"""Segments as the fused kernels read them: an id per key, and where each run of one id ends.

Both kernels (Triton on CUDA, C on the CPU) take the whole segment mass of a key tile that
lies inside one run from the row sum they keep anyway; the run ends tell them so in one load.
"""

from __future__ import annotations


def segment_ids_of(segment_matrix):
    """[batch, key] int32 segment of each key (-1: none) from the one-hot [batch, key, segment] matrix."""
    import torch

    none = segment_matrix.sum(-1) == 0
    return torch.where(none, -1, segment_matrix.argmax(-1)).to(torch.int32)


def segment_run_ends(segment_ids):
    """For each key, the position just past the run of equal segment ids it belongs to ([batch, key] int32)."""
    import torch

    n_keys = segment_ids.shape[-1]
    positions = torch.arange(n_keys, device=segment_ids.device).expand_as(segment_ids)
    last_of_run = torch.ones_like(segment_ids, dtype=torch.bool)
    last_of_run[:, :-1] = segment_ids[:, 1:] != segment_ids[:, :-1]
    run_last = torch.where(last_of_run, positions, n_keys).flip(-1).cummin(-1).values.flip(-1)
    return (run_last + 1).to(torch.int32)
