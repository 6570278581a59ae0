"""Splitting a trajectory into question, reasoning steps and answer, as token spans."""

from __future__ import annotations

import re

import numpy as np

from generator.config import SegmentationSpec
from generator.store.records import Segment


def segment_trajectory(text: str, offsets: list[tuple[int, int]], n_prompt_tokens: int,
                       spec: SegmentationSpec) -> tuple[Segment, ...]:
    """Question = the prompt's tokens; then one segment per step marker; then the answer.

    Generated tokens belong to the segment in which their text starts; special tokens (empty
    spans) to the segment of the token before them.
    """
    prompt_end = offsets[n_prompt_tokens - 1][1] if n_prompt_tokens else 0
    step_re, answer_re = re.compile(spec.step_pattern), re.compile(spec.answer_pattern)
    answers = list(answer_re.finditer(text, prompt_end))
    answer_start = answers[-1].start() if answers else len(text)
    boundaries: list[tuple[int, str, str]] = []  # (char start, name, kind)
    steps = [m.start() for m in step_re.finditer(text, prompt_end) if m.start() < answer_start]
    if steps and text[prompt_end:steps[0]].strip():
        boundaries.append((prompt_end, "preamble", "other"))
    elif not steps and text[prompt_end:answer_start].strip():
        boundaries.append((prompt_end, "reasoning", "other"))
    boundaries += [(start, f"step {i}", "step") for i, start in enumerate(steps, start=1)]
    if answers:
        boundaries.append((answer_start, "answer", "answer"))

    owner = np.full(len(offsets), -1)
    owner[:n_prompt_tokens] = 0
    starts = [b[0] for b in boundaries]
    for index in range(n_prompt_tokens, len(offsets)):
        begin, end = offsets[index]
        if begin == end:  # special token: joins the previous token's segment
            owner[index] = owner[index - 1] if index else 0
            continue
        position = int(np.searchsorted(starts, begin, side="right")) - 1
        owner[index] = position + 1 if position >= 0 else (owner[index - 1] if index else 0)

    names = [("question", "question")] + [(b[1], b[2]) for b in boundaries]
    segments = []
    for seg_index, (name, kind) in enumerate(names):
        members = np.flatnonzero(owner == seg_index)
        if members.size == 0:
            continue
        start, end = int(members[0]), int(members[-1]) + 1
        segments.append(Segment(name, kind, start, end, offsets[start][0], offsets[end - 1][1]))
    return tuple(segments)


def parse_answer(generated_text: str, spec: SegmentationSpec) -> str | None:
    matches = list(re.finditer(spec.answer_pattern, generated_text))
    if not matches:
        return None
    last = matches[-1]
    return (last.group(1) if last.re.groups else last.group(0)).strip()


def segment_ids(segments: tuple[Segment, ...], n_tokens: int) -> np.ndarray:
    """Index of each token's segment (-1 for none), for building segment matrices."""
    ids = np.full(n_tokens, -1, dtype=np.int64)
    for index, seg in enumerate(segments):
        ids[seg.start:seg.end] = index
    return ids
