"""Token classes: the attention chosen query tokens put on classes of tokens defined by regexes.

The seed's question: how much does the answer attend to decimal digits against format tokens,
per layer and head, in each prompt format, and how spread out (entropy) is that attention? Each
token joins the first class whose regex matches its text; the classes are the capture's
segments, so no full map is kept. With ``templates``, every item is also asked in each format
and the prompt's last token (the one that chooses the answer's first token) is measured there,
so the formats are compared on the same items in one figure.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.analyses.prompting import format_prompt_ids
from generator.analyses.scoring import greedy_ids
from generator.capture import CaptureOptions, capture_attention
from generator.capture.generation import token_pieces
from generator.intervals import bootstrap_interval
from generator.results.token_classes import (TOKEN_CLASSES, FormatClasses, FormatDifference, TokenClassesExample,
                                             TokenClassesSummary)
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class TokenClassesOptions:
    classes: dict[str, str] = field(default_factory=lambda: {"digits": r"^\s*[0-9]+\s*$", "point": r"^\s*\.\s*$"})
    queries: str = "answer"  # a segment kind whose tokens' attention is measured, or "last" (the last token)
    templates: dict[str, str] = field(default_factory=dict)  # formats to ask each item in (name: template or "chat")
    chat_field: str = "question"  # the field sent as the user message of a "chat" template
    max_new_tokens: int = 12  # each format's greedy answer, to find where the formats part (the decision token)

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


def class_attention(model, input_ids, class_ids: np.ndarray, n_classes: int,
                    queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[L, H, K]`` mass and ``[L, H]`` entropy of the query tokens' attention, averaged over them."""
    capture = capture_attention(model, input_ids, class_ids, n_classes, options=CaptureOptions(max_map_tokens=0))
    return (capture.segment_mass[:, :, queries].mean(axis=2).astype(np.float32),
            capture.entropy[:, :, queries].mean(axis=2).astype(np.float32))


def query_positions(trajectory: Trajectory, queries: str) -> np.ndarray:
    if queries == "last":
        return np.array([len(trajectory.tokens) - 1])
    spans = [np.arange(s.start, s.end) for s in trajectory.segments if s.kind == queries]
    return np.concatenate(spans) if spans else np.arange(0)


