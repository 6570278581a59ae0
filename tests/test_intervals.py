"""Intervals and tests on cases whose answer is known by hand or from a textbook."""

import numpy as np
import pytest

from generator.intervals import bootstrap_interval, contains_zero, holm, mcnemar_p, t_interval, t_test_p, wilson


def test_wilson_matches_the_closed_form():
    low, high = wilson(5, 16)
    z, n, p = 1.959964, 16, 5 / 16
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert low == pytest.approx(centre - half, abs=1e-5) and high == pytest.approx(centre + half, abs=1e-5)
    assert round(100 * low) == 14 and round(100 * high) == 56  # layer 1's 5 of 16 flips in the issue
    assert wilson(0, 0) is None


def test_holm_steps_down_and_keeps_order():
    assert holm([0.01, 0.04, None, 0.03]) == [pytest.approx(0.03), pytest.approx(0.06), None, pytest.approx(0.06)]
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_mcnemar_is_the_exact_sign_test_on_changed_items():
    assert mcnemar_p(6, 0) == pytest.approx(2 * 0.5 ** 6)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0


def test_means_intervals_and_zero():
    assert t_interval([1.0]) is None and t_interval([2.0, 2.0]) == (2.0, 2.0)
    low, high = t_interval([1.0, 2.0, 3.0])
    assert low == pytest.approx(2 - 4.302653 * 1 / np.sqrt(3), abs=1e-5)
    assert t_test_p([1.0, 2.0, 3.0]) == pytest.approx(0.0742, abs=1e-3)
    assert contains_zero((low, high)) and not contains_zero((0.1, 0.2)) and contains_zero(None)
    interval = bootstrap_interval([1.0, 2.0, 3.0, 4.0])
    assert interval == bootstrap_interval([1.0, 2.0, 3.0, 4.0])  # fixed seed: pages are reproducible
    assert 1.0 <= interval[0] < 2.5 < interval[1] <= 4.0
