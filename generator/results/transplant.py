"""Result types of attention transplantation between two versions of an item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


DIRECTIONS = ("clean → corrupted", "corrupted → clean")  # the two columns of every transplant grid


@dataclass(frozen=True, eq=False)
class TransplantExample(ExampleResult):
    """One item; rows: each layer alone, then every layer at once; columns: the two directions."""

    informative: np.ndarray = tensor("[1]", "1 when the two versions' answers differ (else nothing was transplanted)")
    flips: np.ndarray = tensor("[L + 1, 2]", "1 when the transplant gave the donor's answer: column 0 puts the "
                               "clean run's attention into the corrupted run, column 1 the reverse; NaN when "
                               "uninformative")
    head_flips: np.ndarray | None = tensor("[L, H, 2]", "the same with one head's weights transplanted alone "
                                           "(option `heads`; NaN for layers not transplanted)", optional=True)


@dataclass(frozen=True)
class TransplantSummary(DatasetSummary):
    """Flip rates of attention transplantation over the items whose two answers differ."""

    clean_template: str = value("the clean prompt template")
    corrupted_template: str = value("the corrupted prompt template")
    rows: tuple[str, ...] = value("row labels: `layer 0`, ..., `all layers`")
    n_items: int = value("items in the dataset")
    informative_items: int = value("items whose two answers differ")
    flip_rate: tuple[tuple[float, ...], ...] | None = value("`[row][direction]` share of informative items whose "
                                                            "answer became the donor's")
    head_flip_rate: tuple[tuple[tuple[float, ...], ...], ...] | None = value(
        "`[layer][head][direction]` the same for single heads (option `heads`)", default=None)


TRANSPLANT = declare_analysis(AnalysisDeclaration(
    name="transplant", page_order=140, example=TransplantExample, summary=TransplantSummary,
    description="Put one version's attention weights into the other, layer by layer, both ways: does the answer flip?",
    analysis="generator.analyses.transplant:TransplantAnalysis",
    dataset_section="generator.render.sections.transplant:transplant_dataset",
    example_section="generator.render.sections.transplant:transplant_example"))
