"""Head ablation importance: each attention head's output replaced alone, and what the answer loses.

The example's own tokens are run with the expected answer teacher forced (as the ablation
analysis does); each batch row ablates one head at every position, by zeros or by the head's
mean output over the dataset (its own runs' tokens). ``behaviour: field:<name>`` scores another
answer instead (the seed's decimal bug: which heads does the wrong answer need?), and
``template`` asks the item in another format first (the model's greedy reply there places the
answer). All heads of a model go through in ``ceil(L * H / batch_size)`` forward passes, not
one per head (benchmarks/interventions.py measures the difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.interventions import intervene, unedited
from generator.analyses.base import Analysis, ExampleContext
from generator.analyses.prompting import item_prompt_ids
from generator.results.behaviour import Behaviour, check_behaviour_field
from generator.analyses.scoring import answer_measure, forced_answer, greedy_ids, target_answer, teacher_forced_answer
from generator.capture.generation import token_pieces
from generator.capture.interventions import Site, heads_replaced, recording
from generator.intervals import holm, t_interval, t_test_p
from generator.results.head_ablation import (HEAD_ABLATION, HeadAblationExample, HeadAblationSummary, SpecificHead,
                                             TopHead)
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


Forced = tuple[list[int], int]  # token ids with an answer forced in, and where the answer starts


@dataclass(frozen=True)
class HeadAblationOptions:
    method: Literal["zero", "mean"] = "zero"
    batch_size: int = 64  # ablated copies of the example per forward pass
    behaviour: str = "correct"  # the answer scored: the expected one, or "field:<name>" (an item field)
    template: str | None = None  # ask the item in this format (e.g. "Q: {question}"); default: its own run
    max_new_tokens: int = 12  # the reply generated in ``template`` (it places the answer)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise OptionError("batch_size", f"expected a positive integer, got {self.batch_size}")
        if self.max_new_tokens < 1:
            raise OptionError("max_new_tokens", f"expected a positive integer, got {self.max_new_tokens}")
        check_behaviour_field(self.behaviour)


def shape_of(model) -> tuple[int, int]:
    config = model.config.get_text_config()
    return config.num_hidden_layers, config.num_attention_heads


def ablate_each_head(model, ids: list[int], start: int, batch_size: int,
                     means: dict | None = None) -> tuple[np.ndarray, np.ndarray, tuple[float, bool]]:
    """``[L, H]`` answer log-probabilities and correctness with each head ablated alone, and the baseline."""
    layers, heads = shape_of(model)
    sites = [(layer, head) for layer in range(layers) for head in range(heads)]
    measure = answer_measure(model, ids, start)
    base_logprob, base_correct = intervene([None], unedited, measure, 1)
    logprob, correct = intervene(sites, lambda chunk: heads_replaced(model, chunk, means), measure, batch_size)
    logprob = logprob.astype(np.float64)  # the difference to the baseline is taken in float64, as it always was
    return (logprob.reshape(layers, heads), correct.astype(bool).reshape(layers, heads),
            (float(base_logprob[0]), bool(base_correct[0])))


def mean_head_outputs(model, trajectories: Sequence[Trajectory]) -> dict[tuple[int, int], Any]:
    """Each head's output (its slice of the input to the head-mixing projection) averaged over every token."""
    import torch

    layers, heads = shape_of(model)
    sites = [Site(layer, "head", head) for layer in range(layers) for head in range(heads)]
    sums: dict[tuple[int, int], Any] = {}
    count = 0
    with torch.no_grad():
        for trajectory in trajectories:
            with recording(model, sites) as seen:
                model(input_ids=torch.tensor([trajectory.token_ids], device=model.device), use_cache=False)
            for site in sites:
                total = seen[site][0].float().sum(0)
                key = (site.layer, site.head)
                sums[key] = total if key not in sums else sums[key] + total
            count += len(trajectory.token_ids)
    return {key: value / max(count, 1) for key, value in sums.items()}


def answer_placer(context: ExampleContext, options: HeadAblationOptions) -> Callable[[str | None], Forced | None]:
    """Forces a given answer where the item's answer goes: in its own run, or after the model's greedy reply in
    ``template``; returns the ids and where the answer starts (None: nowhere to put it)."""
    trajectory, tokenizer, spec = context.trajectory, context.tokenizer, context.segmentation
    if options.template is None:
        # None: the expected answer as the model wrote it when it was right (see teacher_forced_answer)
        return lambda answer: teacher_forced_answer(trajectory, tokenizer, spec, answer)
    prompt = item_prompt_ids(tokenizer, trajectory, options.template)
    reply = greedy_ids(context.model, prompt, options.max_new_tokens, tokenizer.eos_token_id)
    _, offsets, text = token_pieces(tokenizer, prompt + reply)
    generated_from = offsets[len(prompt) - 1][1] if prompt else 0
    return lambda answer: forced_answer(prompt + reply, offsets, text, generated_from, len(prompt),
                                        trajectory.expected_answer if answer is None else answer, tokenizer, spec)


def expected_differs(context: ExampleContext, behaviour_answer: str) -> bool:
    """Whether the item's expected answer is another answer than the behaviour's (only then is specificity measured)."""
    expected = context.trajectory.expected_answer
    return expected is not None and not context.answers.matches(expected, behaviour_answer)


