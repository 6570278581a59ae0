"""What every analysis is: a name, typed options, and per-example / per-dataset results.

Analyses compute numbers and never write HTML; the run directory stores what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from generator.store.records import Trajectory


@dataclass
class ExampleContext:
    """Everything an analysis may use for one example."""

    model: Any
    tokenizer: Any
    input_ids: Any  # torch tensor [1, T] on the model's device
    trajectory: Trajectory
    segment_ids: np.ndarray  # [T] index into trajectory.segments, -1 for none
    captured_attention: Any = None  # AttentionCapture recorded during generation, when there is one
    dataset_state: Any = None  # what this analysis's prepare_dataset returned for the dataset


class AnalysisError(ValueError):
    """Options that do not fit the loaded model; the message names the option."""


def check_layers(model, layers, key: str) -> None:
    """Raise AnalysisError naming ``key[i]`` for the first layer the model does not have."""
    n_layers = model.config.get_text_config().num_hidden_layers
    for index, layer in enumerate(layers):
        if not 0 <= layer < n_layers:
            raise AnalysisError(f"{key}[{index}]: layer {layer} is out of range "
                                f"(the model has layers 0..{n_layers - 1})")


class Analysis:
    name: ClassVar[str]
    options_type: ClassVar[type]
    # Keys of per-example results too large to keep in memory for the dataset summary.
    large_outputs: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def parse_options(cls, raw: dict[str, Any] | None, source: str = "<options>", prefix: str = ""):
        """Validate options like the rest of the config; errors name ``prefix.key``."""
        from generator.config import build_dataclass

        return build_dataclass(cls.options_type, raw or {}, prefix or f"analyses.{cls.name}", source)

    def check_model(self, model, options) -> None:
        """Raise AnalysisError if ``options`` do not fit ``model``; called before any example runs."""

    def prepare_dataset(self, model, tokenizer, trajectories: list[Trajectory], options) -> Any:
        """Work that needs the whole dataset before any example (e.g. mean activations)."""
        return None

    def analyze_example(self, context: ExampleContext, options) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def summarize_dataset(self, trajectories: list[Trajectory], results: list[dict[str, np.ndarray]],
                          options, others: dict[str, list[dict[str, np.ndarray]]]) -> dict[str, Any] | None:
        """Dataset-level numbers; ``others`` holds the kept per-example results of the other analyses."""
        return None
