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
from generator.capture import CaptureOptions, capture_attention
from generator.capture.generation import token_pieces
from generator.results.token_classes import TOKEN_CLASSES, FormatClasses, TokenClassesExample, TokenClassesSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class TokenClassesOptions:
    classes: dict[str, str] = field(default_factory=lambda: {"digits": r"^\s*[0-9]+\s*$", "point": r"^\s*\.\s*$"})
    queries: str = "answer"  # a segment kind whose tokens' attention is measured, or "last" (the last token)
    templates: dict[str, str] = field(default_factory=dict)  # formats to ask each item in (name: template or "chat")
    chat_field: str = "question"  # the field sent as the user message of a "chat" template

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
        import torch

        where = f"{trajectory.dataset}/{trajectory.example_id}"
        layers, heads = mass.shape[:2]
        by_format = np.full((len(options.templates), layers, heads, len(options.classes)), np.nan, dtype=np.float32)
        entropy_by_format = np.full((len(options.templates), layers, heads), np.nan, dtype=np.float32)
        metadata = trajectory.metadata | {"prompt": trajectory.prompt}
        for index, template in enumerate(options.templates.values()):
            prompt = format_prompt_ids(context.tokenizer, template, metadata, options.chat_field, where)
            if prompt is None:
                continue
            prompt_classes = token_class_ids(token_pieces(context.tokenizer, prompt)[0], options.classes)
            by_format[index], entropy_by_format[index] = class_attention(
                context.model, torch.tensor([prompt], device=context.input_ids.device), prompt_classes,
                len(options.classes), np.array([len(prompt) - 1]))
        return dataclasses.replace(result, format_class_mass=by_format, format_entropy=entropy_by_format)

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[TokenClassesExample],
                          options: TokenClassesOptions, others: Mapping[type, list[Any]]) -> TokenClassesSummary:
        used = [d for d in digests if d is not None]
        mass = np.mean([d.class_mass for d in used], axis=0) if used else np.zeros((0, 0, len(options.classes)))
        entropies = [d.entropy for d in used if d.entropy is not None]
        formats = tuple(format_classes(name, template, [d.format_class_mass[index] for d in used
                                                        if d.format_class_mass is not None],
                                       [d.format_entropy[index] for d in used if d.format_entropy is not None])
                        for index, (name, template) in enumerate(options.templates.items()))
        return TokenClassesSummary(tuple(options.classes), options.queries, len(used), by_class_and_layer(mass),
                                   nested(mass), nested(np.mean(entropies, axis=(0, 2))) if entropies else (), formats)


def nested(values: np.ndarray):
    """An array as nested tuples of floats (JSON-ready)."""
    return tuple(nested(v) for v in values) if values.ndim > 1 else tuple(float(v) for v in values)


def by_class_and_layer(mass: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """``[L, H, K]`` -> ``[class][layer]``, the mean over heads."""
    return nested(mass.mean(axis=1).T) if mass.size else ()


def format_classes(name: str, template: str, masses: list[np.ndarray], entropies: list[np.ndarray]) -> FormatClasses:
    """One format's means over the items that could be asked in it (NaN rows: the format was unavailable)."""
    kept = [i for i, m in enumerate(masses) if np.isfinite(m).all()]
    if not kept:
        return FormatClasses(name, template, 0, (), (), ())
    mass = np.mean([masses[i] for i in kept], axis=0)
    return FormatClasses(name, template, len(kept), by_class_and_layer(mass),
                         nested(np.mean([entropies[i] for i in kept], axis=(0, 2))), nested(mass))
