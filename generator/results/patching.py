"""Result types of the activation-patching analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import RateWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class PatchingExample(ExampleResult):
    """One item's patches; L layers, C components, H heads."""

    informative: np.ndarray = tensor("[1]", "1 when the clean and corrupted answers differ (else nothing was patched)")
    flips: np.ndarray = tensor("[L, C]", "1 when patching that component alone gave the clean answer")
    head_flips: np.ndarray = tensor("[L, H]", "the same for single heads of the attention output")
    logit_margin: np.ndarray | None = tensor("[L, C]", "clean minus corrupted answer token's logit after the patch",
                                             optional=True)
    positions: np.ndarray | None = tensor("[n]", "the patched token positions", dtype="int64", optional=True)


@dataclass(frozen=True)
class PatchingSummary(DatasetSummary):
    """Flip rates over the items whose two answers differ."""

    components: tuple[str, ...] = value("the patched components, in grid column order")
    positions: str = value("which positions were patched (`differing`, `last` or `all`)")
    clean_template: str = value("the clean prompt template")
    corrupted_template: str = value("the corrupted prompt template")
    n_items: int = value("items in the dataset")
    informative_items: int = value("items whose clean and corrupted answers differ")
    flip_rate: tuple[tuple[float, ...], ...] | None = value("`[L][C]` share of informative items flipped",
                                                            default=None)
    flip_rate_ci: tuple[tuple[RateWithCI, ...], ...] | None = value("`[L][C]` the same with Wilson intervals",
                                                                    default=None)
    head_flip_rate: tuple[tuple[float, ...], ...] | None = value("`[L][H]` flip rate of single heads", default=None)
    flips_by_item: dict[str, tuple[tuple[float, ...], ...]] = value("example id -> its `[L][C]` flips",
                                                                    factory=dict)


PATCHING = declare_analysis(AnalysisDeclaration(
    name="patching", page_order=60, example=PatchingExample, summary=PatchingSummary,
    description="Copy one component from a clean run into a corrupted one and see whether the answer flips.",
    analysis="generator.analyses.patching:PatchingAnalysis",
    dataset_section="generator.render.sections.patching:patching_dataset"))
