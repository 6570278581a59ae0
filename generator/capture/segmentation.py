"""Splitting a trajectory into question, reasoning steps and answer, as token spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from generator.answers import AnswerFormat, AnswerSpan, locate_answer
from generator.store.plain_data import OptionError
from generator.store.records import Segment


StepRule = Literal["pattern", "paragraphs", "sentences", "think"]
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*(?=\S)")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)|\n[ \t]*\n\s*(?=\S)")


@dataclass(frozen=True)
class SegmentationSpec:
    """How a generation splits into reasoning steps and an answer.

    ``steps`` says where steps begin: at each match of ``step_pattern`` (``pattern``), at each
    paragraph (``paragraphs``: after a blank line) or sentence (``sentences``), or ``think``: the
    paragraphs inside the thinking block (``think_tags``; the opening tag may be in the prompt, as
    chat templates of R1-style models put it there) are the steps and the text after the closing
    tag is the answer. A trace with more than ``max_steps`` steps has consecutive steps merged
    into ``max_steps`` of (nearly) equal counts, so grids stay readable; the trajectory keeps
    where every original step began (``metadata.original_step_starts``).

    ``answer_format`` says where the run's one answer is (``answer_pattern``, whose first group is
    the value, or a preset of ``generator/answers.py``: ``boxed``, ``hash``, ``answer_is``,
    ``last_number``): every analysis that reads an answer (scoring, ablation's teacher forcing,
    the format table) finds it through ``answer``; with ``think`` steps, only after the block.
    """

    step_pattern: str = r"T:"
    answer_pattern: str = r"A:\s*(-?[0-9][0-9.,]*)"
    answer_format: AnswerFormat = "pattern"
    steps: StepRule = "pattern"
    think_tags: tuple[str, str] = ("<think>", "</think>")
    max_steps: int | None = None

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise OptionError("max_steps", f"expected a positive integer or null, got {self.max_steps}")
        if len(self.think_tags) != 2 or not all(self.think_tags):
            raise OptionError("think_tags", f"expected [opening tag, closing tag], got {list(self.think_tags)}")

    def answer(self, text: str, start: int = 0) -> AnswerSpan | None:
        """The last answer in ``text[start:]`` (after the thinking block, with ``think`` steps)."""
        if self.steps == "think":
            remainder = self._after_thinking(text, start)
            if remainder is None:
                return None
            start = remainder
        return locate_answer(text, self.answer_format, self.answer_pattern, start)

    def _after_thinking(self, text: str, start: int) -> int | None:
        """Where the text after the closing tag begins (None: the block never closed)."""
        close = text.rfind(self.think_tags[1], start)
        return None if close < 0 else close + len(self.think_tags[1])

    def step_starts(self, text: str, start: int, end: int) -> list[int]:
        """Where each reasoning step in ``text[start:end]`` begins, before any merging."""
        if self.steps == "pattern":
            return [m.start() for m in re.compile(self.step_pattern).finditer(text, start) if m.start() < end]
        if self.steps == "think":
            opening = text.find(self.think_tags[0], start, end)
            start = start if opening < 0 else opening + len(self.think_tags[0])
        first = len(text[start:end]) - len(text[start:end].lstrip())
        rule = _SENTENCE if self.steps == "sentences" else _PARAGRAPH
        starts = [start + first] if text[start:end].strip() else []
        starts += [m.end() for m in rule.finditer(text, start, end)]
        return sorted(set(s for s in starts if s < end))

    def answer_start(self, text: str, start: int) -> int | None:
        """Where the answer part begins: its located answer, or with ``think`` steps the text after the block."""
        if self.steps == "think":
            remainder = self._after_thinking(text, start)
            if remainder is None or not text[remainder:].strip():
                return None
            return remainder + len(text[remainder:]) - len(text[remainder:].lstrip())
        found = self.answer(text, start)
        return None if found is None else found.start


def original_steps(text: str, prompt_end: int, spec: SegmentationSpec) -> tuple[list[int], int | None]:
    """Where every step of the generation begins (before merging), and where its answer part begins."""
    found = spec.answer_start(text, prompt_end)
    return spec.step_starts(text, prompt_end, len(text) if found is None else found), found


def merged_steps(starts: list[int], max_steps: int | None) -> list[int]:
    """Step starts after merging consecutive steps into at most ``max_steps`` of (nearly) equal counts."""
    n = len(starts)
    if max_steps is None or n <= max_steps:
        return starts
    return [starts[(i * n) // max_steps] for i in range(max_steps)]


def prompt_parts(text: str, prompt_end: int, question: str | None) -> list[tuple[int, str, str]]:
    """The prompt's parts as (char start, name, kind): the whole prompt is the question, or, for a prompt
    rendered by a chat template, the user's message (``question``, found in the rendering) is, and the
    template's text before and after it are the ``chat template`` and the ``generation prompt``."""
    where = text.rfind(question, 0, prompt_end) if question else -1
    if where < 0:
        return [(0, "question", "question")]
    parts = [(0, "chat template", "other")] if text[:where].strip() else []
    parts.append((where if parts else 0, "question", "question"))
    after = where + len(question)
    if text[after:prompt_end].strip():
        parts.append((after, "generation prompt", "other"))
    return parts


