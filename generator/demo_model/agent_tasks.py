"""Tool-use problems for the shipped model, in the text ReAct format with short labels.

Each problem is a plan of operations whose operands are numbers, earlier results or a fact
looked up by name. The model learns to write a thought (the operation, with the values it
observed), call ``calc`` or ``lookup``, and answer with the last observation. The loop, not the
model, writes observations, so they are never scored; in a share of the training texts an
observation differs from the true value, and the text goes on with the observed one: the
model learns to use what the tool said (the counterfactual-tool check has a known answer).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Union

from generator.agent.formats import ReactLabels
from generator.agent.tools import calc, load_facts

DEMO_LABELS = ReactLabels(question="Q:", thought="T:", call="C:", observation="O:", answer="A:")
Operand = Union[int, str, tuple]  # a number, a fact's name, or ("r", k): the result of operation k


@dataclass(frozen=True)
class AgentProblem:
    expression: str  # the query, e.g. "17+4*6" or "3*dozen"
    plan: tuple[tuple[Operand, str, Operand], ...]  # operations in the order they are computed
    kind: str

    @property
    def query(self) -> str:
        return f"{self.expression}="

    def answer(self) -> str:
        return self.pieces(random.Random(0), 0.0)[-1][0].split(": ", 1)[1]

    def pieces(self, rng: random.Random, perturb: float) -> list[tuple[str, bool]]:
        """The text after the question line, as (piece, scored) pairs: observation lines are not scored."""
        labels, facts = DEMO_LABELS, load_facts()
        results: list[str] = []
        out: list[tuple[str, bool]] = []

        def observe(true_value: str) -> str:
            if rng.random() < perturb:
                return str(max(0, int(true_value) + rng.choice([d for d in range(-9, 10) if d])))
            return true_value

        for left, operator, right in self.plan:
            values = []
            for operand in (left, right):
                if isinstance(operand, tuple):
                    values.append(results[operand[1]])
                elif isinstance(operand, str):  # a fact: look it up first
                    out.append((f"{labels.thought} {operand}\n{labels.call} lookup({operand})\n", True))
                    observed = observe(facts[operand])
                    out.append((f"{labels.observation} {observed}\n", False))
                    values.append(observed)
                else:
                    values.append(str(operand))
            step = f"{values[0]}{operator}{values[1]}"
            out.append((f"{labels.thought} {step}\n{labels.call} calc({step})\n", True))
            observed = observe(calc(step))
            out.append((f"{labels.observation} {observed}\n", False))
            results.append(observed)
        out.append((f"{labels.answer} {results[-1]}", True))
        return out

    @property
    def prompt(self) -> str:
        return f"{DEMO_LABELS.question} {self.query}\n"


R0, R1 = ("r", 0), ("r", 1)


def _arithmetic(rng: random.Random) -> AgentProblem:
    kind = rng.randrange(6)
    if kind == 0:
        a, b, c = rng.randint(1, 60), rng.randint(2, 9), rng.randint(2, 9)
        return AgentProblem(f"{a}+{b}*{c}", ((b, "*", c), (a, "+", R0)), "a+b*c")
    if kind == 1:
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 60)
        return AgentProblem(f"{a}*{b}+{c}", ((a, "*", b), (R0, "+", c)), "a*b+c")
    if kind == 2:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        c = rng.randint(1, a * b)
        return AgentProblem(f"{a}*{b}-{c}", ((a, "*", b), (R0, "-", c)), "a*b-c")
    if kind == 3:
        a, b, c = rng.randint(1, 60), rng.randint(2, 9), rng.randint(2, 9)
        d = rng.randint(1, min(a + b * c, 60))
        return AgentProblem(f"{a}+{b}*{c}-{d}", ((b, "*", c), (a, "+", R0), (R1, "-", d)), "a+b*c-d")
    if kind == 4:
        a, b, c, d = (rng.randint(2, 9) for _ in range(4))
        return AgentProblem(f"{a}*{b}+{c}*{d}", ((a, "*", b), (c, "*", d), (R0, "+", R1)), "a*b+c*d")
    a, b, c, d = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 40), rng.randint(1, 40)
    return AgentProblem(f"{a}*{b}+{c}+{d}", ((a, "*", b), (R0, "+", c), (R1, "+", d)), "a*b+c+d")


FACT_FORMS = (("*", False), ("*", True), ("+", False), ("+", True), ("-", True))  # (operator, fact on the left)


def _with_fact(rng: random.Random) -> AgentProblem:
    facts = load_facts()
    name = rng.choice(sorted(facts))
    value = int(facts[name])
    operator, fact_first = FACT_FORMS[rng.randrange(len(FACT_FORMS))]
    a = rng.randint(*{"*": (2, 9), "+": (1, 60), "-": (1, value)}[operator])
    left, right = (name, a) if fact_first else (a, name)
    kind = f"fact{operator}a" if fact_first else f"a{operator}fact"
    return AgentProblem(f"{left}{operator}{right}", ((left, operator, right),), kind)


def sample_agent_problem(rng: random.Random) -> AgentProblem:
    return _with_fact(rng) if rng.random() < 0.35 else _arithmetic(rng)


def sample_unique_agent(rng: random.Random, n: int, exclude: set[str]) -> list[AgentProblem]:
    seen, out = set(exclude), []
    while len(out) < n:
        problem = sample_agent_problem(rng)
        if problem.query not in seen:
            seen.add(problem.query)
            out.append(problem)
    return out


AGENT_DATASET_SEED = 20261125
AGENT_QUERIES = 12


def demo_agent_problems() -> list[AgentProblem]:
    """The shipped agent dataset: 8 arithmetic queries and 4 that need a fact, never trained on."""
    rng = random.Random(AGENT_DATASET_SEED)
    arithmetic, facts, seen = [], [], set()
    while len(arithmetic) < 8 or len(facts) < 4:
        problem = sample_agent_problem(rng)
        bucket = facts if "fact" in problem.kind else arithmetic
        if problem.query not in seen and len(bucket) < (4 if bucket is facts else 8):
            seen.add(problem.query)
            bucket.append(problem)
    return arithmetic + facts


def agent_dataset_lines() -> list[str]:
    return [json.dumps({"id": f"agent-{index:03d}", "query": problem.query, "answer": problem.answer(),
                        "category": "lookup" if "fact" in problem.kind else "arithmetic", "plan": problem.kind})
            for index, problem in enumerate(demo_agent_problems())]
