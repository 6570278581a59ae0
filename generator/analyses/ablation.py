"""Ablation importance: remove one part at a time and measure what the answer loses.

Parts are the reasoning steps (or each token of a chosen segment). Each part is removed by
zero, mean (over the dataset) or resample (from another example) ablation of the residual
stream entering chosen layers, or by attention knockout (no query outside the part may
attend to it, in every layer). The model reads its own trajectory with the expected answer
in place of its own (teacher forcing); the effect is the change in the log-probability of
the expected answer's tokens, and whether greedy decoding would still produce them. All
ablations of one example run through the model as one batch.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers
from generator.analyses.interventions import intervene, parts_of, unedited
from generator.analyses.scoring import answer_measure, teacher_forced_answer
from generator.analyses.statistics import attention_importance_statistics, mean_with_ci
from generator.capture.interventions import Site, edited, recording
from generator.capture.knockout import knocked_out
from generator.capture.thought_inputs import thoughts_in_place
from generator.results.ablation import ABLATION, AblationExample, AblationSummary
from generator.results.attention import AttentionDigest
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory

Method = Literal["zero", "mean", "resample", "knockout"]
RESIDUAL_METHODS = ("zero", "mean", "resample")
METHODS: tuple[Method, ...] = ("zero", "mean", "resample", "knockout")


@dataclass(frozen=True)
class AblationOptions:
    methods: tuple[Method, ...] = METHODS
    layers: tuple[int, ...] = ()  # residual ablation layers; empty means the middle layer
    parts: str = "steps"  # "steps", or "tokens:<segment name>" for each token of that segment
    batched: bool = True  # ablations of one example batched (False: one forward each, for benchmarks)
    batch_size: int = 32  # ablated copies of the example per forward pass, when batched

    def __post_init__(self) -> None:
        if not self.methods:
            raise OptionError("methods", f"expected at least one of {', '.join(METHODS)}")
        if len(set(self.methods)) != len(self.methods):
            raise OptionError("methods", f"a method is listed twice: {list(self.methods)}")
        if self.batch_size < 1:
            raise OptionError("batch_size", f"expected a positive integer, got {self.batch_size}")
        if self.parts != "steps" and not (self.parts.startswith("tokens:") and len(self.parts) > len("tokens:")):
            raise OptionError("parts", f"expected 'steps' or 'tokens:<segment name>', got {self.parts!r}")


@dataclass(frozen=True)
class ResidualRow:
    """One batch row of residual ablation: where its result goes, and what replaces which positions."""

    method: int  # index into the options' methods
    layer_index: int  # index into the ablation layers
    part: int  # index of the part
    layer: int  # the layer whose incoming residual stream is edited
    positions: np.ndarray
    value: np.ndarray  # [len(positions), d_model]


def residual_edit(model, layers: list[int]):
    """The edit for ``intervene``: each row's positions of the residual stream entering its layer replaced."""
    import torch

    def rows_at(chunk: Sequence[ResidualRow], layer: int):
        def edit(hidden):
            hidden = hidden.clone()
            for index, row in enumerate(chunk):
                if row.layer == layer:
                    hidden[index, row.positions] = torch.as_tensor(row.value, dtype=hidden.dtype, device=hidden.device)
            return hidden
        return edit

    return lambda chunk: edited(model, [(Site(layer, "resid_pre"), rows_at(chunk, layer)) for layer in layers])


def knockout_edit(model, length: int):
    """The edit for ``intervene``: in each row, no query outside its part attends to the part's tokens."""
    import torch

    def edit(chunk: Sequence[tuple[str, np.ndarray]]):
        blocked = torch.zeros(len(chunk), length, dtype=torch.bool, device=model.device)
        for index, (_, positions) in enumerate(chunk):
            blocked[index, torch.as_tensor(positions)] = True
        return knocked_out(model, blocked)
    return edit


