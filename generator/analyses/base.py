"""What every analysis is: a name, typed options, typed results, and the registry that lists them.

Analyses compute numbers and never write HTML. The pipeline asks each one, through this base
class alone, what it needs (options, a capture during generation, dataset-wide preparation)
and what it produced (an ``ExampleResult`` per example, a ``DatasetSummary`` per dataset). An
analysis's name, record types, sections and page order are written once, in its declaration
(``generator/results/declaration.py``); the class points at it and this package loads every
declared class, so nothing else names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from generator.answers import AnswerCheck
from generator.capture import AttentionCapture, CaptureOptions
from generator.capture.segmentation import SegmentationSpec
from generator.registry import Registry
from generator.results import declarations
from generator.results.declaration import AnalysisDeclaration, DeclarationError, load_object
from generator.store.plain_data import build_dataclass
from generator.store.records import Trajectory
from generator.store.result_types import DatasetSummary, ExampleResult


@dataclass
class ExampleContext:
    """Everything an analysis may use for one example."""

    model: Any
    tokenizer: Any
    input_ids: Any  # torch tensor [1, T] on the model's device
    trajectory: Trajectory
    segment_ids: np.ndarray  # [T] index into trajectory.segments, -1 for none
    segmentation: SegmentationSpec = SegmentationSpec()  # the run's step and answer patterns
    answers: AnswerCheck = AnswerCheck()  # the run's check of an answer against the expected one
    captured_attention: AttentionCapture | None = None  # recorded during generation, when an analysis asked
    dataset_state: Any = None  # what this analysis's prepare_dataset returned for the dataset
    latent: Any = None  # a latent run's LatentModel (projection, framing ids): to make thoughts again


class AnalysisError(ValueError):
    """Options that do not fit the loaded model or data; the message names the option."""


def check_layers(model, layers, key: str) -> None:
    """Raise AnalysisError naming ``key[i]`` for the first layer the model does not have."""
    n_layers = model.config.get_text_config().num_hidden_layers
    for index, layer in enumerate(layers):
        if not 0 <= layer < n_layers:
            raise AnalysisError(f"{key}[{index}]: layer {layer} is out of range "
                                f"(the model has layers 0..{n_layers - 1})")


class Analysis:
    declaration: ClassVar[AnalysisDeclaration]  # name, record types, sections: everything written once
    name: ClassVar[str]  # these three come from the declaration
    result_type: ClassVar[type[ExampleResult]]
    summary_type: ClassVar[type[DatasetSummary] | None] = None
    options_type: ClassVar[type]
    # What the dataset summary (this one's or another's) reads back of each example: the result
    # itself, a projection of a few of its tensors, or None when no summary needs any.
    digest_type: ClassVar[type[ExampleResult] | None] = None
    # Runs only on agent datasets (``datasets[i].agent``); left out of the others.
    requires_agent: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declaration = vars(cls).get("declaration")
        if declaration is not None:
            if declaration.example is None:
                raise TypeError(f"{cls.__name__}: the declaration of {declaration.name!r} names no example record")
            cls.name, cls.result_type, cls.summary_type = declaration.name, declaration.example, declaration.summary

    @classmethod
    def summary_input(cls) -> type[ExampleResult] | None:
        return cls.digest_type if "digest_type" in vars(cls) else cls.result_type

    @classmethod
    def needs_whole_dataset(cls) -> bool:
        """Whether ``prepare_dataset`` is overridden: such an analysis runs once every trajectory exists."""
        return cls.prepare_dataset is not Analysis.prepare_dataset

    @classmethod
    def parse_options(cls, raw: dict[str, Any] | None, source: str = "<options>", prefix: str = ""):
        """Validate options like the rest of the config (Literal choices included); errors name ``prefix.key``."""
        return build_dataclass(cls.options_type, raw or {}, prefix or f"analyses.{cls.name}", source, AnalysisError)

    def capture_during_generation(self, options) -> CaptureOptions | None:
        """Capture options if this analysis wants attention recorded while the model generates."""
        return None

    def check_model(self, model, options) -> None:
        """Raise AnalysisError if ``options`` do not fit ``model``; called before any example runs."""

    def prepare_dataset(self, model, tokenizer, trajectories: Sequence[Trajectory], options) -> Any:
        """Work that needs the whole dataset before any example (e.g. mean activations).

        ``trajectories`` reads each from disk as it is reached: iterate, do not keep them all.
        """
        return None

    def analyze_example(self, context: ExampleContext, options) -> ExampleResult:
        raise NotImplementedError

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[Any], options,
                          others: Mapping[type, list[Any]]) -> DatasetSummary | None:
        """Dataset-level numbers from every example's ``summary_input()`` record (read back from the run).

        ``others`` maps the other analyses' summary-input types to theirs.
        """
        return None


ANALYSES: Registry[Analysis] = Registry("analysis")


def register_analysis(cls: type[Analysis]) -> type[Analysis]:
    ANALYSES.register(cls.name, cls())
    return cls


def load_analyses() -> None:
    """Register the analysis class of every declaration not registered yet (built-ins and plugins)."""
    for declaration in declarations():
        if declaration.analysis is not None and declaration.name not in ANALYSES:
            cls = load_object(declaration.analysis, declaration.name)
            points_back = isinstance(cls, type) and issubclass(cls, Analysis) and \
                vars(cls).get("declaration") is declaration
            if not points_back:
                raise DeclarationError(f"analysis {declaration.name!r}: {declaration.analysis} is not an Analysis "
                                       f"whose `declaration` is this one")
            register_analysis(cls)


def get_analysis(name: str) -> Analysis:
    load_analyses()
    return ANALYSES.get(name)


def list_analyses() -> list[str]:
    load_analyses()
    return ANALYSES.names()
