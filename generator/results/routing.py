"""Result types of question-to-step routing and token-class attention."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.store.result_types import DatasetSummary, ExampleResult, register_results, tensor, value


@dataclass(frozen=True, eq=False)
class RoutingExample(ExampleResult):
    """For each reasoning step, the attention its tokens put on each question token; P steps, Q question tokens."""

    routing: np.ndarray = tensor("[L, H, P, Q]", "mass from the step's tokens (averaged over them) to each question "
                                 "token; the question's tokens are `segments[0]`, in order")


@dataclass(frozen=True)
class RoutingSummary(DatasetSummary):
    """Routing averaged over examples, by step number and question token position."""

    n_examples: int = value("examples with at least one reasoning step")
    by_position: tuple[tuple[float | None, ...], ...] = value("`[step][question position]` mean over layers, heads "
                                                              "and the examples that have both (null where none)")


@dataclass(frozen=True, eq=False)
class TokenClassesExample(ExampleResult):
    """The attention chosen query tokens put on each token class; K classes (the config's, in order)."""

    class_mass: np.ndarray = tensor("[L, H, K]", "mass from the query tokens (averaged) to the tokens of each class")
    class_sizes: np.ndarray = tensor("[K]", "how many tokens of the sequence are in each class", dtype="int64")


@dataclass(frozen=True)
class TokenClassesSummary(DatasetSummary):
    """Token-class attention over a dataset (compare datasets asked in different formats side by side)."""

    classes: tuple[str, ...] = value("class names, in order")
    queries: str = value("whose attention: a segment kind (e.g. `answer`) or `last`")
    n_examples: int = value("examples averaged")
    mass_by_layer: tuple[tuple[float, ...], ...] = value("`[class][layer]` mean over heads and examples")
    mass: tuple[tuple[tuple[float, ...], ...], ...] = value("`[layer][head][class]` mean over examples")


register_results("routing", RoutingExample, RoutingSummary,
                 "Question-to-step routing: which question tokens each reasoning step attends to.")
register_results("token_classes", TokenClassesExample, TokenClassesSummary,
                 "Attention that chosen query tokens put on token classes defined by regular expressions.")