def _check_parts(trajectory: Trajectory, parts: list[tuple[str, np.ndarray]], answer_start: int) -> None:
    for label, positions in parts:
        if len(positions) == 0 or positions.max() >= answer_start:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: part {label!r} is empty "
                                "or lies in the answer; nothing to ablate")


class AblationAnalysis(Analysis):
    declaration = ABLATION
    options_type = AblationOptions

    def layers(self, model, options: AblationOptions) -> list[int]:
        n_layers = model.config.get_text_config().num_hidden_layers
        return list(options.layers) or [n_layers // 2]

    def check_model(self, model, options: AblationOptions) -> None:
        check_layers(model, options.layers, "analyses.ablation.layers")

    def prepare_dataset(self, model, tokenizer, trajectories: Sequence[Trajectory],
                        options: AblationOptions) -> "AblationState":
        """The dataset's mean residual stream at the ablation layers, and where resample donors are.

        One pass over the trajectories, keeping running sums: memory does not grow with the dataset.
        """
        layers = self.layers(model, options)
        state = AblationState(layers, model, trajectories)
        if not set(options.methods) & {"mean", "resample"}:
            return state
        sums = {layer: 0.0 for layer in layers}
        count = 0
        for trajectory in trajectories:
            state.order.append(trajectory.example_id)
            state.segments.append(trajectory.segments)
            if "mean" in options.methods:
                activations = state.activations(len(state.order) - 1, trajectory)
                for layer in layers:
                    sums[layer] = sums[layer] + activations[layer].sum(0)
                count += len(trajectory.token_ids)
        state.mean = {layer: sums[layer] / max(count, 1) for layer in layers}
        return state

    def _replacement(self, method: str, layer: int, trajectory: Trajectory, positions: np.ndarray, label: str,
                     state: "AblationState", width: int) -> np.ndarray | None:
        if method == "zero":
            return np.zeros((len(positions), width), dtype=np.float32)
        if method == "mean":
            return np.repeat(state.mean[layer][None, :], len(positions), axis=0).astype(np.float32)
        # resample: the same part of the next example that has it, position by position (cycled)
        order = state.order
        start = order.index(trajectory.example_id)
        for offset in range(1, len(order)):
            donor = (start + offset) % len(order)
            for seg in state.segments[donor]:
                if seg.name == label or (label.startswith(seg.name + " #")):
                    source = state.activations(donor)[layer][seg.start:seg.end]
                    return source[np.arange(len(positions)) % len(source)].astype(np.float32)
        return None  # no other example has this part: leave it unablated, marked NaN

    def analyze_example(self, context: ExampleContext, options: AblationOptions) -> AblationExample:
        model, trajectory = context.model, context.trajectory
        forced = teacher_forced_answer(trajectory, context.tokenizer, context.segmentation)
        parts = parts_of(trajectory, options.parts)
        layers = context.dataset_state.layers
        shape = (len(options.methods), len(layers), len(parts))
        delta = np.full(shape, np.nan, dtype=np.float32)
        stays = np.full(shape, np.nan, dtype=np.float32)
        part_segments = np.array([_segment_of(trajectory, positions[0]) for _, positions in parts], dtype=np.int64)
        if forced is None or not parts:
            return AblationExample(delta, stays, np.array([np.nan], np.float32), np.array([np.nan], np.float32),
                                   np.array(layers, dtype=np.int64), part_segments)
        ids, start = forced
        _check_parts(trajectory, parts, start)
        measure = answer_measure(model, ids, start)
        base_logprob, base_correct = intervene([None], unedited, measure, 1)
        batch = options.batch_size if options.batched else 1
        # every (method, layer, part) residual ablation of this example, in batches
        rows = self._residual_rows(options, layers, parts, trajectory, context.dataset_state,
                                   model.config.get_text_config().hidden_size)
        if rows:
            logprob, correct = intervene(rows, residual_edit(model, layers), measure, batch)
            for row, lp, ok in zip(rows, logprob, correct):
                delta[row.method, row.layer_index, row.part] = lp - base_logprob[0]
                stays[row.method, row.layer_index, row.part] = float(ok)
        if "knockout" in options.methods:
            m_index = options.methods.index("knockout")
            logprob, correct = intervene(parts, knockout_edit(model, len(ids)), measure, batch)
            delta[m_index] = (logprob - base_logprob[0])[None, :]
            stays[m_index] = correct.astype(np.float32)[None, :]
        return AblationExample(
            delta_logprob=delta, stays_correct=stays, baseline_logprob=base_logprob.astype(np.float32),
            baseline_correct=base_correct.astype(np.float32), layers=np.array(layers, dtype=np.int64),
            part_segments=part_segments)

    def _residual_rows(self, options: AblationOptions, layers: list[int], parts: list[tuple[str, np.ndarray]],
                       trajectory: Trajectory, state: "AblationState", width: int) -> list["ResidualRow"]:
        """One row per (residual method, layer, part) that has a replacement (resample may have none)."""
        rows = []
        for m_index, method in enumerate(options.methods):
            if method not in RESIDUAL_METHODS:
                continue
            for l_index, layer in enumerate(layers):
                for p_index, (label, positions) in enumerate(parts):
                    value = self._replacement(method, layer, trajectory, positions, label, state, width)
                    if value is not None:
                        rows.append(ResidualRow(m_index, l_index, p_index, layer, positions, value))
        return rows

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[AblationExample],
                          options: AblationOptions, others: Mapping[type, list[Any]]) -> AblationSummary:
        labels_by_example = [[label for label, _ in parts_of(t, options.parts)] for t in trajectories]
        positions = sorted({label for labels in labels_by_example for label in labels},
                           key=lambda s: (len(s), s))
        layers = tuple(int(x) for x in digests[0].layers) if digests else ()
        importance = {}
        for m_index, method in enumerate(options.methods):
            per_position = {}
            for label in positions:
                values = [r.importance(m_index)[labels.index(label)]
                          for r, labels in zip(digests, labels_by_example) if label in labels]
                per_position[label] = mean_with_ci([v for v in values if np.isfinite(v)])
            importance[method] = per_position
        attention = others.get(AttentionDigest)
        return AblationSummary(
            methods=tuple(options.methods), layers=layers, parts=tuple(positions), importance_by_position=importance,
            attention_vs_importance=attention_importance_statistics(digests, attention, labels_by_example, positions)
            if attention else None)


