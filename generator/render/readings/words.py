"""The words every reading is built from: counts with Wilson intervals, intervals, adjusted p-values."""

from __future__ import annotations

from generator.intervals import contains_zero, wilson

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

def verdict(p: float | None) -> str:
    return "" if (p if p is not None else 1.0) < SIGNIFICANCE else "; inconclusive"


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def interval(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)
