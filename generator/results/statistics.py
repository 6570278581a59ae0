"""Records of the statistics that several analyses report: means, rates and correlations with intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from generator.intervals import t_interval
from generator.store.result_types import value


@dataclass(frozen=True)
class MeanWithCI:
    """A mean and its t-distribution confidence interval (null where n < 2)."""

    n: int = value("how many values")
    mean: float | None = value("their mean (null when n = 0)")
    ci_low: float | None = value("lower end of the 95% interval")
    ci_high: float | None = value("upper end of the 95% interval")

    @classmethod
    def of(cls, values: Sequence[float]) -> "MeanWithCI":
        """The mean of ``values`` with its t interval (no interval below two values)."""
        data = np.asarray([float(v) for v in values], dtype=np.float64)
        if len(data) == 0:
            return cls(0, None, None, None)
        interval = t_interval(data)
        return cls(len(data), float(data.mean()), *(interval or (None, None)))


@dataclass(frozen=True)
class RateWithCI:
    """A proportion k/n with its Wilson score interval."""

    k: int = value("successes")
    n: int = value("trials")
    rate: float | None = value("k / n (null when n = 0)")
    ci_low: float | None = value("lower end of the 95% Wilson interval")
    ci_high: float | None = value("upper end of the 95% Wilson interval")


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation with p-values and a least-squares line; null where undefined."""

    n: int = value("how many (x, y) pairs")
    pearson_r: float | None = value("Pearson's r")
    pearson_p: float | None = value("its two-sided p-value")
    spearman_rho: float | None = value("Spearman's rho")
    spearman_p: float | None = value("its two-sided p-value")
    slope: float | None = value("least-squares slope of y on x")
    intercept: float | None = value("least-squares intercept")
