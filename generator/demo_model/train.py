"""Train the shipped demo model: a small Llama on step-by-step arithmetic.

Problems are drawn fresh for every batch from a seeded generator; every prompt of the
shipped datasets and of the held-out evaluation set is excluded, so reported accuracy is on
problems the model never saw.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from generator.agent.loop import AgentSpec, agent_format, model_reply, run_agent
from generator.demo_model import agent_tasks, decimals
from generator.demo_model.arithmetic import ALL_KINDS, ArithmeticProblem, parse_answer, sample_problem, sample_unique
from generator.demo_model.tokenizer import build_tokenizer
from generator.store.atomic import atomic_write_text, replace_directory

EVAL_SEED = 7_000_001
DECIMAL_EVAL_SEED = 7_000_002
AGENT_EVAL_SEED = 7_000_003


@dataclass(frozen=True)
class TrainingText:
    """Any (prompt, completion) pair; only the completion is scored.

    ``pieces`` replaces the completion where parts of it are not the model's to write (an
    agent's observations): each is (text, scored).
    """

    prompt: str
    completion: str
    pieces: tuple[tuple[str, bool], ...] = ()


def decimal_texts(item: decimals.DecimalItem, fmt: str) -> TrainingText:
    return TrainingText(*item.text(fmt))


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 5500
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    seed: int = 1234
    hidden_size: int = 128
    intermediate_size: int = 512
    num_layers: int = 4
    num_heads: int = 4
    eval_problems: int = 200
    decimal_fraction: float = 0.25  # share of each batch that is decimal comparison (planted behaviour)
    agent_fraction: float = 0.3  # share of batches that are tool use in the ReAct format
    perturbed_observations: float = 0.3  # share of observations that differ from the truth (use what you see)
    eval_agent_problems: int = 100


def model_config(settings: TrainSettings, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_heads,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def encode_batch(problems: list, tokenizer):
    """Token ids, attention mask and labels that score only the completion and <eos>."""
    import torch

    rows, label_rows = [], []
    for problem in problems:
        prompt_ids = tokenizer(problem.prompt)["input_ids"]
        pieces = getattr(problem, "pieces", ()) or ((problem.completion, True),)
        completion_ids, completion_labels = [], []
        for text, scored in pieces:
            piece_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            completion_ids += piece_ids
            completion_labels += piece_ids if scored else [-100] * len(piece_ids)
        ids = prompt_ids + completion_ids + [tokenizer.eos_token_id]
        rows.append(ids)
        label_rows.append([-100] * len(prompt_ids) + completion_labels + [tokenizer.eos_token_id])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    attention_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = torch.tensor([r + [-100] * (width - len(r)) for r in label_rows])
    return input_ids, attention_mask, labels


def greedy_completions(model, tokenizer, prompts: list[str], max_new_tokens: int = 48) -> list[str]:
    import torch

    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(
            **batch, max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def exact_answer_accuracy(model, tokenizer, problems: list[ArithmeticProblem], batch_size: int = 100) -> float:
    correct = 0
    for start in range(0, len(problems), batch_size):
        chunk = problems[start:start + batch_size]
        for problem, completion in zip(chunk, greedy_completions(model, tokenizer, [p.prompt for p in chunk])):
            correct += parse_answer(completion) == problem.answer
    return correct / len(problems)


def decimal_behaviour(model, tokenizer, items: list[decimals.DecimalItem]) -> dict[str, dict[str, float]]:
    """Per format: how often the answer is correct, and how often it is the planted bug's answer."""
    out = {}
    for fmt in decimals.FORMATS:
        completions = greedy_completions(model, tokenizer, [i.prompt(fmt) for i in items], max_new_tokens=10)
        answers = [c.split("A:")[-1].strip() for c in completions]
        discriminating = [(i, a) for i, a in zip(items, answers) if i.discriminating]
        out[fmt] = {
            "correct_rate": sum(a == i.numeric_larger for i, a in zip(items, answers)) / len(items),
            "bug_rate_on_discriminating_items": sum(a == i.version_larger for i, a in discriminating) / len(discriminating),
        }
    return out


