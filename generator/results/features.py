"""Result types of the feature-activation analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class FeaturesExample(ExampleResult):
    """Activations of the features an example shows; T tokens, F features."""

    activations: np.ndarray = tensor("[T, F]", "feature activations, the example's own top-k first")
    feature_ids: np.ndarray = tensor("[F]", "which feature (neuron or SAE latent) each column is", dtype="int64")
    own_top: np.ndarray | None = tensor("[k]", "columns of the example's own top-k features", dtype="int64",
                                        optional=True)

    def top_columns(self, top_k: int) -> list[int]:
        if self.own_top is not None:
            return [int(c) for c in self.own_top]
        return [int(c) for c in np.argsort(-self.activations.max(0), kind="stable")[:top_k]]


@dataclass(frozen=True)
class FeaturesSummary(DatasetSummary):
    source: str = value("`MLP neurons`, `SAE <file>` or `imported`")
    top_k: int = value("features shown per example", default=8)
    tokens_per_row: int = value("tokens per row of a strip", default=20)
    show_values: bool = value("whether strips print each value", default=True)
    feature_labels: dict[str, str] = value("feature id -> label (from imported files)", factory=dict)

    def label(self, feature: int) -> str:
        return self.feature_labels.get(str(feature)) or f"{'neuron' if self.source == 'MLP neurons' else 'feature'} {feature}"


FEATURES = declare_analysis(AnalysisDeclaration(
    name="features", page_order=80, example=FeaturesExample, summary=FeaturesSummary,
    description="Per-token activations of MLP neurons or a sparse autoencoder's features.",
    analysis="generator.analyses.features:FeatureAnalysis",
    dataset_section="generator.render.sections.features:features_dataset",
    example_section="generator.render.sections.features:features_example"))