class TokenClassesAnalysis(Analysis):
    declaration = TOKEN_CLASSES
    options_type = TokenClassesOptions

    def analyze_example(self, context: ExampleContext, options: TokenClassesOptions) -> TokenClassesExample:
        trajectory = context.trajectory
        ids = token_class_ids(trajectory.tokens, options.classes)
        queries = query_positions(trajectory, options.queries)
        if not queries.size:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: analyses.token_classes.queries: no "
                                f"segment of kind {options.queries!r} (kinds here: "
                                f"{', '.join(sorted({s.kind for s in trajectory.segments}))}; or use 'last')")
        mass, entropy = class_attention(context.model, context.input_ids, ids, len(options.classes), queries)
        sizes = np.array([(ids == k).sum() for k in range(len(options.classes))], dtype=np.int64)
        result = TokenClassesExample(mass, sizes, entropy)
        if not options.templates:
            return result
        where = f"{trajectory.dataset}/{trajectory.example_id}"
        layers, heads = mass.shape[:2]
        by_format = np.full((len(options.templates), layers, heads, len(options.classes)), np.nan, dtype=np.float32)
        entropy_by_format = np.full((len(options.templates), layers, heads), np.nan, dtype=np.float32)
        metadata = trajectory.metadata | {"prompt": trajectory.prompt}
        prompts = [format_prompt_ids(context.tokenizer, template, metadata, options.chat_field, where)
                   for template in options.templates.values()]
        for index, prompt in enumerate(prompts):
            if prompt is not None:
                by_format[index], entropy_by_format[index] = self.measured(context, options, prompt, len(prompt) - 1)
        decision, offset = self.at_decision(context, options, prompts, mass.shape)
        return dataclasses.replace(result, format_class_mass=by_format, format_entropy=entropy_by_format,
                                   decision_class_mass=decision, decision_offset=np.array([offset], dtype=np.int64))

    @staticmethod
    def measured(context: ExampleContext, options: TokenClassesOptions, ids: list[int],
                 query: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        classes = token_class_ids(token_pieces(context.tokenizer, ids)[0], options.classes)
        return class_attention(context.model, torch.tensor([ids], device=context.input_ids.device), classes,
                               len(options.classes), np.array([query]))

    def at_decision(self, context: ExampleContext, options: TokenClassesOptions, prompts: list[list[int] | None],
                    shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
        """Each format's class mass at the token before the formats' greedy answers first differ, and how many
        answer tokens they share; NaN and -1 when every format gives the same answer (or fewer than two ran)."""
        decision = np.full((len(prompts),) + tuple(shape), np.nan, dtype=np.float32)
        asked = [(i, prompt) for i, prompt in enumerate(prompts) if prompt is not None]
        if len(asked) < 2:
            return decision, -1
        eos = context.tokenizer.eos_token_id
        replies = {i: greedy_ids(context.model, prompt, options.max_new_tokens, eos) for i, prompt in asked}
        texts = [context.tokenizer.decode(reply) for reply in replies.values()]
        offset = parting(texts, [[context.tokenizer.decode(reply[:n]) for n in range(len(reply) + 1)]
                                 for reply in replies.values()])
        if offset is None:
            return decision, -1
        for i, prompt in asked:
            shared = replies[i][:offset]
            decision[i] = self.measured(context, options, prompt + shared, len(prompt) + len(shared) - 1)[0]
        return decision, offset

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[TokenClassesExample],
                          options: TokenClassesOptions, others: Mapping[type, list[Any]]) -> TokenClassesSummary:
        used = [d for d in digests if d is not None]
        mass = np.mean([d.class_mass for d in used], axis=0) if used else np.zeros((0, 0, len(options.classes)))
        entropies = [d.entropy for d in used if d.entropy is not None]
        formats = tuple(format_classes(name, template, [d.format_class_mass[index] for d in used
                                                        if d.format_class_mass is not None],
                                       [d.format_entropy[index] for d in used if d.format_entropy is not None],
                                       [d.decision_class_mass[index] for d in used if d.decision_class_mass is not None])
                        for index, (name, template) in enumerate(options.templates.items()))
        return TokenClassesSummary(tuple(options.classes), options.queries, len(used), by_class_and_layer(mass),
                                   nested(mass), nested(np.mean(entropies, axis=(0, 2))) if entropies else (), formats,
                                   decision_difference(used, tuple(options.templates), tuple(options.classes)))


def parting(texts: list[str], prefixes: list[list[str]]) -> int | None:
    """How many answer tokens every format shares before the answers' texts first differ (None: they never do).

    Compared as text, so formats whose tokens split a shared text differently still share it; ``prefixes[f][n]``
    is format f's first n answer tokens as text.
    """
    if len(set(texts)) == 1:
        return None
    offset = 0
    while all(offset < len(p) - 1 for p in prefixes) and len({p[offset + 1] for p in prefixes}) == 1:
        offset += 1
    return offset


def nested(values: np.ndarray):
    """An array as nested tuples of floats (JSON-ready)."""
    return tuple(nested(v) for v in values) if values.ndim > 1 else tuple(float(v) for v in values)


def by_class_and_layer(mass: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """``[L, H, K]`` -> ``[class][layer]``, the mean over heads."""
    return nested(mass.mean(axis=1).T) if mass.size else ()


def format_classes(name: str, template: str, masses: list[np.ndarray], entropies: list[np.ndarray],
                   decisions: list[np.ndarray]) -> FormatClasses:
    """One format's means over the items that could be asked in it (NaN rows: the format was unavailable), and
    at the decision token over the items whose formats part."""
    kept = [i for i, m in enumerate(masses) if np.isfinite(m).all()]
    if not kept:
        return FormatClasses(name, template, 0, (), (), ())
    mass = np.mean([masses[i] for i in kept], axis=0)
    parted = [d for d in decisions if np.isfinite(d).all()]
    return FormatClasses(name, template, len(kept), by_class_and_layer(mass),
                         nested(np.mean([entropies[i] for i in kept], axis=(0, 2))), nested(mass),
                         by_class_and_layer(np.mean(parted, axis=0)) if parted else ())


def decision_difference(used: list[TokenClassesExample], formats: tuple[str, ...],
                        classes: tuple[str, ...]) -> FormatDifference | None:
    """The (class, layer, pair of formats) whose mean mass at the decision token differs most, with a bootstrap
    interval of its paired difference over the items where every compared format parted."""
    stacks = [d.decision_class_mass.mean(axis=2) for d in used if d.decision_class_mass is not None]  # [F, L, K]
    if not stacks:
        return None
    per_item = np.stack(stacks)  # [item, F, L, K]
    cells = []
    for a in range(len(formats)):
        for b in range(a + 1, len(formats)):
            paired = per_item[:, [a, b]]
            paired = paired[np.isfinite(paired).all(axis=(1, 2, 3))]
            if len(paired):
                difference = paired[:, 1] - paired[:, 0]  # [item, L, K]
                for layer, k in np.ndindex(*difference.shape[1:]):
                    cells.append((abs(float(difference[:, layer, k].mean())), a, b, layer, k, paired))
    if not cells:
        return None
    _, a, b, layer, k, paired = max(cells, key=lambda cell: cell[0])
    interval = bootstrap_interval(paired[:, 1, layer, k] - paired[:, 0, layer, k]) or (None, None)
    return FormatDifference(classes[k], int(layer), formats[a], formats[b], float(paired[:, 0, layer, k].mean()),
                            float(paired[:, 1, layer, k].mean()), *interval, len(paired), len(cells))
