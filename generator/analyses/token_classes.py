"""Token classes: the attention chosen query tokens put on classes of tokens defined by regexes.

The seed's question: how much does the answer attend to decimal digits against format tokens,
per layer and head, in each prompt format? Each token joins the first class whose regex
matches its text; the classes are the capture's segments, so no full map is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, register_analysis
from generator.analyses.routing import mass_on_groups
from generator.results.routing import TokenClassesExample, TokenClassesSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class TokenClassesOptions:
    classes: dict[str, str] = field(default_factory=lambda: {"digits": r"^\s*[0-9]+\s*$", "point": r"^\s*\.\s*$"})
    queries: str = "answer"  # a segment kind whose tokens' attention is measured, or "last" (the last token)

    def __post_init__(self) -> None:
        if not self.classes:
            raise OptionError("classes", "expected at least one name: regex")
        for name, pattern in self.classes.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise OptionError(f"classes.{name}", f"not a valid regular expression ({exc})") from exc


def token_class_ids(tokens: Sequence[str], classes: dict[str, str]) -> np.ndarray:
    """Each token's class: the first whose regex matches its text (-1: none)."""
    compiled = [re.compile(pattern) for pattern in classes.values()]
    return np.array([next((i for i, c in enumerate(compiled) if c.search(token)), -1) for token in tokens],
                    dtype=np.int64)


def query_positions(trajectory: Trajectory, queries: str) -> np.ndarray:
    if queries == "last":
        return np.array([len(trajectory.tokens) - 1])
    spans = [np.arange(s.start, s.end) for s in trajectory.segments if s.kind == queries]
    return np.concatenate(spans) if spans else np.arange(0)


@register_analysis
class TokenClassesAnalysis(Analysis):
    name = "token_classes"
    options_type = TokenClassesOptions
    result_type = TokenClassesExample
    summary_type = TokenClassesSummary

    def analyze_example(self, context: ExampleContext, options: TokenClassesOptions) -> TokenClassesExample:
        trajectory = context.trajectory
        ids = token_class_ids(trajectory.tokens, options.classes)
        queries = query_positions(trajectory, options.queries)
        if not queries.size:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: analyses.token_classes.queries: no "
                                f"segment of kind {options.queries!r} (kinds here: "
                                f"{', '.join(sorted({s.kind for s in trajectory.segments}))}; or use 'last')")
        mass = mass_on_groups(context.model, context.input_ids, ids, len(options.classes))
        sizes = np.array([(ids == k).sum() for k in range(len(options.classes))], dtype=np.int64)
        return TokenClassesExample(mass[:, :, queries].mean(axis=2).astype(np.float32), sizes)

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[TokenClassesExample],
                          options: TokenClassesOptions, others: Mapping[type, list[Any]]) -> TokenClassesSummary:
        used = [d.class_mass for d in digests if d is not None]
        mean = np.mean(used, axis=0) if used else np.zeros((0, 0, len(options.classes)))
        return TokenClassesSummary(tuple(options.classes), options.queries, len(used),
                                   tuple(tuple(float(v) for v in mean[:, :, k].mean(axis=1))
                                         for k in range(len(options.classes))) if used else (),
                                   tuple(tuple(tuple(float(v) for v in head) for head in layer) for layer in mean))
