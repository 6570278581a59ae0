"""Decimal comparison items with a deliberately planted, format-dependent behaviour.

"Which is larger: 9.11 or 9.9?" is asked in three formats. In the plain (``P:``) and chat
formats the shipped model is trained to answer correctly (9.9). In the Q&A (``Q:``) format it
is trained to answer like a version-number comparison (9.11, because 11 > 9): a planted
bug, so that prompt-format evaluation and activation patching have a known answer. The
plain and Q&A prompts differ in their first character only, so they align token by token.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FORMATS = ("plain", "qa", "chat")
FORMAT_PREFIX = {"plain": "P: ", "qa": "Q: "}
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}Bot:{% endif %}"
)


@dataclass(frozen=True)
class DecimalItem:
    left: str
    right: str

    @property
    def question(self) -> str:
        return f"{self.left} vs {self.right}?"

    @property
    def numeric_larger(self) -> str:
        return self.left if float(self.left) > float(self.right) else self.right

    @property
    def version_larger(self) -> str:
        """The answer of the planted bug: fractional digits compared as whole numbers."""
        def key(value: str) -> tuple[int, int]:
            whole, frac = value.split(".")
            return int(whole), int(frac)
        return self.left if key(self.left) > key(self.right) else self.right

    @property
    def discriminating(self) -> bool:
        """True when the correct answer and the planted bug disagree."""
        return self.numeric_larger != self.version_larger

    def prompt(self, fmt: str) -> str:
        if fmt == "chat":
            return f"User: {self.question}\nBot:"
        return FORMAT_PREFIX[fmt] + self.question

    def trained_answer(self, fmt: str) -> str:
        return self.version_larger if fmt == "qa" else self.numeric_larger

    def text(self, fmt: str) -> tuple[str, str]:
        """(prompt, completion) as trained."""
        return self.prompt(fmt), f" A: {self.trained_answer(fmt)}"


def sample_item(rng: random.Random) -> DecimalItem:
    """Equal whole parts; one or two fractional digits, half of the items discriminating."""
    whole = rng.randint(1, 9)
    while True:
        a = f"{whole}.{rng.randint(1, 9)}" if rng.random() < 0.5 else f"{whole}.{rng.randint(10, 99)}"
        b = f"{whole}.{rng.randint(1, 9)}" if rng.random() < 0.5 else f"{whole}.{rng.randint(10, 99)}"
        if a != b and float(a) != float(b) and not a.endswith("0") and not b.endswith("0"):
            return DecimalItem(a, b)


def sample_items(rng: random.Random, n: int, exclude: set[str] = frozenset()) -> list[DecimalItem]:
    items, seen = [], set(exclude)
    while len(items) < n:
        item = sample_item(rng)
        if item.question not in seen:
            seen.add(item.question)
            items.append(item)
    return items
