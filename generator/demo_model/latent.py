"""A small latent-reasoning model with a known answer: two continuous thoughts that carry two sums.

Task: ``Q: a+b+c=`` with digits a, b, c; the answer is ``(a + b + c) mod 10``. The model reads
the question and a begin token, then makes two continuous thoughts Coconut's way (the last
layer's hidden state fed back as the next input embedding, no projection), then an end token
and the answer. Training (from scratch, on the character tokenizer with three added tokens)
backpropagates through the thought loop and, besides the answer, asks each thought's own
prediction (the logit lens of its last layer) to be an intermediate result: thought 1 the
partial sum ``(a + b) mod 10``, thought 2 the answer. So the known structure is:

- thought 1 decodes to the partial sum and thought 2 to the answer (``thought_lens``);
- replacing thought 2 breaks the answer; replacing thought 1 breaks it when thought 2 is made
  again from the edited state (``recompute``), much less when thought 2 is kept as it was
  (``keep``), because the answer is read from thought 2 (``latent_ablation``).

The tests build it in about half a minute (``tests/demo_model/test_latent_model.py``); it is
trained the same way every time (seeded, CPU).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.demo_model.tokenizer import build_tokenizer
from generator.store.atomic import atomic_write_text, replace_directory

BEGIN, END, PLACEHOLDER = "<bot>", "<eot>", "<latent>"
THOUGHTS = 2


@dataclass(frozen=True)
class LatentSettings:
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 3e-3
    seed: int = 7
    hidden_size: int = 64
    intermediate_size: int = 256
    num_layers: int = 3
    num_heads: int = 4
    held_out: int = 200  # problems never trained on, for the reported accuracy and the shipped dataset


@dataclass(frozen=True)
class SumProblem:
    a: int
    b: int
    c: int

    @property
    def prompt(self) -> str:
        return f"Q: {self.a}+{self.b}+{self.c}="

    @property
    def partial(self) -> int:
        return (self.a + self.b) % 10

    @property
    def answer(self) -> int:
        return (self.a + self.b + self.c) % 10


def all_problems() -> list[SumProblem]:
    return [SumProblem(a, b, c) for a in range(10) for b in range(10) for c in range(10)]


def split_problems(settings: LatentSettings) -> tuple[list[SumProblem], list[SumProblem]]:
    """(training, held out): a seeded shuffle of all 1,000 problems."""
    problems = all_problems()
    random.Random(settings.seed).shuffle(problems)
    return problems[settings.held_out:], problems[:settings.held_out]


def latent_tokenizer():
    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": [BEGIN, END, PLACEHOLDER]})
    return tokenizer


def _batch(tokenizer, problems: list[SumProblem]):
    """Prompt ids (all the same length) with the begin token, and the three targets."""
    import torch

    begin = tokenizer.convert_tokens_to_ids(BEGIN)
    ids = torch.tensor([tokenizer(p.prompt)["input_ids"] + [begin] for p in problems])
    digit = {d: tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)}
    partial = torch.tensor([digit[p.partial] for p in problems])
    answer = torch.tensor([digit[p.answer] for p in problems])
    return ids, partial, answer


def _losses(model, tokenizer, problems: list[SumProblem]):
    """Cross-entropy of thought 1's prediction (partial sum), thought 2's (answer), the answer after <eot> and <eos>
    after it, through the thought loop (no cache: each pass reads the whole sequence of embeddings so far)."""
    import torch
    import torch.nn.functional as F

    ids, partial, answer = _batch(tokenizer, problems)
    embed = model.get_input_embeddings()
    sequence = embed(ids)
    predictions = []
    for _ in range(THOUGHTS):
        out = model(inputs_embeds=sequence, output_hidden_states=True)
        thought = out.hidden_states[-1][:, -1:]  # normed, as the thought loop feeds it
        sequence = torch.cat([sequence, thought], dim=1)
    end = torch.full_like(ids[:, :1], tokenizer.convert_tokens_to_ids(END))
    out = model(inputs_embeds=torch.cat([sequence, embed(end), embed(answer[:, None])], 1))
    first = ids.shape[1]
    for index in range(THOUGHTS):
        predictions.append(out.logits[:, first + index])
    eos = torch.full_like(answer, tokenizer.eos_token_id)
    return (F.cross_entropy(predictions[0], partial), F.cross_entropy(predictions[1], answer),
            F.cross_entropy(out.logits[:, -2], answer), F.cross_entropy(out.logits[:, -1], eos))


def train_latent_model(directory: Path, settings: LatentSettings = LatentSettings()) -> dict:
    """Train and save the model (config, weights, tokenizer, report) into ``directory`` whole; return the report."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(settings.seed)
    tokenizer = latent_tokenizer()
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=settings.hidden_size, intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers, num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_heads, max_position_embeddings=64, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    training, held_out = split_problems(settings)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.learning_rate, total_steps=settings.steps)
    rng = random.Random(settings.seed)
    model.train()
    for _ in range(settings.steps):
        loss = sum(_losses(model, tokenizer, rng.sample(training, settings.batch_size)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    report = {"settings": asdict(settings), "held_out_accuracy": evaluate(model, tokenizer, held_out),
              "task": "Q: a+b+c= -> (a+b+c) mod 10; thought 1 trained to predict (a+b) mod 10, thought 2 the answer"}

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_text(tmp / "training_report.json", json.dumps(report, indent=1) + "\n")

    replace_directory(Path(directory), fill)
    return report


def evaluate(model, tokenizer, problems: list[SumProblem]) -> float:
    """Share of ``problems`` whose answer, read after <eot>, is right (the three losses' last prediction)."""
    import torch

    with torch.no_grad():
        ids, _, answer = _batch(tokenizer, problems)
        embed = model.get_input_embeddings()
        sequence = embed(ids)
        for _ in range(THOUGHTS):
            thought = model(inputs_embeds=sequence, output_hidden_states=True).hidden_states[-1][:, -1:]
            sequence = torch.cat([sequence, thought], dim=1)
        end = embed(torch.full_like(ids[:, :1], tokenizer.convert_tokens_to_ids(END)))
        logits = model(inputs_embeds=torch.cat([sequence, end], 1)).logits[:, -1]
    return float((logits.argmax(-1) == answer).float().mean())


def dataset_rows(problems: list[SumProblem]) -> list[dict]:
    """Dataset lines: the prompt, the answer, and the partial sum thought 1 should carry (for ``thought_lens``)."""
    return [{"id": f"s{p.a}{p.b}{p.c}", "prompt": p.prompt, "answer": str(p.answer), "partial": str(p.partial)}
            for p in problems]
