"""Sentences a page prints about a result, computed from its numbers and saying how sure they are.

Each reading names the count, the n and the 95% interval behind it, and says "inconclusive"
where the interval (or an adjusted test) cannot tell. Sections and the mechanism panel print
the same sentence; tests check each against cases whose answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.intervals import contains_zero, wilson
from generator.results.behaviour import Behaviour
from generator.results.compositional import CompositionalSummary
from generator.results.head_ablation import HeadAblationSummary
from generator.results.scaling import ScalingSummary
from generator.results.token_classes import TokenClassesSummary
from generator.results.transplant import DIRECTIONS, TransplantSummary

SIGNIFICANCE = 0.05


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def share(k: int, n: int) -> str:
    """``6 of 16 (38%, 95% CI 18–61%)``: a count, its n and its Wilson interval."""
    interval = wilson(k, n)
    if interval is None:
        return f"{k} of {n}"
    return f"{k} of {n} ({percent(k / n)}, 95% CI {percent(interval[0])}–{percent(interval[1])})"


def ci_words(interval: tuple[float, float] | None) -> str:
    """``95% CI -14.1 to -11.7``, with ``inconclusive`` when it contains zero (no interval: said so)."""
    if interval is None:
        return "one value: no interval"
    return f"95% CI {interval[0]:+.3g} to {interval[1]:+.3g}{', inconclusive' if contains_zero(interval) else ''}"


def p_text(p: float | None, tests: int) -> str:
    """An adjusted p-value and how many tests it was adjusted over."""
    if p is None:
        return "no test"
    shown = f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"
    return f"{shown}, Holm-adjusted over {tests} tests" if tests > 1 else shown


def join_names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


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


def verdict(p: float | None) -> str:
    return "" if (p if p is not None else 1.0) < SIGNIFICANCE else "; inconclusive"


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


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


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


def interval(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


def decision_reading(summary: TokenClassesSummary) -> str | None:
    """Where the formats' attention differs most at the token that decides between their answers (None: no item's
    formats part, or the run predates the measurement)."""
    found = summary.decision_difference
    if found is None:
        return None
    difference = found.second_mass - found.first_mass
    interval = None if found.ci_low is None or found.ci_high is None else (found.ci_low, found.ci_high)
    return (f"At the decision token (the last token before the formats' answers part; n = {found.n} items), "
            f"attention to '{found.classname}' at layer {found.layer} differs most: {found.first} "
            f"{found.first_mass:.2f}, {found.second} {found.second_mass:.2f} (difference {difference:+.2f}, "
            f"bootstrap {ci_words(interval)}; the largest of {found.compared} class, layer and format comparisons, "
            "so chosen after looking).")


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
