"""Splitting a trajectory into question, reasoning steps and answer, as token spans."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from generator.answers import AnswerFormat, AnswerSpan, locate_answer
from generator.store.records import Segment


@dataclass(frozen=True)
class SegmentationSpec:
    """Regular expressions that split a generation into reasoning steps and an answer.

    ``answer_format`` says where the run's one answer is (``answer_pattern``, whose first group is
    the value, or a preset of ``generator/answers.py``: ``boxed``, ``hash``, ``answer_is``,
    ``last_number``): every analysis that reads an answer (scoring, ablation's teacher forcing,
    the format table) finds it through ``answer``.
    """

    step_pattern: str = r"T:"
    answer_pattern: str = r"A:\s*(-?[0-9][0-9.,]*)"
    answer_format: AnswerFormat = "pattern"

    def answer(self, text: str, start: int = 0) -> AnswerSpan | None:
        """The last answer in ``text[start:]``."""
        return locate_answer(text, self.answer_format, self.answer_pattern, start)


def segment_owners(text: str, offsets, n_prompt_tokens: int,
                   spec: SegmentationSpec) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Index of the part each token belongs to, and the parts' (name, kind).

    Part 0 is the question (the prompt's tokens); then one part per step marker, and the
    answer. Generated tokens belong to the part in which their text starts; special tokens
    (empty spans) to the part of the token before them.
    """
    prompt_end = offsets[n_prompt_tokens - 1][1] if n_prompt_tokens else 0
    step_re = re.compile(spec.step_pattern)
    answer = spec.answer(text, prompt_end)
    answer_start = answer.start if answer is not None else len(text)
    boundaries: list[tuple[int, str, str]] = []  # (char start, name, kind)
    steps = [m.start() for m in step_re.finditer(text, prompt_end) if m.start() < answer_start]
    if steps and text[prompt_end:steps[0]].strip():
        boundaries.append((prompt_end, "preamble", "other"))
    elif not steps and text[prompt_end:answer_start].strip():
        boundaries.append((prompt_end, "reasoning", "other"))
    boundaries += [(start, f"step {i}", "step") for i, start in enumerate(steps, start=1)]
    if answer is not None:
        boundaries.append((answer_start, "answer", "answer"))

    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts = np.array([b[0] for b in boundaries], dtype=np.int64)
    owner = np.searchsorted(starts, spans[:, 0], side="right")  # boundaries at or before each token
    owner[:n_prompt_tokens] = 0
    # Special tokens (empty spans) take the part of the token before them: forward-fill.
    special = spans[:, 0] == spans[:, 1]
    special[:n_prompt_tokens] = False
    if special.any():
        keep = np.where(special, 0, np.arange(len(owner)))
        owner = owner[np.maximum.accumulate(keep)]
    return owner, [("question", "question")] + [(b[1], b[2]) for b in boundaries]


def segment_trajectory(text: str, offsets, n_prompt_tokens: int, spec: SegmentationSpec) -> tuple[Segment, ...]:
    """The parts of a finished trajectory as token spans (parts with no tokens are left out)."""
    owner, names = segment_owners(text, offsets, n_prompt_tokens, spec)
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
