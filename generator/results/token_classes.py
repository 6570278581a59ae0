"""Result types of token-class attention: the mass chosen query tokens put on classes of tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class TokenClassesExample(ExampleResult):
    """The attention chosen query tokens put on each token class; K classes (the config's, in order)."""

    class_mass: np.ndarray = tensor("[L, H, K]", "mass from the query tokens (averaged) to the tokens of each class")
    class_sizes: np.ndarray = tensor("[K]", "how many tokens of the sequence are in each class", dtype="int64")
    entropy: np.ndarray = tensor("[L, H]", "entropy (nats) of the query tokens' attention (averaged)", optional=True)
    format_class_mass: np.ndarray = tensor("[F, L, H, K]", "the item asked in each configured format (`templates`): "
                                           "mass from the prompt's last token to each class (NaN: format "
                                           "unavailable)", optional=True)
    format_entropy: np.ndarray = tensor("[F, L, H]", "entropy (nats) of that token's attention in each format",
                                        optional=True)
    decision_class_mass: np.ndarray = tensor(
        "[F, L, H, K]", "in each format, mass to each class from the decision token: the last token before the "
        "formats' greedy answers first differ (the one that predicts where they part); NaN when they never do",
        optional=True)
    decision_offset: np.ndarray = tensor("[1]", "how many answer tokens the formats share before they part "
                                         "(-1: they never do)", dtype="int64", optional=True)


@dataclass(frozen=True)
class FormatClasses:
    """Token-class attention and entropy of the prompt's last token, the items asked in one format."""

    format: str = value("the format's name in `templates`")
    template: str = value("its template (`chat`: the tokenizer's chat template)")
    n_examples: int = value("items measured in this format (0: unavailable, e.g. no chat template)")
    mass_by_layer: tuple[tuple[float, ...], ...] = value("`[class][layer]` mean over heads and items")
    entropy_by_layer: tuple[float, ...] = value("`[layer]` entropy (nats), mean over heads and items")
    mass: tuple[tuple[tuple[float, ...], ...], ...] = value("`[layer][head][class]` mean over items")
    decision_mass_by_layer: tuple[tuple[float, ...], ...] = value(
        "`[class][layer]` at the decision token, mean over heads and the items whose formats part", default=())


@dataclass(frozen=True)
class FormatDifference:
    """Where two formats' attention to one class differs most at the decision token, item by item."""

    classname: str = value("the class")
    layer: int = value("the layer (mean over its heads)")
    first: str = value("one format")
    second: str = value("the other")
    first_mass: float = value("mean mass in the first format")
    second_mass: float = value("mean mass in the second")
    ci_low: float | None = value("lower end of the 95% bootstrap interval of the paired difference (second - first)")
    ci_high: float | None = value("upper end")
    n: int = value("items whose formats part (paired)")
    compared: int = value("how many (class, layer, pair) cells it is the largest of")


@dataclass(frozen=True)
class TokenClassesSummary(DatasetSummary):
    """Token-class attention over a dataset, in the run's own prompts and in each configured format."""

    classes: tuple[str, ...] = value("class names, in order")
    queries: str = value("whose attention: a segment kind (e.g. `answer`) or `last`")
    n_examples: int = value("examples averaged")
    mass_by_layer: tuple[tuple[float, ...], ...] = value("`[class][layer]` mean over heads and examples")
    mass: tuple[tuple[tuple[float, ...], ...], ...] = value("`[layer][head][class]` mean over examples")
    entropy_by_layer: tuple[float, ...] = value("`[layer]` entropy (nats) of the query tokens' attention, mean over "
                                                "heads and examples", default=())
    formats: tuple[FormatClasses, ...] = value("the same items asked in each configured format", default=())
    decision_difference: FormatDifference | None = value("the largest difference between formats at the decision "
                                                         "token (null: no item's formats part)", default=None)


TOKEN_CLASSES = declare_analysis(AnalysisDeclaration(
    name="token_classes", page_order=130, example=TokenClassesExample, summary=TokenClassesSummary,
    description="Attention that chosen query tokens put on token classes defined by regular expressions.",
    analysis="generator.analyses.token_classes:TokenClassesAnalysis",
    dataset_section="generator.render.sections.token_classes:token_classes_dataset",
    example_section="generator.render.sections.token_classes:token_classes_example"))
