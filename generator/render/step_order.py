"""Step and part names in reading order: "step 2" before "step 10".

Run files are written with sorted keys, so a summary's dict of steps comes back ordered as text
("step 1", "step 10", "step 2", ...). Pages order such names by their numbers instead, or by the
order a summary lists them in where it keeps one (an ablation's ``parts``).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, TypeVar

V = TypeVar("V")
_NUMBER = re.compile(r"(\d+)")


def step_key(name: str) -> tuple:
    """Text and numbers alternating ("step 10" -> ("step ", 10, "")), so numbers compare as numbers."""
    return tuple(int(part) if index % 2 else part for index, part in enumerate(_NUMBER.split(name)))


def in_step_order(mapping: Mapping[str, V], order: Iterable[str] = ()) -> dict[str, V]:
    """``mapping`` with the names of ``order`` first, in that order, then the others by ``step_key``."""
    listed = [name for name in dict.fromkeys(order) if name in mapping]
    placed = set(listed)
    rest = sorted((name for name in mapping if name not in placed), key=step_key)
    return {name: mapping[name] for name in listed + rest}
