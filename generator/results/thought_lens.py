"""Result types of the thought lens: what each continuous thought decodes to, layer by layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.results.statistics import RateWithCI
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class ThoughtLensExample(ExampleResult):
    """What each thought holds: the hidden state at the position that makes it (the one before it), after each
    layer, through the final norm and the unembedding; L layers, K thoughts."""

    top_ids: np.ndarray = tensor("[L, K, N]", "the N most probable token ids, most probable first", dtype="int64")
    top_probs: np.ndarray = tensor("[L, K, N]", "their probabilities")
    target_match: np.ndarray = tensor("[L, K]", "1 when the first choice, decoded, is the example's `target_field` "
                                      "value (stripped); NaN without one")


@dataclass(frozen=True)
class LensCell:
    """One thought at one layer over the dataset."""

    thought: str = value("`thought 1`, ...")
    layer: int = value("the layer whose output is decoded")
    top_token: str = value("the most frequent first choice (as text)")
    top_count: int = value("how many examples decode to it first")
    target: RateWithCI | None = value("first choice equal to the example's target field (when one is named)",
                                      default=None)


@dataclass(frozen=True)
class ThoughtLensSummary(DatasetSummary):
    """What the thoughts decode to across the dataset."""

    thoughts: int = value("thoughts per example")
    layers: int = value("layers decoded")
    n_examples: int = value("examples")
    target_field: str | None = value("the dataset field compared with each first choice (null: none)")
    cells: tuple[LensCell, ...] = value("one per thought and layer, thought-major")


THOUGHT_LENS = declare_analysis(AnalysisDeclaration(
    name="thought_lens", page_order=46, example=ThoughtLensExample, summary=ThoughtLensSummary,
    description="Decode each continuous thought, as it forms at every layer, through the unembedding (a logit lens).",
    analysis="generator.analyses.thought_lens:ThoughtLensAnalysis",
    dataset_section="generator.render.sections.thought_lens:thought_lens_dataset",
    example_section="generator.render.sections.thought_lens:thought_lens_example"))
