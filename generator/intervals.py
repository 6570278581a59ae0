"""How sure a number is: intervals and tests that analyses store and pages print.

A leaf module (numpy and scipy only), so analyses computing a summary and sections reading one
use the same formulas: Wilson intervals for rates, t intervals and bootstrap intervals for
means, exact McNemar tests for paired yes/no outcomes, and Holm's adjustment when many things
are tested at once. The formulas are written on ``scipy.special``'s distribution functions,
not ``scipy.stats``: every page that prints an interval imports this, and ``scipy.stats``
takes about a second to import (tests check the results against ``scipy.stats``). The normal
quantile of Wilson intervals (every page's accuracy sentence) is the standard library's
``NormalDist.inv_cdf`` (Wichura's AS241, within an ulp or two of ``scipy.special.ndtri``), so a
build whose pages print only rates does not import ``scipy.special`` (about 0.1 s a process).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Sequence

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000


def _two_sided_z(confidence: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def _two_sided_t(confidence: float, df: int) -> float:
    from scipy import special

    return float(special.stdtrit(df, 1 - (1 - confidence) / 2))


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / trials`` (None when there are no trials)."""
    if trials == 0:
        return None
    z, n, p = _two_sided_z(confidence), trials, successes / trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The t-distribution interval of a mean (None below two values; a point for constant values)."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) < 2:
        return None
    return t_interval_from_moments(float(data.mean()), float(data.std(ddof=1)), len(data), ddof=1,
                                   confidence=confidence)


def t_interval_from_moments(mean: float, std: float, n: int, ddof: int = 0,
                             confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The t interval of a mean known only by its mean, standard deviation (computed with ``ddof``) and n."""
    if n < 2:
        return None
    sample_std = std * np.sqrt((n - ddof) / (n - 1))  # the ddof=1 standard deviation
    if sample_std == 0.0:
        return mean, mean
    half = _two_sided_t(confidence, n - 1) * sample_std / np.sqrt(n)
    return float(mean - half), float(mean + half)


def t_test_p(values: Sequence[float]) -> float | None:
    """Two-sided one-sample t-test of mean zero (None below two values or for constant values)."""
    from scipy import special

    data = np.asarray(values, dtype=np.float64)
    if len(data) < 2 or float(data.std(ddof=1)) == 0.0:
        return None if len(data) < 2 or float(data.mean()) == 0.0 else 0.0
    statistic = float(data.mean()) / (float(data.std(ddof=1)) / np.sqrt(len(data)))
    return float(2 * special.stdtr(len(data) - 1, -abs(statistic)))


def bootstrap_interval(values: Sequence[float], confidence: float = CONFIDENCE,
                       samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a mean, resampling the values (fixed seed: pages are reproducible)."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) < 2:
        return None
    means = np.random.default_rng(seed).choice(data, size=(samples, len(data)), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def mcnemar_p(stopped: int, started: int) -> float:
    """Exact two-sided McNemar test: of the items whose yes/no outcome changed, did more change one way?

    The two-sided binomial test at one half: twice the smaller tail, at most 1."""
    from scipy import special

    if stopped + started == 0:
        return 1.0
    return min(1.0, float(2 * special.bdtr(min(stopped, started), stopped + started, 0.5)))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over every p-value given (None stays None and is not counted)."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(present)):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[index] = running
    return adjusted


def contains_zero(interval: tuple[float, float] | None) -> bool:
    """Whether an interval cannot tell the sign of what it bounds (no interval: cannot either)."""
    return interval is None or interval[0] <= 0.0 <= interval[1]
