"""Result types of the prompt-format analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.statistics import RateWithCI
from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class FormatsExample(ExampleResult):
    """One item in every template; F formats in config order."""

    correct: np.ndarray = tensor("[F]", "1 when that format's answer is the expected one (NaN: not scored)")
    bug: np.ndarray = tensor("[F]", "1 when it is the item's known wrong answer (NaN where the item cannot show it)")
    available: np.ndarray = tensor("[F]", "1 when the format ran (a chat format needs a chat template)")


@dataclass(frozen=True)
class FormatRow:
    format: str = value("the format's name")
    template: str = value("its template")
    note: str | None = value("why it did not run, when it did not", default=None)
    correct: RateWithCI | None = value("rate of correct answers", default=None)
    bug: RateWithCI | None = value("rate of the known wrong answer", default=None)


@dataclass(frozen=True)
class FormatsSummary(DatasetSummary):
    formats: tuple[FormatRow, ...] = value("one row per format, in config order")
    bug_field: str = value("the dataset field holding the known wrong answer")


FORMATS = declare_analysis(AnalysisDeclaration(
    name="formats", page_order=50, example=FormatsExample, summary=FormatsSummary,
    description="The same items in several prompt templates: behaviour rates per format.",
    analysis="generator.analyses.formats:FormatAnalysis",
    dataset_section="generator.render.sections.formats:formats_dataset",
    example_section="generator.render.sections.formats:formats_example"))
