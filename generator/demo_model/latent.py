"""A small latent-reasoning model with a known answer: two continuous thoughts that carry two sums.

Task: ``Q: a+b+c=`` with digits whose sum is at most 9 (220 problems); the answer is ``a + b + c``. The model reads
the question and a begin token, then makes two continuous thoughts Coconut's way (the last
layer's hidden state fed back as the next input embedding, no projection), then an end token
and the answer. Training (from scratch, on the character tokenizer with three added tokens)
backpropagates through the thought loop and, besides the answer, asks each thought (the last layer's hidden state
that becomes it, read through the unembedding: its logit lens) to be an intermediate result:
thought 1 the partial sum ``a + b``, thought 2 the answer. The passes after the first see the
question with the operands they must not use scrambled, so the answer can only travel through
the thoughts. (A first version asked for sums mod 10: training sat at
a loss of ln 2 for thousands of steps, the parity of the sum being the hard bit; sums without a
carry are learned in a few hundred.) So the known structure is:

- thought 1 decodes to the partial sum and thought 2 to the answer (``thought_lens``);
- zeroing thought 2 breaks the answer; zeroing thought 1 breaks it when thought 2 is made again
  from the edited state (``recompute``), and far less when thought 2 is kept as it was
  (``keep``), because the answer is read from thought 2 (``latent_ablation``).

It is shipped (``data/models/atlas-latent-demo``, under 1 MB; training takes about two minutes
on two CPU cores); ``atlas train-demo-model --latent`` trains it again, the same way every
time (seeded). ``tests/demo_model/test_latent_model.py`` checks the known structure on it.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from generator.demo_model.tokenizer import build_tokenizer
from generator.store.atomic import atomic_write_text, replace_directory

BEGIN, END, PLACEHOLDER = "<bot>", "<eot>", "<latent>"
THOUGHTS = 2


@dataclass(frozen=True)
class LatentSettings:
    steps: int = 900
    batch_size: int = 128
    learning_rate: float = 2e-3  # after 100 warm-up steps, constant
    seed: int = 7
    hidden_size: int = 64
    intermediate_size: int = 256
    num_layers: int = 3
    num_heads: int = 4
    held_out: int = 60  # problems never trained on, for the reported accuracy and the shipped dataset


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
        return self.a + self.b

    @property
    def answer(self) -> int:
        return self.a + self.b + self.c


def all_problems() -> list[SumProblem]:
    return [SumProblem(a, b, c) for a in range(10) for b in range(10) for c in range(10) if a + b + c <= 9]


def split_problems(settings: LatentSettings) -> tuple[list[SumProblem], list[SumProblem]]:
    """(training, held out): a seeded shuffle of all 220 problems."""
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


OPERANDS = (4, 6, 8)  # token positions of a, b and c in "<bos>Q: a+b+c="


def _hidden_question(ids, generator, operands: tuple[int, ...], digits):
    """``ids`` with the digits at ``operands`` replaced by random ones: what a pass may not read the question for."""
    import torch

    hidden = ids.clone()
    for position in operands:
        hidden[:, position] = digits[torch.randint(0, 10, (len(ids),), generator=generator)]
    return hidden


def _losses(model, tokenizer, problems: list[SumProblem], generator):
    """Cross-entropy of what each thought should hold (thought 1, made at <bot>: a + b; thought 2, made at thought
    1's position: the answer), of the answer after <eot> and of <eos> after it, through the thought loop.

    Each pass after the first sees the question with the operands it may not use replaced by random digits
    (thought 2's pass: a and b; the answer's pass: all three, and thought 1 taken from another problem), so
    thought 2 is made from thought 1 and c, and the answer read from thought 2 alone: the structure the tests
    check is built in, not hoped for. At run time the question and thought 1 are whole.
    """
    import torch
    import torch.nn.functional as F

    ids, partial, answer = _batch(tokenizer, problems)
    digits = torch.tensor([tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)])
    embed = model.get_input_embeddings()
    out = model(inputs_embeds=embed(ids), output_hidden_states=True)
    made_at_begin = out.logits[:, -1]
    first = out.hidden_states[-1][:, -1:]  # normed, as the thought loop feeds it
    second_pass = torch.cat([embed(_hidden_question(ids, generator, OPERANDS[:2], digits)), first], 1)
    out = model(inputs_embeds=second_pass, output_hidden_states=True)
    made_at_first = out.logits[:, -1]
    second = out.hidden_states[-1][:, -1:]
    end = torch.full_like(ids[:, :1], tokenizer.convert_tokens_to_ids(END))
    other_first = first[torch.randperm(len(ids), generator=generator)]  # another problem's thought 1
    out = model(inputs_embeds=torch.cat([embed(_hidden_question(ids, generator, OPERANDS, digits)), other_first,
                                         second, embed(end), embed(answer[:, None])], 1))
    eos = torch.full_like(answer, tokenizer.eos_token_id)
    return (F.cross_entropy(made_at_begin, partial), F.cross_entropy(made_at_first, answer),
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
    warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 100))
    rng = random.Random(settings.seed)
    hiding = torch.Generator().manual_seed(settings.seed)
    model.train()
    for _ in tqdm(range(settings.steps), desc="training the latent demo model", unit="step"):
        loss = sum(_losses(model, tokenizer, rng.choices(training, k=settings.batch_size), hiding))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        warmup.step()
    model.eval()
    report = {"settings": asdict(settings), "held_out_accuracy": evaluate(model, tokenizer, held_out),
              "task": "Q: a+b+c= -> a+b+c (at most 9); thought 1 trained to predict a+b, thought 2 the answer"}

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


def write_latent_dataset(path: Path, problems: list[SumProblem]) -> Path:
    """The shipped dataset of held-out problems, one JSON object per line, written atomically."""
    atomic_write_text(Path(path), "".join(json.dumps(row) + "\n" for row in dataset_rows(problems)))
    return Path(path)
