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
from generator.results.behaviour import check_behaviour_field
from generator.analyses.scoring import greedy_ids, target_answer
from generator.capture.interventions import Site, edited
from generator.capture.segmentation import parse_answer
from generator.results.scaling import SCALING, ScalingExample, ScalingSummary
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


def scaled(factor: float):
    def edit(activation):
        return activation * factor
    return edit


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
        if target is None:
            return ScalingExample(np.full((len(sites), len(options.factors)), np.nan, np.float32),
                                  np.array([np.nan], np.float32))
        tokenizer, model, trajectory = context.tokenizer, context.model, context.trajectory
        prompt_ids = item_prompt_ids(tokenizer, trajectory, options.template)

        def shows(edits) -> float:
            with edited(model, edits):
                text = tokenizer.decode(greedy_ids(model, prompt_ids, options.max_new_tokens, tokenizer.eos_token_id),
                                        skip_special_tokens=True)
            return float(bool(context.answers.matches(parse_answer(text, context.segmentation), target)))

        grid = np.array([[shows([(site, scaled(factor))]) for factor in options.factors] for _, site in sites],
                        dtype=np.float32)
        return ScalingExample(grid, np.array([shows([])], np.float32))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[ScalingExample],
                          options: ScalingOptions, others: Mapping[type, list[Any]]) -> ScalingSummary:
        names = tuple(name for name, _ in options.sites())
        scored = [d for d in digests if d is not None and not math.isnan(float(d.baseline[0]))]
        if not scored:
            return ScalingSummary(options.behaviour, names, options.factors, 0, None, None, None)
        rate = np.mean([d.behaviour for d in scored], axis=0)
        baseline = float(np.mean([d.baseline[0] for d in scored]))
        return ScalingSummary(options.behaviour, names, tuple(options.factors), len(scored), baseline,
                              tuple(tuple(float(v) for v in row) for row in rate),
                              float(np.abs(rate - baseline).max()))
