"""Greedy generation in batches, and the token strings and offsets pages display."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

from tqdm import tqdm

from generator.capture.sampling import Sampling
from generator.datasets import Example

DETOKENIZE_WINDOW = 6


@dataclass(frozen=True)
class Generation:
    example: Example
    token_ids: tuple[int, ...]  # prompt and generated tokens, no padding
    n_prompt_tokens: int


def generate(model, tokenizer, examples: Sequence[Example], max_new_tokens: int, batch_size: int,
             desc: str = "generating") -> list[Generation]:
    """Greedy generation of ``examples`` in batches, with a progress bar."""
    out: list[Generation] = []
    with tqdm(total=len(examples), desc=desc, unit="example") as bar:
        for start in range(0, len(examples), batch_size):
            chunk = list(examples[start:start + batch_size])
            out += generate_batch(model, tokenizer, chunk, max_new_tokens)
            bar.update(len(chunk))
    return out


def generate_batch(model, tokenizer, examples: Sequence[Example], max_new_tokens: int,
                   sampling: Sampling = Sampling()) -> list[Generation]:
    """Generation of one left-padded batch (greedy, or sampled with each example's own seed); each
    result stops at its first end-of-sequence token."""
    import torch

    batch = prompt_batch(tokenizer, examples, next(model.parameters()).device)
    with torch.no_grad():
        sequences = model.generate(
            **batch, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            **sampling_kwargs(sampling, examples),
        )
    width = batch["input_ids"].shape[1]
    out = []
    for row, example in enumerate(examples):
        prompt = [int(t) for t, m in zip(batch["input_ids"][row], batch["attention_mask"][row]) if m]
        generated = []
        for token in sequences[row, width:].tolist():
            generated.append(token)
            if token == tokenizer.eos_token_id:
                break
        out.append(Generation(example, tuple(prompt + generated), len(prompt)))
    return out


def prompt_batch(tokenizer, examples: Sequence[Example], device):
    """The examples' model inputs as one left-padded batch (a chat rendering gets no second <bos>)."""
    texts = [e.model_text() for e in examples]
    return tokenizer([text for text, _ in texts], return_tensors="pt", padding=True,
                     add_special_tokens=texts[0][1]).to(device)


def sampling_kwargs(sampling: Sampling, examples: Sequence[Example]) -> dict:
    """What ``generate`` needs to sample each example with its own seed (nothing when greedy)."""
    if sampling.greedy:
        return {}
    from transformers import LogitsProcessorList

    return {"logits_processor": LogitsProcessorList(sampling.processors([e.id for e in examples]))}


def with_cache(model, cache) -> dict:
    """The keyword a forward pass takes its KV cache by: ``cache`` in transformers' newer API,
    ``past_key_values`` before it (passing the old name to the new API prints a deprecation warning)."""
    parameters = inspect.signature(getattr(model, "forward", model)).parameters
    return {"cache": cache} if "cache" in parameters else {"past_key_values": cache}


def cache_of(output):
    """The KV cache a forward pass or ``generate`` returned, under either name."""
    if "cache" in (output.keys() if hasattr(output, "keys") else vars(output)):
        return output["cache"] if hasattr(output, "keys") else output.cache
    return getattr(output, "past_key_values", None)


class Detokenizer:
    """Turns token ids into display pieces one at a time, with character offsets.

    Decoding from a few tokens back (instead of one token alone) keeps byte-level and
    sentencepiece tokenizers right about leading spaces; a token that ends inside a
    multi-byte character gets an empty piece and the token completing it gets the character.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.special = set(tokenizer.all_special_ids)
        self.pieces: list[str] = []
        self.offsets: list[tuple[int, int]] = []
        self.text = ""
        self._plain: list[int] = []
        self._prefix_start = self._read_start = 0  # plain[prefix_start:read_start] was emitted

    def mark(self, name: str) -> None:
        """A position with no text of its own (a continuous thought, a token outside the tokenizer's vocabulary),
        shown as ``name`` with an empty span, like a special token."""
        self.pieces.append(name)
        self.offsets.append((len(self.text), len(self.text)))

    def push(self, token: int) -> None:
        token = int(token)
        if token in self.special:
            self.pieces.append(self.tokenizer.convert_ids_to_tokens(token))
            self.offsets.append((len(self.text), len(self.text)))
            return
        self._plain.append(token)
        decode = self.tokenizer.decode
        before = decode(self._plain[self._prefix_start:self._read_start], clean_up_tokenization_spaces=False)
        after = decode(self._plain[self._prefix_start:], clean_up_tokenization_spaces=False)
        piece = ""
        if len(after) > len(before) and not after.endswith("\ufffd"):
            piece = after[len(before):]
            self._prefix_start = max(0, len(self._plain) - DETOKENIZE_WINDOW)
            self._read_start = len(self._plain)
        self.pieces.append(piece)
        self.offsets.append((len(self.text), len(self.text) + len(piece)))
        self.text += piece


def token_pieces(tokenizer, token_ids: Sequence[int]) -> tuple[list[str], list[tuple[int, int]], str]:
    """Display string and character span of every token, and the decoded text they index."""
    detokenizer = Detokenizer(tokenizer)
    for token in token_ids:
        detokenizer.push(token)
    return detokenizer.pieces, detokenizer.offsets, detokenizer.text
