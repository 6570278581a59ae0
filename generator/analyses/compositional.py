"""Compositional ablation: every pair (and, if asked, triplet) of reasoning steps ablated together.

The residual stream entering ``layer`` is zeroed at the steps' positions while the expected
answer is teacher forced (as ``ablation`` does); singles, pairs and triplets of one example run
as one batch. The interaction of a pair is its joint effect minus the sum of the two single
effects: zero when the steps act independently.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.interventions import intervene, parts_of, unedited
from generator.analyses.scoring import answer_measure, teacher_forced_answer
from generator.analyses.base import Analysis, ExampleContext, check_layers
from generator.capture.interventions import Site, edited
from generator.intervals import bootstrap_interval, holm, t_test_p
from generator.results.compositional import (COMPOSITIONAL, CompositionalExample, CompositionalSummary,
                                             PairInteraction)
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class CompositionalOptions:
    layer: int = 0
    triplets: bool = False
    batch_size: int = 32  # ablated copies of the example per forward pass (p steps make p + C(p,2) [+ C(p,3)] rows)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise OptionError("batch_size", f"expected a positive integer, got {self.batch_size}")


def zeroed_at(rows: list[np.ndarray]):
    """An edit that zeroes batch row ``i`` at the positions ``rows[i]``."""
    def edit(activation):
        activation = activation.clone()
        for row, positions in enumerate(rows):
            activation[row, positions] = 0
        return activation
    return edit


def ablate_groups(model, ids: list[int], start: int, layer: int, groups: list[np.ndarray],
                  batch_size: int = 32) -> tuple[float, np.ndarray]:
    """The answer's log-probability without ablation, and with each group of positions zeroed (batched)."""
    measure = answer_measure(model, ids, start)
    base, _ = intervene([None], unedited, measure, 1)
    if not groups:
        return float(base[0]), np.zeros(0)
    scores, _ = intervene(groups, lambda chunk: edited(model, [(Site(layer, "resid_pre"), zeroed_at(chunk))]),
                          measure, batch_size)
    return float(base[0]), scores


class CompositionalAnalysis(Analysis):
    declaration = COMPOSITIONAL
    options_type = CompositionalOptions

    def check_model(self, model, options: CompositionalOptions) -> None:
        check_layers(model, [options.layer], "analyses.compositional.layer")

    def analyze_example(self, context: ExampleContext, options: CompositionalOptions) -> CompositionalExample:
        steps = [positions for _, positions in parts_of(context.trajectory, "steps")]
        p = len(steps)
        single, pair = np.full(p, np.nan), np.full((p, p), np.nan)
        triplet = np.full((p, p, p), np.nan) if options.triplets else None
        forced = teacher_forced_answer(context.trajectory, context.tokenizer, context.segmentation)
        if forced is None or p < 2:
            return self._result(single, pair, triplet)
        combos = [(i,) for i in range(p)] + list(itertools.combinations(range(p), 2))
        if options.triplets:
            combos += list(itertools.combinations(range(p), 3))
        base, scores = ablate_groups(context.model, *forced, options.layer,
                                     [np.concatenate([steps[i] for i in combo]) for combo in combos], options.batch_size)
        for combo, score in zip(combos, scores - base):
            if len(combo) == 1:
                single[combo] = score
            elif len(combo) == 2:
                pair[combo] = score
            else:
                triplet[combo] = score
        return self._result(single, pair, triplet)

    @staticmethod
    def _result(single, pair, triplet) -> CompositionalExample:
        interaction = pair - (single[:, None] + single[None, :])
        return CompositionalExample(single.astype(np.float32), pair.astype(np.float32),
                                    interaction.astype(np.float32),
                                    None if triplet is None else triplet.astype(np.float32))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[CompositionalExample],
                          options: CompositionalOptions, others: Mapping[type, list[Any]]) -> CompositionalSummary:
        scored = [d for d in digests if d is not None and d.single.size >= 2 and not np.isnan(d.single).all()]
        p = max((d.single.size for d in scored), default=0)
        singles = [[float(d.single[i]) for d in scored if d.single.size > i] for i in range(p)]
        mean_interaction = tuple(tuple(_mean_or_none(_pair_values(scored, i, j)) for j in range(p)) for i in range(p))
        return CompositionalSummary(options.layer, len(scored), tuple(_mean_or_none(v) for v in singles),
                                    mean_interaction, pair_interactions(scored, p))


def pair_interactions(scored: list[CompositionalExample], p: int) -> tuple[PairInteraction, ...]:
    """Every measured pair (i < j) with a bootstrap interval and a t-test, Holm-adjusted over the pairs."""
    measured = [(i, j, values) for i in range(p) for j in range(i + 1, p) if (values := _pair_values(scored, i, j))]
    adjusted = holm([t_test_p(values) for _, _, values in measured])
    return tuple(PairInteraction(i + 1, j + 1, len(values), float(np.mean(values)),
                                 *(bootstrap_interval(values) or (None, None)), p_value)
                 for (i, j, values), p_value in zip(measured, adjusted))


def _pair_values(scored: list[CompositionalExample], i: int, j: int) -> list[float]:
    """Every measured interaction of parts i and j (items with fewer parts, and NaN, left out)."""
    return [float(d.interaction[i, j]) for d in scored if d.single.size > j and not math.isnan(d.interaction[i, j])]


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