def segment_owners(text: str, offsets, n_prompt_tokens: int, spec: SegmentationSpec,
                   question: str | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Index of the part each token belongs to, and the parts' (name, kind), in text order.

    The prompt's tokens are the question (or, with ``question`` given for a chat template's
    rendering, its parts: ``prompt_parts``); then one part per step, and the answer. Tokens
    belong to the part in which their text starts; generated special tokens (empty spans) to
    the part of the token before them.
    """
    prompt_end = offsets[n_prompt_tokens - 1][1] if n_prompt_tokens else 0
    prompt = prompt_parts(text, prompt_end, question)
    originals, found = original_steps(text, prompt_end, spec)
    answer_start = found if found is not None else len(text)
    boundaries: list[tuple[int, str, str]] = []  # (char start, name, kind)
    steps = merged_steps(originals, spec.max_steps)
    if steps and text[prompt_end:steps[0]].strip():
        boundaries.append((prompt_end, "preamble", "other"))
    elif not steps and text[prompt_end:answer_start].strip():
        boundaries.append((prompt_end, "reasoning", "other"))
    boundaries += [(start, f"step {i}", "step") for i, start in enumerate(steps, start=1)]
    if found is not None:
        boundaries.append((answer_start, "answer", "answer"))

    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts = np.array([b[0] for b in boundaries], dtype=np.int64)
    # generated tokens: the parts starting at or before each (none: the prompt's last part)
    owner = np.searchsorted(starts, spans[:, 0], side="right") + len(prompt) - 1
    prompt_starts = np.array([p[0] for p in prompt], dtype=np.int64)
    owner[:n_prompt_tokens] = np.maximum(np.searchsorted(prompt_starts, spans[:n_prompt_tokens, 0], side="right") - 1,
                                         0)
    # Special tokens (empty spans) take the part of the token before them: forward-fill.
    special = spans[:, 0] == spans[:, 1]
    special[:n_prompt_tokens] = False
    if special.any():
        keep = np.where(special, 0, np.arange(len(owner)))
        owner = owner[np.maximum.accumulate(keep)]
    return owner, [(p[1], p[2]) for p in prompt] + [(b[1], b[2]) for b in boundaries]


def segment_trajectory(text: str, offsets, n_prompt_tokens: int, spec: SegmentationSpec,
                       question: str | None = None) -> tuple[Segment, ...]:
    """The parts of a finished trajectory as token spans (parts with no tokens are left out)."""
    owner, names = segment_owners(text, offsets, n_prompt_tokens, spec, question)
    segments = []
    for seg_index, (name, kind) in enumerate(names):
        members = np.flatnonzero(owner == seg_index)
        if members.size == 0:
            continue
        start, end = int(members[0]), int(members[-1]) + 1
        segments.append(Segment(name, kind, start, end, offsets[start][0], offsets[end - 1][1]))
    return tuple(segments)


def parse_answer(generated_text: str, spec: SegmentationSpec) -> str | None:
    """The last answer in the text (for a pattern: its first group, or its whole match without groups)."""
    answer = spec.answer(generated_text)
    return None if answer is None else answer.value
