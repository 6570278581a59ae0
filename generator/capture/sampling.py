"""Sampled decoding with one seed per example, so an example's output does not depend on its batch.

``model.generate`` samples from one random stream for the whole batch: which examples share a
batch (or a resumed run's batch) would change every output. Here each example has its own
generator, seeded from the run's seed and the example's id, and a logits processor draws the
next token (temperature, then top-k, then top-p) and leaves only that token for greedy decoding
to pick. Greedy stays the default (``temperature: 0``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    top_k: int = 0  # 0: no limit
    seed: int = 0  # the run's seed; each example's own is derived from it and the example's id

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def example_seed(self, example_id: str) -> int:
        """The seed of one example's generator: the same in any batch, on any rank, after any resume."""
        return int.from_bytes(hashlib.sha256(f"{self.seed}:{example_id}".encode()).digest()[:8], "little")

    def record(self, example_id: str) -> dict:
        """What a trajectory keeps of how it was sampled."""
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "seed": self.example_seed(example_id)}

    def processors(self, example_ids: Sequence[str]) -> list:
        """The logits processors ``generate`` takes (none when greedy)."""
        return [] if self.greedy else [_PerExampleSampler(self, example_ids)]

    def picker(self, example_id: str):
        """A function from one position's logits (``[vocab]``) to the next token: greedy, or drawn with this
        example's own generator (for decoding loops of our own, such as the agent's)."""
        if self.greedy:
            return lambda logits: int(logits.argmax())
        sampler = _PerExampleSampler(self, [example_id])
        return lambda logits: int(sampler(None, logits[None, :]).argmax())


class _PerExampleSampler:
    """Draws each row's next token with that row's generator; every other token gets -inf."""

    def __init__(self, sampling: Sampling, example_ids: Sequence[str]) -> None:
        import torch

        self.sampling = sampling
        self.generators = [torch.Generator().manual_seed(sampling.example_seed(i)) for i in example_ids]

    def __call__(self, input_ids, scores):
        import torch

        sampling = self.sampling
        logits = scores.float() / sampling.temperature
        if sampling.top_k:
            kth = torch.topk(logits, min(sampling.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if sampling.top_p < 1.0:
            ordered, order = torch.sort(logits, dim=-1, descending=True)
            before = torch.softmax(ordered, dim=-1).cumsum(-1) - torch.softmax(ordered, dim=-1)
            ordered = ordered.masked_fill(before >= sampling.top_p, float("-inf"))  # keeps the top token always
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
        probabilities = torch.softmax(logits, dim=-1).cpu()
        chosen = [int(torch.multinomial(row, 1, generator=generator)) for row, generator in
                  zip(probabilities, self.generators)]
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(chosen)), torch.tensor(chosen, device=scores.device)] = 0.0
        return out
