import numpy as np
import pytest
from scipy import stats

from generator.analyses.statistics import correlation, mean_with_ci, rate_with_ci


@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 2.5], [10.0, -3.0, 7.0, 2.0, 2.0]])
def test_mean_with_ci_matches_the_t_interval(values):
    out = mean_with_ci(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert out.n == len(values)
    assert out.mean == pytest.approx(np.mean(values))
    assert (out.ci_low, out.ci_high) == pytest.approx((low, high))


def test_degenerate_inputs_give_none_not_nan():
    assert mean_with_ci([]).mean is None
    assert mean_with_ci([3.0]).ci_low is None
    assert correlation([1, 2], [3, 4]).pearson_r is None
    assert correlation([1, 1, 1], [1, 2, 3]).pearson_r is None
    assert rate_with_ci(0, 0).rate is None


def test_correlation_of_a_known_line_and_rates():
    x = np.arange(10.0)
    out = correlation(x, 2 * x + 1)
    assert out.pearson_r == pytest.approx(1.0) and out.spearman_rho == pytest.approx(1.0)
    assert (out.slope, out.intercept) == pytest.approx((2.0, 1.0))
    rate = rate_with_ci(8, 10)
    assert rate.rate == 0.8 and rate.ci_low < 0.8 < rate.ci_high
