"""Trend tests against statsmodels' exact conditional Poisson test and scipy's Fisher test."""

from __future__ import annotations

import math
import warnings

import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.rates import test_poisson_2indep as poisson_2indep

from metrics.trend import compare_counts, compare_proportions


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0"),
    [
        (7, 1000, 3, 2000),
        (0, 500, 4, 2000),
        (12, 300.5, 30, 1200),
        (5, 100, 5, 100),
        (1, 10, 0, 90),
    ],
)
def test_counts_match_the_exact_conditional_poisson_test(
    k1: int, n1: float, k0: int, n0: float
) -> None:
    result = compare_counts(k1, n1, k0, n0)
    with warnings.catch_warnings():  # statsmodels divides by a zero count for its ratio
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = poisson_2indep(k1, n1, k0, n0, method="exact-cond", alternative="larger")
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.current_rate == pytest.approx(k1 / n1)
    assert result.previous_rate == pytest.approx(k0 / n0)


def test_a_published_example_doubles_its_rate_significantly() -> None:
    # 20 events in 1,000 exposure units against 20 in 4,000: rate ratio 4, p well below 1e-4.
    result = compare_counts(20, 1000, 20, 4000)
    assert result.ratio == pytest.approx(4.0)
    assert result.increased() and result.p_value < 1e-4


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0"), [(9, 40, 10, 160), (0, 30, 3, 90), (30, 30, 80, 100), (2, 50, 4, 100)]
)
def test_proportions_match_fisher_one_sided(k1: int, n1: int, k0: int, n0: int) -> None:
    result = compare_proportions(k1, n1, k0, n0)
    reference = fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater").pvalue
    assert result.p_value == pytest.approx(reference, rel=1e-12)


def test_nothing_to_compare_is_no_increase() -> None:
    empty = compare_counts(0, 0, 0, 0)
    assert math.isnan(empty.current_rate) and math.isnan(empty.ratio) and empty.p_value == 1.0
    none = compare_counts(0, 100, 0, 400)
    assert none.current_rate == 0 and math.isnan(none.ratio) and not none.increased()
    first = compare_counts(3, 100, 0, 400)
    assert math.isinf(first.ratio)
    no_trials = compare_proportions(0, 0, 5, 50)
    assert math.isnan(no_trials.current_rate) and no_trials.p_value == 1.0


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="events without exposure"):
        compare_counts(2, 0, 1, 10)
    with pytest.raises(ValueError, match=">= 0"):
        compare_counts(-1, 10, 1, 10)
    with pytest.raises(ValueError, match="0 <= events <= trials"):
        compare_proportions(11, 10, 1, 10)
