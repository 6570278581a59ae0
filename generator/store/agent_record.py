"""What an agent run stores in its trajectory (``metadata.agent``), as a typed record.

The agent loop writes it; the agent analysis, the example page's timeline and the pages across
runs read it through ``AgentRecord.of``, which checks every field (a damaged record is a
``RecordFormatError`` naming the file and key) and names the steps once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from generator.store.plain_data import build_dataclass, to_plain
from generator.store.records import RecordFormatError, Trajectory

StepKind = Literal["thought", "call", "observation", "answer", "other"]


@dataclass(frozen=True)
class AgentStep:
    """One part of an agent run, as the model wrote it or as a tool answered (the loop's and the stored)."""

    kind: StepKind
    text: str  # the content, without its label
    tool: str | None = None  # calls and observations: which tool
    arguments: Any = None  # calls: as written (text) or as a JSON object (chat)
    error: str | None = None  # observations: the error's kind; calls: "malformed call"


@dataclass(frozen=True)
class AgentRecord:
    """One agent run: how it was set up, how it ended, and every step."""

    format: str  # "react" or "chat"
    tools: tuple[str, ...]
    status: str  # "answered", "step limit", "stopped" or "context full"
    timestamp: str  # when the run ended (ISO 8601)
    settings: dict[str, Any]  # the dataset's agent settings (``datasets[i].agent``), all of them
    steps: tuple[AgentStep, ...]

    @classmethod
    def of(cls, trajectory: Trajectory) -> "AgentRecord | None":
        """The trajectory's agent record; None when it has none (not an agent run)."""
        raw = trajectory.metadata.get("agent")
        if raw is None:
            return None
        source = f"examples/{trajectory.dataset}/{trajectory.example_id}/trajectory.json"
        if not isinstance(raw, dict):
            raise RecordFormatError(f"{source}: key 'metadata.agent': expected a JSON object, got "
                                    f"{type(raw).__name__}")
        return build_dataclass(cls, raw, "metadata.agent", source, RecordFormatError, nonempty_strings=False)

    def to_json(self) -> dict[str, Any]:
        return to_plain(self)

    def named_steps(self) -> list[tuple[str, AgentStep]]:
        """Each step with the segment name it has: "thought 1", "call 1", "observation 1", ..., "answer"."""
        return list(zip(step_names(step.kind for step in self.steps), self.steps))

    def count(self, kind: StepKind, errors_only: bool = False) -> int:
        return sum(1 for step in self.steps if step.kind == kind and (step.error or not errors_only))


def step_names(kinds: Iterable[str]) -> list[str]:
    """Names of consecutive steps: each kind counted from 1 ("thought 1", "call 1", ...); the answer is "answer"."""
    counts: dict[str, int] = {}
    names = []
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        names.append("answer" if kind == "answer" else f"{kind} {counts[kind]}")
    return names
