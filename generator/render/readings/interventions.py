"""Readings of interventions: scaling, head ablation, transplantation and compositional interactions."""

from __future__ import annotations

from dataclasses import dataclass

from generator.intervals import contains_zero, wilson
from generator.render.readings.words import (SIGNIFICANCE, ci_words, head_name, interval, join_names, p_text, percent,
                                             share, verdict)
from generator.results.behaviour import Behaviour
from generator.results.compositional import CompositionalSummary
from generator.results.head_ablation import HeadAblationSummary
from generator.results.patching import PatchingSummary
from generator.results.scaling import ScalingSummary
from generator.results.transplant import DIRECTIONS, TransplantSummary


@dataclass(frozen=True)
class ScalingCell:
    """One scaled setting's outcomes over the informative items."""

    setting: str
    behaviour: int
    expected: int
    other: int
    no_answer: int
    p_adjusted: float | None


def scaling_cells(summary: ScalingSummary) -> list[ScalingCell]:
    """Every setting with its outcome counts (empty for runs made before outcomes were kept)."""
    if summary.outcome_counts is None:
        return []
    cells = []
    for row, component in enumerate(summary.components):
        for column, factor in enumerate(summary.factors):
            counts = summary.outcome_counts[row][column]
            p = None if summary.p_adjusted is None else summary.p_adjusted[row][column]
            cells.append(ScalingCell(f"{component} × {factor:g}", *counts, p))
    return cells


def scaling_reading(summary: ScalingSummary) -> str:
    """What scaling did, separating fixed, still showing the behaviour, and no valid answer at all."""
    if summary.rate is None:
        return "No item had an answer to compare: inconclusive."
    if summary.never_shown():
        return "The behaviour never occurred, scaled or not (rate 0 everywhere): inconclusive."
    cells, n = scaling_cells(summary), summary.n_informative or 0
    if not cells or not n or summary.baseline_counts is None:
        return (f"The largest change of the behaviour rate is {summary.largest_change:.2f} (baseline "
                f"{percent(summary.baseline_rate)}); this run predates outcome counts, so a lower rate may also "
                "mean no valid answer.")
    base_shown = summary.baseline_counts[0]
    if Behaviour.parse(summary.behaviour).field is not None:
        lead = most_fixed(cells, n)
    else:
        lead = largest_change(cells, n, base_shown)
    return lead + broken_output(cells, n, base_shown)


def most_fixed(cells: list[ScalingCell], n: int) -> str:
    """The setting(s) giving the expected answer most often, with what the rest of its items gave."""
    best = max(cells, key=lambda c: (c.expected, -c.no_answer, -(c.p_adjusted or 1.0)))
    if best.expected == 0:
        return f"No scaling gives the expected answer on any of the {n} informative items."
    tied = [c.setting for c in cells if c.expected == best.expected]
    who = f"{best.setting} gives" if len(tied) == 1 else f"{join_names(tied)} each give"
    return (f"Most fixed: {who} the expected answer on {share(best.expected, n)} informative items "
            f"({'' if len(tied) == 1 else best.setting + ': '}the behaviour remains on {best.behaviour}, "
            f"no valid answer on {best.no_answer}; against no scaling {p_text(best.p_adjusted, len(cells))}"
            f"{verdict(best.p_adjusted)}).")


def largest_change(cells: list[ScalingCell], n: int, base_shown: int) -> str:
    """For ``correct`` as the behaviour: the setting that moves the expected answer's count most."""
    best = max(cells, key=lambda c: (abs(c.behaviour - base_shown), -c.no_answer))
    return (f"Largest change: {best.setting} gives the expected answer on {share(best.behaviour, n)} items, "
            f"against {base_shown} unscaled (no valid answer on {best.no_answer}; "
            f"{p_text(best.p_adjusted, len(cells))}{verdict(best.p_adjusted)}).")


