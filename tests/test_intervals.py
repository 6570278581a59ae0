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


def test_every_formula_equals_scipy_stats():
    """Written on scipy.special (light to import); each equals scipy.stats' own to rounding."""
    from scipy import stats

    from generator.intervals import t_interval_from_moments

    for trials in (1, 2, 7, 16, 100, 1000):
        for successes in sorted({0, 1, trials // 3, trials // 2, trials - 1, trials}):
            for confidence in (0.9, 0.95, 0.99):
                ours = wilson(successes, trials, confidence)
                theirs = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence,
                                                                          method="wilson")
                assert ours == pytest.approx((theirs.low, theirs.high), abs=1e-12)
    for changed in range(0, 40):
        for smaller in range(0, changed + 1):
            expected = stats.binomtest(min(smaller, changed - smaller), changed, 0.5).pvalue if changed else 1.0
            assert mcnemar_p(smaller, changed - smaller) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 500):
        data = rng.normal(0.3, 2.0, size=n)
        low, high = stats.t.interval(0.95, n - 1, loc=data.mean(), scale=stats.sem(data))
        assert t_interval(data) == pytest.approx((low, high), rel=1e-10)
        assert t_interval_from_moments(float(data.mean()), float(data.std()), n) == pytest.approx((low, high), rel=1e-10)
        assert t_test_p(data) == pytest.approx(stats.ttest_1samp(data, 0.0).pvalue, rel=1e-9)


def test_a_rate_interval_does_not_import_scipy():
    """Every page's accuracy sentence has a Wilson interval: its normal quantile comes from the standard library,
    so a build whose pages print only rates does not pay for importing ``scipy.special``."""
    import subprocess
    import sys

    code = ("import sys; from generator.intervals import wilson; wilson(3, 10); "
            "print('scipy.special' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
