"""Component scaling: one component's output multiplied by a factor while the model answers again.

The seed's "component modulation": scale a layer's attention or MLP output, or a single head,
by each factor (0 removes it, 2 doubles it), generate greedily, and record whether the answer
still shows the behaviour. A rate that does not move is reported as such: a negative result
is a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers
from generator.analyses.prompting import item_prompt_ids
from generator.results.behaviour import Behaviour, check_behaviour_field
from generator.analyses.scoring import greedy_ids, target_answer
from generator.capture.interventions import Site, edited
from generator.capture.segmentation import parse_answer
from generator.answers import AnswerCheck
from generator.intervals import holm, mcnemar_p
from generator.results.scaling import OUTCOMES, SCALING, ScalingExample, ScalingSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class ScalingOptions:
    layers: tuple[int, ...] = (0,)
    components: tuple[Literal["attn_out", "mlp_out"], ...] = ("attn_out", "mlp_out")
    heads: tuple[tuple[int, ...], ...] = ()  # (layer, head) pairs scaled alone
    factors: tuple[float, ...] = (0.0, 0.5, 1.5, 2.0)
    behaviour: str = "correct"  # or "field:<name>": the answer equals that item field (e.g. field:bug_answer)
    template: str | None = None  # ask the item in this prompt format (e.g. "Q: {question}"); default: its prompt
    max_new_tokens: int = 12

    def __post_init__(self) -> None:
        if not self.factors:
            raise OptionError("factors", "expected at least one factor")
        if not (self.layers and self.components) and not self.heads:
            raise OptionError("components", "expected something to scale (layers x components, or heads)")
        for index, pair in enumerate(self.heads):
            if len(pair) != 2:
                raise OptionError(f"heads[{index}]", f"expected [layer, head], got {list(pair)}")
        check_behaviour_field(self.behaviour)
        if self.max_new_tokens < 1:
            raise OptionError("max_new_tokens", f"expected a positive integer, got {self.max_new_tokens}")

    def sites(self) -> list[tuple[str, Site]]:
        named = [(f"L{layer} {component}", Site(layer, component)) for layer in self.layers
                 for component in self.components]
        return named + [(f"L{layer} head {head}", Site(layer, "head", head)) for layer, head in self.heads]


def answer_outcome(answers: AnswerCheck, answer: str | None, target: str, expected: str | None) -> int:
    """0: the behaviour's answer; 1: the expected one (when the behaviour is another); 2: another valid answer;
    3: no valid answer (none, or one the run's answer check cannot read, e.g. ``A:`` for a number)."""
    if answers.matches(answer, target):
        return 0
    if answer is None or answers.normalized(answer) is None:
        return 3
    if expected is not None and not answers.matches(expected, target) and answers.matches(answer, expected):
        return 1
    return 2


def scaled(factor: float):
    def edit(activation):
        return activation * factor
    return edit


def outcome_counts(scored: list[ScalingExample]) -> tuple[Any, Any, int | None]:
    """``[C][F][4]`` and baseline ``[4]`` outcome counts over the informative items, and how many there are
    (all None for results made before outcomes were kept)."""
    if not all(d.outcome is not None and d.informative is not None for d in scored):
        return None, None, None
    kept = [d for d in scored if d.informative[0]]
    if not kept:
        return None, None, 0
    outcomes = np.stack([d.outcome for d in kept]).astype(np.int64)  # [item, C, F]
    counts = tuple(tuple(tuple(int(n) for n in np.bincount(outcomes[:, c, f], minlength=len(OUTCOMES)))
                         for f in range(outcomes.shape[2])) for c in range(outcomes.shape[1]))
    baseline = tuple(int(n) for n in np.bincount([int(d.baseline_outcome[0]) for d in kept], minlength=len(OUTCOMES)))
    return counts, baseline, len(kept)


def paired_tests(scored: list[ScalingExample]) -> tuple[tuple[float, ...], ...]:
    """Per cell, did scaling change the behaviour item by item (exact McNemar), Holm-adjusted over all cells."""
    shown = np.stack([d.behaviour for d in scored]).astype(bool)  # [item, C, F]
    before = np.array([bool(d.baseline[0]) for d in scored])[:, None, None]
    stopped, started = (before & ~shown).sum(axis=0), (~before & shown).sum(axis=0)
    raw = [mcnemar_p(int(a), int(b)) for a, b in zip(stopped.ravel(), started.ravel())]
    adjusted = np.array(holm(raw), dtype=np.float64).reshape(shown.shape[1:])
    return tuple(tuple(float(v) for v in row) for row in adjusted)


class ScalingAnalysis(Analysis):
    declaration = SCALING
    options_type = ScalingOptions

    def check_model(self, model, options: ScalingOptions) -> None:
        check_layers(model, options.layers, "analyses.scaling.layers")
        check_layers(model, [pair[0] for pair in options.heads], "analyses.scaling.heads")
        n_heads = model.config.get_text_config().num_attention_heads
        for index, (_, head) in enumerate(options.heads):
            if not 0 <= head < n_heads:
                raise AnalysisError(f"analyses.scaling.heads[{index}]: head {head} is out of range "
                                    f"(the model has {n_heads} heads)")

    def analyze_example(self, context: ExampleContext, options: ScalingOptions) -> ScalingExample:
        sites = options.sites()
        target = target_answer(context.trajectory, options.behaviour)
        shape = (len(sites), len(options.factors))
        if target is None:
            return ScalingExample(np.full(shape, np.nan, np.float32), np.array([np.nan], np.float32),
                                  np.full(shape, -1, np.int8), np.array([-1], np.int8), np.array([0], np.int8))
        tokenizer, model, trajectory = context.tokenizer, context.model, context.trajectory
        prompt_ids = item_prompt_ids(tokenizer, trajectory, options.template)

        def outcome(edits) -> int:
            with edited(model, edits):
                text = tokenizer.decode(greedy_ids(model, prompt_ids, options.max_new_tokens, tokenizer.eos_token_id),
                                        skip_special_tokens=True)
            return answer_outcome(context.answers, parse_answer(text, context.segmentation), target,
                                  trajectory.expected_answer)

        grid = np.array([[outcome([(site, scaled(factor))]) for factor in options.factors] for _, site in sites],
                        dtype=np.int8)
        baseline = np.array([outcome([])], np.int8)
        expected = trajectory.expected_answer
        own = Behaviour.parse(options.behaviour).field is None
        informative = own or (expected is not None and not context.answers.matches(expected, target))
        return ScalingExample((grid == 0).astype(np.float32), (baseline == 0).astype(np.float32), grid, baseline,
                              np.array([int(informative)], np.int8))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[ScalingExample],
                          options: ScalingOptions, others: Mapping[type, list[Any]]) -> ScalingSummary:
        names = tuple(name for name, _ in options.sites())
        scored = [d for d in digests if d is not None and not math.isnan(float(d.baseline[0]))]
        if not scored:
            return ScalingSummary(options.behaviour, names, options.factors, 0, None, None, None)
        rate = np.mean([d.behaviour for d in scored], axis=0)
        baseline = float(np.mean([d.baseline[0] for d in scored]))
        counts, baseline_counts, informative = outcome_counts(scored)
        return ScalingSummary(options.behaviour, names, tuple(options.factors), len(scored), baseline,
                              tuple(tuple(float(v) for v in row) for row in rate),
                              float(np.abs(rate - baseline).max()), counts, informative, baseline_counts,
                              paired_tests(scored))
