"""The two shipped datasets: two-step and three-step arithmetic, never used in training."""

from __future__ import annotations

import json
import random
from pathlib import Path

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


def shipped_prompts() -> set[str]:
    return {p.prompt for problems in demo_problems().values() for p in problems}