def broken_output(cells: list[ScalingCell], n: int, base_shown: int) -> str:
    """The settings whose lower behaviour rate comes from mostly no valid answer ('' when none)."""
    broken = [c for c in cells if c.no_answer * 2 >= n and c.behaviour < base_shown]
    if not broken:
        return ""
    worst = max(broken, key=lambda c: c.no_answer)
    more = f"; {len(broken)} settings in all give mostly no valid answer" if len(broken) > 1 else ""
    return (f" Lower behaviour rates elsewhere are broken output, not fixes: {worst.setting} gives no valid "
            f"answer on {share(worst.no_answer, n)}{more}.")


def heads_reading(summary: HeadAblationSummary) -> str:
    """Which head the scored answer needs, and (for a behaviour field) which head is specific to it."""
    if not summary.top_heads:
        return "No example had an answer to score: inconclusive."
    field = Behaviour.parse(summary.behaviour).field
    heads = len(summary.mean_delta_logprob or ()) * len((summary.mean_delta_logprob or ((),))[0])
    top = summary.top_heads[0]
    scored = "the expected answer" if field is None else f"the answer in field '{field}'"
    needed = (f"Ablating {head_name(top.layer, top.head)} costs {scored} most: {top.mean_delta_logprob:+.3g} nats "
              f"({ci_words(interval(top.ci_low, top.ci_high))}; {p_text(top.p_adjusted, heads)}; n = "
              f"{summary.n_scored}); still first choice in {percent(top.correct_rate)} of them.")
    if field is None or not summary.specific_heads:
        return needed
    best = summary.specific_heads[0]
    significant = best.p_adjusted is not None and best.p_adjusted < SIGNIFICANCE and best.specificity < 0
    specific = (f"Most specific to it: {head_name(best.layer, best.head)} changes that answer by "
                f"{best.behaviour_delta:+.3g} nats and the expected answer by {best.expected_delta:+.3g} "
                f"(difference {best.specificity:+.3g}, {ci_words(interval(best.ci_low, best.ci_high))}; "
                f"{p_text(best.p_adjusted, heads)}; n = {summary.n_informative} informative items)"
                f"{'' if significant else '; inconclusive'}.")
    if (best.layer, best.head) == (top.layer, top.head):
        return f"{needed} {specific}"
    top_expected = (summary.mean_delta_logprob_expected or ())[top.layer][top.head] \
        if summary.mean_delta_logprob_expected else None
    general = ("" if top_expected is None else
               f" {head_name(top.layer, top.head)} is not specific: on the informative items it changes the expected "
               f"answer by {top_expected:+.3g} nats too.")
    return f"{needed}{general} {specific}"


def transplant_reading(summary: TransplantSummary) -> str:
    """The layer whose attention alone flips the most informative items, both ways, with Wilson intervals."""
    n = summary.informative_items
    if summary.flip_rate is None or not n:
        return "No item's two answers differ, so nothing could flip: inconclusive."
    single = summary.flip_rate[:-1]  # the last row transplants every layer at once
    if max(max(row) for row in summary.flip_rate) == 0:
        upper = wilson(0, n)
        return (f"No transplant flipped any of the {n} informative items (a negative result; with n = {n} a flip "
                f"rate up to {percent(upper[1])} cannot be ruled out).")
    best = max(range(len(single)), key=lambda row: sum(single[row]))
    counts = [round(rate * n) for rate in single[best]]
    return (f"{summary.rows[best].capitalize()} alone flips {share(counts[0], n)} ({DIRECTIONS[0]}) and "
            f"{share(counts[1], n)} ({DIRECTIONS[1]}) of the informative items.")


