"""Greedy generation in batches, and the token strings and offsets pages display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tqdm import tqdm

from generator.datasets import Example

DETOKENIZE_WINDOW = 6


@dataclass(frozen=True)
class Generation:
    example: Example
    token_ids: tuple[int, ...]  # prompt and generated tokens, no padding
    n_prompt_tokens: int


def generate(model, tokenizer, examples: Sequence[Example], max_new_tokens: int, batch_size: int,
             desc: str = "generating") -> list[Generation]:
    import torch

    out: list[Generation] = []
    device = next(model.parameters()).device
    bar = tqdm(total=len(examples), desc=desc, unit="example")
    for start in range(0, len(examples), batch_size):
        chunk = list(examples[start:start + batch_size])
        batch = tokenizer([e.prompt for e in chunk], return_tensors="pt", padding=True).to(device)
        with torch.no_grad():
            sequences = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            )
        width = batch["input_ids"].shape[1]
        for row, example in enumerate(chunk):
            prompt = [int(t) for t, m in zip(batch["input_ids"][row], batch["attention_mask"][row]) if m]
            generated = []
            for token in sequences[row, width:].tolist():
                generated.append(token)
                if token == tokenizer.eos_token_id:
                    break
            out.append(Generation(example, tuple(prompt + generated), len(prompt)))
        bar.update(len(chunk))
    bar.close()
    return out


def token_pieces(tokenizer, token_ids: Sequence[int]) -> tuple[list[str], list[tuple[int, int]], str]:
    """Display string and character span of every token, and the decoded text they index.

    Decoding from a few tokens back (instead of one token alone) keeps byte-level and
    sentencepiece tokenizers right about leading spaces; a token that ends inside a
    multi-byte character gets an empty piece and the token completing it gets the character.
    """
    special = set(tokenizer.all_special_ids)
    pieces: list[str] = []
    offsets: list[tuple[int, int]] = []
    text = ""
    plain: list[int] = []
    prefix_start = read_start = 0  # plain[prefix_start:read_start] is context already emitted
    for token in token_ids:
        if token in special:
            pieces.append(tokenizer.convert_ids_to_tokens(int(token)))
            offsets.append((len(text), len(text)))
            continue
        plain.append(int(token))
        before = tokenizer.decode(plain[prefix_start:read_start], clean_up_tokenization_spaces=False)
        after = tokenizer.decode(plain[prefix_start:], clean_up_tokenization_spaces=False)
        piece = ""
        if len(after) > len(before) and not after.endswith("\ufffd"):
            piece = after[len(before):]
            prefix_start = max(0, len(plain) - DETOKENIZE_WINDOW)
            read_start = len(plain)
        pieces.append(piece)
        offsets.append((len(text), len(text) + len(piece)))
        text += piece
    return pieces, offsets, text