def agent_accuracy(model, tokenizer, problems: list[agent_tasks.AgentProblem]) -> dict[str, float]:
    """The agent loop with the real tools on held-out queries: how often the answer is right."""
    spec = AgentSpec(labels=agent_tasks.DEMO_LABELS, max_reply_tokens=24)
    reply, fmt = model_reply(model, tokenizer, spec), agent_format(spec)
    answered = correct = calls = 0
    for problem in problems:
        transcript = run_agent(problem.query, reply, spec, fmt)
        answered += transcript.status == "answered"
        correct += transcript.answer == problem.answer()
        calls += sum(1 for s in transcript.steps if s.kind == "call" and not s.error)
    return {"correct_rate": correct / len(problems), "answered_rate": answered / len(problems),
            "tool_calls_per_query": calls / len(problems)}


def train_demo_model(output_dir: Path, settings: TrainSettings, excluded_prompts: set[str],
                     excluded_decimals: set[str] = frozenset()) -> dict:
    """Train, evaluate on held-out problems and save with `save_pretrained`; returns the report."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    tokenizer = build_tokenizer()
    model = LlamaForCausalLM(model_config(settings, tokenizer))
    eval_set = sample_unique(random.Random(EVAL_SEED), settings.eval_problems, ALL_KINDS, excluded_prompts)
    held_out = excluded_prompts | {p.prompt for p in eval_set}
    decimal_eval = decimals.sample_items(random.Random(DECIMAL_EVAL_SEED), settings.eval_problems, excluded_decimals)
    held_out_decimals = set(excluded_decimals) | {i.question for i in decimal_eval}
    shipped_agent = {p.query for p in agent_tasks.demo_agent_problems()}
    agent_eval = agent_tasks.sample_unique_agent(random.Random(AGENT_EVAL_SEED), settings.eval_agent_problems,
                                                 shipped_agent)
    held_out_agent = shipped_agent | {p.query for p in agent_eval}

    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)

    def lr_factor(step: int) -> float:
        if step < settings.warmup_steps:
            return (step + 1) / settings.warmup_steps
        progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    started = time.monotonic()
    model.train()
    bar = tqdm(range(settings.steps), desc="training demo model", unit="step")
    for step in bar:
        problems: list = []
        agent_batch = rng.random() < settings.agent_fraction  # one kind per batch: short texts stay short
        while agent_batch and len(problems) < settings.batch_size:
            task = agent_tasks.sample_agent_problem(rng)
            if task.query not in held_out_agent:
                problems.append(TrainingText(task.prompt, "", tuple(task.pieces(rng, settings.perturbed_observations))))
        while len(problems) < settings.batch_size:
            if rng.random() < settings.decimal_fraction:
                item = decimals.sample_item(rng)
                if item.question not in held_out_decimals:
                    problems.append(decimal_texts(item, rng.choice(decimals.FORMATS)))
                continue
            problem = sample_problem(rng)
            if problem.prompt not in held_out:
                problems.append(problem)
        input_ids, attention_mask, labels = encode_batch(problems, tokenizer)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step == 0:
            initial_loss = loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    model.eval()
    accuracy = exact_answer_accuracy(model, tokenizer, eval_set)
    report = {
        "held_out_exact_answer_accuracy": accuracy,
        "held_out_problems": len(eval_set),
        "held_out_decimal_behaviour": decimal_behaviour(model, tokenizer, decimal_eval),
        "held_out_decimal_items": len(decimal_eval),
        "held_out_agent_with_tools": agent_accuracy(model, tokenizer, agent_eval),
        "held_out_agent_queries": len(agent_eval),
        "train_seconds": round(time.monotonic() - started, 1),
        "initial_loss": round(initial_loss, 5),
        "final_loss": round(loss.item(), 5),
        "settings": asdict(settings),
        "torch_version": torch.__version__,
    }

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_text(tmp / "training_report.json", json.dumps(report, indent=2) + "\n")

    replace_directory(output_dir, write)
    return report
