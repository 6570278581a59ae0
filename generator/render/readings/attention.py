"""Readings of where attention goes and what the parts it reads are worth: entropy, the decision token
between formats, ablation importance."""

from __future__ import annotations

from generator.intervals import t_interval_from_moments
from generator.render.readings.words import ci_words, interval
from generator.render.step_order import in_step_order
from generator.results.ablation import AblationSummary
from generator.results.attention import AttentionSummary
from generator.results.logit_attribution import LogitAttributionSummary
from generator.results.routing import RoutingSummary
from generator.results.salience import SalienceSummary
from generator.results.statistics import MeanWithCI
from generator.results.token_classes import TokenClassesSummary


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


def overlap(first: tuple[float, float] | None, second: tuple[float, float] | None) -> bool:
    """Whether two intervals overlap (a missing one: cannot tell them apart either)."""
    return first is None or second is None or (first[0] <= second[1] and second[0] <= first[1])


def non_negative(shown: tuple[float, float] | None) -> tuple[float, float] | None:
    """An interval of a quantity that cannot be negative (entropy), its lower end clipped at zero."""
    return None if shown is None else (max(0.0, shown[0]), shown[1])


def entropy_reading(summary: AttentionSummary) -> str | None:
    """The most focused and the most diffuse layer, each with its t interval over examples."""
    means, n = summary.mean_entropy_by_layer, summary.n_examples
    if not means:
        return None
    stds = summary.std_entropy_by_layer
    intervals = [non_negative(t_interval_from_moments(m, s, n)) for m, s in zip(means, stds)]
    low, high = min(range(len(means)), key=means.__getitem__), max(range(len(means)), key=means.__getitem__)

    def layer(index: int) -> str:
        shown = intervals[index]
        ci = "one example: no interval" if shown is None else f"95% CI {shown[0]:.2f}–{shown[1]:.2f}"
        return f"layer {index} ({means[index]:.2f} nats, {ci})"

    if low == high:
        return f"Mean attention entropy is {layer(low)}; n = {n} examples."
    order = (" Their intervals overlap, so which layer is more focused is inconclusive."
             if overlap(intervals[low], intervals[high]) else "")
    return (f"Attention is most focused at {layer(low)} and most diffuse at {layer(high)}; n = {n} examples, "
            f"each averaged over its heads and query tokens.{order}")


def ablation_reading(summary: AblationSummary) -> list[str]:
    """Per method: the part whose removal costs the answer most, with its t interval (inconclusive when it
    contains zero)."""
    sentences = []
    for method in summary.methods:
        parts = {part: mean for part, mean in in_step_order(summary.importance_by_position.get(method, {}),
                                                            summary.parts).items()
                 if mean.mean is not None}
        if not parts:
            sentences.append(f"{method}: no example had a part to remove: inconclusive.")
            continue
        part, top = max(parts.items(), key=lambda item: item[1].mean)
        lead = (f"removing {part} lowers the answer's log-probability most" if top.mean > 0 else
                f"no part's removal lowers the answer's log-probability on average; the largest mean drop is {part}'s")
        sentences.append(f"{method}: {lead}, a drop of {mean_words(top, ' nats')} (the largest of {len(parts)} "
                         "parts).")
    return sentences


def mean_words(mean: MeanWithCI, unit: str = "", signed: bool = True) -> str:
    """``+7.85 logits (95% CI +6.91 to +8.78; n = 12)``: a mean, its t interval and its n; unsigned for
    quantities that cannot be negative (attention mass), where "inconclusive" would be meaningless."""
    shown = interval(mean.ci_low, mean.ci_high)
    if signed:
        return f"{mean.mean:+.3g}{unit} ({ci_words(shown)}; n = {mean.n})"
    ci = "one value: no interval" if shown is None else f"95% CI {shown[0]:.3g}–{shown[1]:.3g}"
    return f"{mean.mean:.3g}{unit} ({ci}; n = {mean.n})"


def logit_reading(summary: LogitAttributionSummary) -> str | None:
    """The layer component and the head writing most toward the answer's logit, with their t intervals."""
    if summary.attention_ci is None or summary.mlp_ci is None:
        return None if summary.attention is None else \
            "This run predates intervals on the contributions: the means below carry no uncertainty."
    components = [(f"layer {i}'s attention", c) for i, c in enumerate(summary.attention_ci)] + \
                 [(f"layer {i}'s MLP", c) for i, c in enumerate(summary.mlp_ci)]
    name, top = max(components, key=lambda item: abs(item[1].mean or 0.0))
    sentence = (f"The largest direct contribution is {name}: {mean_words(top, ' logits')}; the largest of "
                f"{len(components)} layer components, chosen after looking.")
    heads = [(f"L{layer}H{head}", c) for layer, row in enumerate(summary.heads_ci or ())
             for head, c in enumerate(row)]
    if heads:
        head, best = max(heads, key=lambda item: abs(item[1].mean or 0.0))
        sentence += f" The largest head is {head}: {mean_words(best)} (of {len(heads)} heads)."
    if summary.embedding_ci is not None and summary.embedding_ci.mean is not None:
        sentence += f" The token embedding adds {mean_words(summary.embedding_ci)}."
    return sentence


def salience_reading(summary: SalienceSummary) -> str | None:
    """The step the span attends to most and least, each with its t interval (None: a run before intervals)."""
    steps = {step: mean for step, mean in in_step_order(summary.by_step or {}).items() if mean.mean is not None}
    if not steps:
        return None
    most = max(steps, key=lambda step: steps[step].mean)
    least = min(steps, key=lambda step: steps[step].mean)
    if most == least:
        return f"The {summary.span} puts a mean mass of {mean_words(steps[most], signed=False)} on {most}."
    same = overlap(interval(steps[most].ci_low, steps[most].ci_high), interval(steps[least].ci_low, steps[least].ci_high))
    return (f"The {summary.span} attends most to {most}, a mean mass of {mean_words(steps[most], signed=False)}, "
            f"and least to {least}, {mean_words(steps[least], signed=False)} (over layers and heads)."
            + (" Their intervals overlap, so the order is inconclusive." if same else ""))


def routing_reading(summary: RoutingSummary) -> str | None:
    """Per step, the question position it attends to most, with its t interval (None: a run before intervals)."""
    if not summary.by_position_ci:
        return None
    peaks = []
    for step, row in enumerate(summary.by_position_ci):
        measured = [(position, cell) for position, cell in enumerate(row) if cell.mean is not None]
        if measured:
            position, cell = max(measured, key=lambda item: item[1].mean)
            peaks.append(f"step {step + 1} → q{position}, {mean_words(cell, signed=False)}")
    if not peaks:
        return None
    return ("Each step's most attended question position (the largest of the question's positions, chosen after "
            "looking): " + "; ".join(peaks) + ".")