class HeadAblationAnalysis(Analysis):
    declaration = HEAD_ABLATION
    options_type = HeadAblationOptions

    def prepare_dataset(self, model, tokenizer, trajectories: Sequence[Trajectory], options) -> Any:
        return mean_head_outputs(model, trajectories) if options.method == "mean" else None

    def analyze_example(self, context: ExampleContext, options: HeadAblationOptions) -> HeadAblationExample:
        layers, heads = shape_of(context.model)
        answer = target_answer(context.trajectory, options.behaviour)
        field = Behaviour.parse(options.behaviour).field
        place = answer_placer(context, options) if answer is not None else None
        forced = place(None if field is None else answer) if place is not None else None
        if forced is None:
            return HeadAblationExample(np.full((layers, heads), np.nan, dtype=np.float32),
                                       np.zeros((layers, heads), dtype=np.uint8), np.array([np.nan, 0.0]))
        delta, correct, baseline = self.ablated(context, options, forced)
        expected_delta = None
        if field is not None:  # specificity: the same heads' effect on the expected answer, in the same place
            other = place(None) if expected_differs(context, answer) else None
            expected_delta = (np.full((layers, heads), np.nan, dtype=np.float32) if other is None
                              else self.ablated(context, options, other)[0])
        return HeadAblationExample(delta, correct, baseline, expected_delta)

    @staticmethod
    def ablated(context: ExampleContext, options: HeadAblationOptions,
                forced: Forced) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each head ablated alone on one forced answer: the change of its log-probability, still first, baseline."""
        ids, start = forced
        logprob, correct, (base, base_correct) = ablate_each_head(context.model, ids, start, options.batch_size,
                                                                  context.dataset_state)
        return (logprob - base).astype(np.float32), correct.astype(np.uint8), np.array([base, float(base_correct)])

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[HeadAblationExample],
                          options: HeadAblationOptions, others: Mapping[type, list[Any]]) -> HeadAblationSummary:
        scored = [d for d in digests if d is not None and not math.isnan(d.baseline[0])]
        if not scored:
            return HeadAblationSummary(options.method, 0, None, None, None, (), options.behaviour, options.template)
        delta = np.mean([d.delta_logprob for d in scored], axis=0)
        rate = np.mean([d.still_correct for d in scored], axis=0)
        informative = [d for d in scored if d.delta_logprob_expected is not None
                       and not np.isnan(d.delta_logprob_expected).all()]
        specific, expected_mean = specific_heads(informative) if informative else ((), None)
        return HeadAblationSummary(options.method, len(scored), float(np.mean([d.baseline[1] for d in scored])),
                                   _grid(delta), _grid(rate), top_heads(scored, delta, rate), options.behaviour,
                                   options.template,
                                   expected_mean, len(informative), specific)


def top_heads(scored: list[HeadAblationExample], delta: np.ndarray, rate: np.ndarray) -> tuple[TopHead, ...]:
    """The heads whose ablation lowers the answer most (up to 10), each tested (t-test, Holm over every head)."""
    adjusted = np.array(holm([t_test_p(values) for values in per_head([d.delta_logprob for d in scored])]),
                        dtype=np.float64)
    return tuple(TopHead(int(i // delta.shape[1]), int(i % delta.shape[1]), float(delta.flat[i]),
                         float(rate.flat[i]), *interval_of([d.delta_logprob.flat[i] for d in scored]),
                         none_if_nan(adjusted[i])) for i in np.argsort(delta, axis=None)[:10])


def per_head(grids: list[np.ndarray]) -> list[np.ndarray]:
    """Each head's values over the examples, heads in row order."""
    stacked = np.stack(grids).reshape(len(grids), -1).astype(np.float64)
    return [stacked[:, i] for i in range(stacked.shape[1])]


def interval_of(values) -> tuple[float | None, float | None]:
    return t_interval(values) or (None, None)


def none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def specific_heads(informative: list[HeadAblationExample]) -> tuple[tuple[SpecificHead, ...], Any]:
    """The heads whose ablation lowers the behaviour's answer most relative to the expected one (up to 10), with
    the mean change of the expected answer per head; tested per head (t-test), Holm-adjusted over all heads."""
    behaviour = np.stack([d.delta_logprob for d in informative]).astype(np.float64)  # [item, L, H]
    expected = np.stack([d.delta_logprob_expected for d in informative]).astype(np.float64)
    difference = behaviour - expected
    mean = difference.mean(axis=0)
    adjusted = np.array(holm([t_test_p(values) for values in per_head(list(difference))]), dtype=np.float64)
    heads = []
    for i in np.argsort(mean, axis=None)[:10]:
        layer, head = divmod(int(i), mean.shape[1])
        heads.append(SpecificHead(layer, head, float(behaviour[:, layer, head].mean()),
                                  float(expected[:, layer, head].mean()), float(mean.flat[i]),
                                  *interval_of(difference[:, layer, head]), none_if_nan(adjusted[i])))
    return tuple(heads), _grid(expected.mean(axis=0))


def _grid(values: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in values)