class AblationState:
    """What ablation keeps for a dataset: the layers, the mean activation, and donors by position.

    A resample donor's activations are recomputed when needed (one forward, the last few kept)
    rather than stored for every example, so memory stays flat in the dataset's size.
    """

    KEEP = 4

    def __init__(self, layers: list[int], model, trajectories: Sequence[Trajectory]) -> None:
        self.layers = layers
        self.model = model
        self.trajectories = trajectories
        self.order: list[str] = []
        self.segments: list[tuple] = []
        self.mean: dict[int, np.ndarray] = {}
        self._recent: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()

    def activations(self, index: int, trajectory: Trajectory | None = None) -> dict[int, np.ndarray]:
        """Residual stream entering each ablation layer for example ``index``: {layer: [token, width]}."""
        import torch

        if index in self._recent:
            self._recent.move_to_end(index)
            return self._recent[index]
        trajectory = trajectory or self.trajectories[index]
        sites = [Site(layer, "resid_pre") for layer in self.layers]
        with recording(self.model, sites) as store, torch.no_grad(), thoughts_in_place(self.model, trajectory):
            self.model(input_ids=torch.tensor([trajectory.token_ids], device=self.model.device), use_cache=False)
        found = {s.layer: store[s][0].float().cpu().numpy() for s in sites}
        self._recent[index] = found
        if len(self._recent) > self.KEEP:
            self._recent.popitem(last=False)
        return found


def _segment_of(trajectory: Trajectory, position: int) -> int:
    return next(i for i, s in enumerate(trajectory.segments) if s.start <= position < s.end)
