"""Which answer an analysis scores: the item's expected answer, or the answer held in one of its fields.

Written in configs and stored in summaries as text (``correct`` or ``field:<name>``); every
stage reads it through ``Behaviour``, never by slicing the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.store.plain_data import OptionError
from generator.store.records import Trajectory

PREFIX = "field:"


@dataclass(frozen=True)
class Behaviour:
    field: str | None = None  # None: the expected answer

    @classmethod
    def parse(cls, text: str) -> "Behaviour":
        """``correct`` or ``field:<name>``; anything else is a ValueError saying so."""
        if text == "correct":
            return cls(None)
        if isinstance(text, str) and text.startswith(PREFIX) and len(text) > len(PREFIX):
            return cls(text[len(PREFIX):])
        raise ValueError(f"expected 'correct' or 'field:<name>', got {text!r}")

    @property
    def text(self) -> str:
        return "correct" if self.field is None else f"{PREFIX}{self.field}"

    def target(self, trajectory: Trajectory) -> str | None:
        """The answer this behaviour looks for in one item (None: the item has none)."""
        if self.field is None:
            return trajectory.expected_answer.strip() if trajectory.expected_answer else None
        value = trajectory.metadata.get(self.field)
        return str(value).strip() if value is not None else None


def check_behaviour_field(text: str) -> None:
    """For a record's ``__post_init__``: a stored behaviour that cannot be read is named by its key."""
    try:
        Behaviour.parse(text)
    except ValueError as exc:
        raise OptionError("behaviour", str(exc)) from exc
