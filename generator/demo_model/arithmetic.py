"""Synthetic multi-step arithmetic written with explicit reasoning steps.

The shipped demo model is trained on this text, so its structure is known exactly:
every problem is ``Q: <expr>=`` followed by one ``T: <step>;`` per operation in a fixed
order and ``A: <value>``. Analyses are tested against that known structure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

PROMPT_PREFIX = "Q: "
STEP_MARKER = "T:"
ANSWER_MARKER = "A:"


@dataclass(frozen=True)
class ArithmeticProblem:
    """One problem: the prompt the model sees and the completion it must produce."""

    expression: str
    steps: tuple[str, ...]
    answer: int
    kind: str

    @property
    def prompt(self) -> str:
        return f"{PROMPT_PREFIX}{self.expression}="

    @property
    def completion(self) -> str:
        body = "".join(f" {STEP_MARKER} {step};" for step in self.steps)
        return f"{body} {ANSWER_MARKER} {self.answer}"

    @property
    def text(self) -> str:
        return self.prompt + self.completion

    @property
    def n_steps(self) -> int:
        return len(self.steps)


def _add_mul(rng: random.Random) -> ArithmeticProblem:
    a, b, c = rng.randint(1, 60), rng.randint(2, 9), rng.randint(2, 9)
    p = b * c
    return ArithmeticProblem(f"{a}+{b}*{c}", (f"{b}*{c}={p}", f"{a}+{p}={a + p}"), a + p, "a+b*c")


def _mul_add(rng: random.Random) -> ArithmeticProblem:
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 60)
    p = a * b
    return ArithmeticProblem(f"{a}*{b}+{c}", (f"{a}*{b}={p}", f"{p}+{c}={p + c}"), p + c, "a*b+c")


def _mul_sub(rng: random.Random) -> ArithmeticProblem:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    p = a * b
    c = rng.randint(1, p)
    return ArithmeticProblem(f"{a}*{b}-{c}", (f"{a}*{b}={p}", f"{p}-{c}={p - c}"), p - c, "a*b-c")


def _add_mul_sub(rng: random.Random) -> ArithmeticProblem:
    a, b, c = rng.randint(1, 60), rng.randint(2, 9), rng.randint(2, 9)
    p = b * c
    s = a + p
    d = rng.randint(1, min(s, 60))
    return ArithmeticProblem(
        f"{a}+{b}*{c}-{d}", (f"{b}*{c}={p}", f"{a}+{p}={s}", f"{s}-{d}={s - d}"), s - d, "a+b*c-d"
    )


def _mul_add_mul(rng: random.Random) -> ArithmeticProblem:
    a, b, c, d = (rng.randint(2, 9) for _ in range(4))
    p, q = a * b, c * d
    return ArithmeticProblem(
        f"{a}*{b}+{c}*{d}", (f"{a}*{b}={p}", f"{c}*{d}={q}", f"{p}+{q}={p + q}"), p + q, "a*b+c*d"
    )


def _mul_add_add(rng: random.Random) -> ArithmeticProblem:
    a, b, c, d = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 40), rng.randint(1, 40)
    p = a * b
    return ArithmeticProblem(
        f"{a}*{b}+{c}+{d}", (f"{a}*{b}={p}", f"{p}+{c}={p + c}", f"{p + c}+{d}={p + c + d}"),
        p + c + d, "a*b+c+d",
    )


TWO_STEP: tuple[Callable[[random.Random], ArithmeticProblem], ...] = (_add_mul, _mul_add, _mul_sub)
THREE_STEP: tuple[Callable[[random.Random], ArithmeticProblem], ...] = (
    _add_mul_sub, _mul_add_mul, _mul_add_add,
)
ALL_KINDS = TWO_STEP + THREE_STEP


def sample_problem(rng: random.Random, makers=ALL_KINDS) -> ArithmeticProblem:
    return rng.choice(makers)(rng)


def sample_unique(rng: random.Random, n: int, makers, exclude: set[str]) -> list[ArithmeticProblem]:
    """Draw ``n`` problems with distinct prompts, none of them in ``exclude``."""
    seen = set(exclude)
    problems: list[ArithmeticProblem] = []
    while len(problems) < n:
        problem = sample_problem(rng, makers)
        if problem.prompt not in seen:
            seen.add(problem.prompt)
            problems.append(problem)
    return problems


def parse_answer(completion: str) -> int | None:
    """The integer after the last answer marker, or None when the model wrote none."""
    _, marker, tail = completion.rpartition(ANSWER_MARKER)
    if not marker:
        return None
    token = tail.strip().split(" ")[0] if tail.strip() else ""
    try:
        return int(token)
    except ValueError:
        return None
