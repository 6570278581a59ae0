"""Prompt-format evaluation: the same items in several templates, behaviour rates per format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, ExampleContext
from generator.analyses.prompting import CHAT, format_prompt_ids
from generator.analyses.scoring import greedy_ids
from generator.analyses.statistics import rate_with_ci
from generator.capture.segmentation import parse_answer
from generator.results.formats import FORMATS, FormatRow, FormatsExample, FormatsSummary
from generator.store.records import Trajectory

@dataclass(frozen=True)
class FormatOptions:
    templates: dict[str, str] = field(default_factory=lambda: {"plain": "P: {question}", "qa": "Q: {question}",
                                                               "chat": CHAT})
    chat_field: str = "question"
    bug_field: str = "bug_answer"  # a dataset field with a known wrong answer to count, if items have it
    max_new_tokens: int = 16


class FormatAnalysis(Analysis):
    declaration = FORMATS
    options_type = FormatOptions

    def analyze_example(self, context: ExampleContext, options: FormatOptions) -> FormatsExample:
        tokenizer, trajectory = context.tokenizer, context.trajectory
        where = f"{trajectory.dataset}/{trajectory.example_id}"
        metadata = trajectory.metadata | {"prompt": trajectory.prompt}
        expected = (trajectory.expected_answer or "").strip()
        bug = str(metadata.get(options.bug_field, "")).strip()
        correct, buggy, available = [], [], []
        for name, template in options.templates.items():
            ids = format_prompt_ids(tokenizer, template, metadata, options.chat_field, where)
            if ids is None:
                correct.append(np.nan), buggy.append(np.nan), available.append(0.0)
                continue
            text = tokenizer.decode(greedy_ids(context.model, ids, options.max_new_tokens, tokenizer.eos_token_id),
                                    skip_special_tokens=True)
            answer = parse_answer(text, context.segmentation)
            correct.append(float(bool(context.answers.matches(answer, expected))) if expected else np.nan)
            buggy.append(float(bool(context.answers.matches(answer, bug))) if bug and bug != expected else np.nan)
            available.append(1.0)
        return FormatsExample(correct=np.array(correct, np.float32), bug=np.array(buggy, np.float32),
                              available=np.array(available, np.float32))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[FormatsExample],
                          options: FormatOptions, others: Mapping[type, list[Any]]) -> FormatsSummary:
        rows = []
        for index, (name, template) in enumerate(options.templates.items()):
            if not any(r.available[index] for r in digests):
                rows.append(FormatRow(name, template, note="skipped: the tokenizer has no chat template"))
                continue
            correct = [r.correct[index] for r in digests if np.isfinite(r.correct[index])]
            bug = [r.bug[index] for r in digests if np.isfinite(r.bug[index])]
            rows.append(FormatRow(name, template, correct=rate_with_ci(int(sum(correct)), len(correct)),
                                  bug=rate_with_ci(int(sum(bug)), len(bug))))
        return FormatsSummary(formats=tuple(rows), bug_field=options.bug_field)
