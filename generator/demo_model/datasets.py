"""The two shipped datasets: two-step and three-step arithmetic, never used in training."""

from __future__ import annotations

import json
import random
from pathlib import Path

from generator.demo_model import decimals
from generator.demo_model.agent_tasks import agent_dataset_lines
from generator.demo_model.arithmetic import THREE_STEP, TWO_STEP, ArithmeticProblem, sample_unique
from generator.store.atomic import atomic_write_text

DATASET_SEED = 20261123
PROBLEMS_PER_DATASET = 24
DEMO_DATASETS = {"two-step": TWO_STEP, "three-step": THREE_STEP}


def demo_problems() -> dict[str, list[ArithmeticProblem]]:
    rng = random.Random(DATASET_SEED)
    taken: set[str] = set()
    out = {}
    for name, makers in DEMO_DATASETS.items():
        problems = sample_unique(rng, PROBLEMS_PER_DATASET, makers, taken)
        taken |= {p.prompt for p in problems}
        out[name] = problems
    return out


def write_demo_datasets(directory: Path) -> list[Path]:
    written = []
    for name, problems in demo_problems().items():
        lines = [
            json.dumps({
                "id": f"{name}-{index:03d}",
                "prompt": problem.prompt,
                "answer": str(problem.answer),
                "difficulty": f"{problem.n_steps} steps",
                "category": problem.kind,
            })
            for index, problem in enumerate(problems)
        ]
        path = Path(directory) / f"{name}.jsonl"
        atomic_write_text(path, "\n".join(lines) + "\n")
        written.append(path)
    return written


DECIMAL_SEED = 20261124
DECIMAL_ITEMS = 24


def demo_decimal_items() -> list[decimals.DecimalItem]:
    """Two thirds of the items discriminate the correct answer from the planted bug's."""
    rng = random.Random(DECIMAL_SEED)
    items: list[decimals.DecimalItem] = []
    want = {True: DECIMAL_ITEMS * 2 // 3, False: DECIMAL_ITEMS - DECIMAL_ITEMS * 2 // 3}
    seen: set[str] = set()
    while sum(want.values()):
        item = decimals.sample_item(rng)
        if item.question not in seen and want[item.discriminating]:
            seen.add(item.question)
            want[item.discriminating] -= 1
            items.append(item)
    return items


def write_decimal_dataset(directory: Path) -> Path:
    lines = [json.dumps({
        "id": f"decimals-{index:03d}",
        "prompt": item.prompt("plain"),
        "answer": item.numeric_larger,
        "difficulty": "discriminating" if item.discriminating else "agreeing",
        "category": "decimal comparison",
        "question": item.question,
        "bug_answer": item.version_larger,
    }) for index, item in enumerate(demo_decimal_items())]
    path = Path(directory) / "decimals.jsonl"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def shipped_decimal_questions() -> set[str]:
    return {item.question for item in demo_decimal_items()}


def shipped_prompts() -> set[str]:
    return {p.prompt for problems in demo_problems().values() for p in problems}


def write_agent_dataset(directory: Path) -> Path:
    """Queries for the agent loop (id, query, answer, category), none of them trained on."""
    path = Path(directory) / "agent.jsonl"
    atomic_write_text(path, "\n".join(agent_dataset_lines()) + "\n")
    return path