def interactions_reading(summary: CompositionalSummary) -> str | None:
    """Which pairs of steps interact, or that none can be told from zero (None: no pair was measured)."""
    if not summary.pairs:
        return None
    clear = [pair for pair in summary.pairs if not contains_zero(interval(pair.ci_low, pair.ci_high))
             and pair.p_adjusted is not None and pair.p_adjusted < SIGNIFICANCE]
    tests = len(summary.pairs)
    if not clear:
        largest = max(summary.pairs, key=lambda pair: abs(pair.mean))
        return (f"Inconclusive: no pair's interaction can be told from zero. The largest, steps {largest.first} and "
                f"{largest.second}, is {largest.mean:+.3g} (bootstrap {ci_words(interval(largest.ci_low, largest.ci_high))}; "
                f"{p_text(largest.p_adjusted, tests)}; n = {largest.n}).")
    shown = "; ".join(f"steps {pair.first} and {pair.second}: {pair.mean:+.3g} (bootstrap "
                      f"{ci_words(interval(pair.ci_low, pair.ci_high))}; {p_text(pair.p_adjusted, tests)}; n = {pair.n})"
                      for pair in clear)
    return f"Interactions distinguishable from zero: {shown}. The other pairs are inconclusive."


def scaling_no_effect(summary: ScalingSummary) -> str | None:
    """The negative result, when no setting changes the behaviour beyond chance (None: some setting does, or
    nothing was measured). Judged by the adjusted per-setting tests, not by a fixed threshold."""
    if summary.rate is None or summary.never_shown():
        return None
    cells, n = scaling_cells(summary), summary.n_informative or 0
    tested = [c.p_adjusted for c in cells if c.p_adjusted is not None]
    if not tested:
        return (f"The largest change of the behaviour rate is {summary.largest_change:.2f}; this run predates the "
                "per-setting tests, so whether any setting has an effect cannot be told: inconclusive.")
    if min(tested) < SIGNIFICANCE:
        return None
    return (f"No effect detected: no setting changes the behaviour item by item beyond chance (smallest {p_text(min(tested), len(cells))}; "
            f"n = {n} informative items): a negative result at this n, where effects on a few items cannot be ruled "
            "out.")


def transplant_heads_reading(summary: TransplantSummary) -> str | None:
    """The single head whose weights alone flip the most informative items (None: heads were not transplanted)."""
    n = summary.informative_items
    if summary.head_flip_rate is None or not n:
        return None
    cells = [(rate, layer, head, direction) for layer, row in enumerate(summary.head_flip_rate)
             for head, rates in enumerate(row) for direction, rate in enumerate(rates) if rate == rate]
    if not cells:
        return None
    rate, layer, head, direction = max(cells)
    if rate == 0:
        return (f"No single head's weights flip any of the {n} informative items in either direction (with n = {n}, "
                f"a flip rate up to {percent(wilson(0, n)[1])} per head cannot be ruled out).")
    return (f"One head alone flips at most {share(round(rate * n), n)} informative items: {head_name(layer, head)}, "
            f"{DIRECTIONS[direction]} (the largest of {len(cells)} head-and-direction transplants, chosen after "
            "looking).")


def patching_reading(summary: PatchingSummary) -> str | None:
    """The patch that flips the most informative items, with its Wilson interval (None: nothing was patched)."""
    n = summary.informative_items
    if not n or summary.flip_rate is None:
        return None
    counts = [[c.k for c in row] for row in summary.flip_rate_ci] if summary.flip_rate_ci else \
        [[round(rate * n) for rate in row] for row in summary.flip_rate]
    cells = [(k, layer, column) for layer, row in enumerate(counts) for column, k in enumerate(row)]
    k, layer, column = max(cells, key=lambda cell: (cell[0], -cell[1]))
    if k == 0:
        return (f"No single patch flips any of the {n} informative items (a negative result; with n = {n} a flip rate "
                f"up to {percent(wilson(0, n)[1])} cannot be ruled out).")
    tied = [f"layer {l} {summary.components[c]}" for kk, l, c in cells if kk == k]
    who = tied[0] if len(tied) == 1 else join_names(tied)
    return (f"Patching {who} flips the most: {share(k, n)} informative items"
            f"{'' if len(tied) == 1 else ' each'} (of {len(cells)} patches).")
