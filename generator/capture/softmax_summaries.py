"""The softmax summary algebra, written once for the block-wise pass and for generated rows.

For scores s of one query row over its keys (masked keys at the finite ``MASKED``): row max
m, e = exp(s - m), z = sum(e), p = e / z. Then the largest weight is 1 / z (the max key has
e = 1), and the entropy is logsumexp(s) - sum_k p_k s_k = m + log z - (e . s) / z. A row that
sees no key (padding) has m = +inf, so every e is exactly 0, and gets zeros everywhere.
"""

from __future__ import annotations

MASKED = -1e30  # score of a masked key: finite, so 0 * s stays 0 in the entropy sum; exp(MASKED - m) = 0


def soft_capped(scores, softcap: float | None):
    """Gemma-style soft-capping, in place: softcap * tanh(s / softcap)."""
    if softcap is None:
        return scores
    return scores.div_(softcap).tanh_().mul_(softcap)


def masked(scores, mask):
    """Apply a boolean (True: may attend) or additive float mask to scores, in place."""
    import torch

    if mask.dtype == torch.bool:
        return scores.masked_fill_(~mask, MASKED)
    return scores.add_(mask.float()).clamp_min_(MASKED)


def exp_rows(scores, out=None):
    """(e = exp(s - m), m) per row, along the last axis; m = +inf for a row that sees no key.

    ``out`` (optional, the shape of ``scores``) receives e, so the scores stay intact for the entropy.
    """
    import torch

    row_max = scores.amax(-1, keepdim=True)
    row_max = torch.where(row_max > MASKED / 2, row_max, torch.full_like(row_max, float("inf")))
    weights = torch.sub(scores, row_max, out=out) if out is not None else scores - row_max
    return weights.exp_(), row_max


def row_statistics(weights, scores, row_max, total):
    """(1 / z, entropy) per row from e, s, m and z = sum(e) (all [..., rows, 1] but e and s).

    1 / z is also the largest weight; both are 0 for a row that sees no key. The dot product
    e . s goes row by row (einsum), with no [rows, keys] temporary.
    """
    import torch

    seen = total > 0
    inv_total = torch.where(seen, 1.0 / torch.where(seen, total, torch.ones_like(total)), torch.zeros_like(total))
    log_total = row_max + torch.log(torch.where(seen, total, torch.ones_like(total)))  # logsumexp(s)
    expected_score = torch.einsum("...k,...k->...", weights, scores).unsqueeze(-1) * inv_total
    entropy = torch.where(seen, log_total - expected_score, torch.zeros_like(total)).clamp_min_(0.0)
    return inv_total, entropy
