"""Wilson intervals, checked against scipy's independent implementation."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from metrics import ConfusionCounts, diagnostic_rates, proportion_ci


@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (81, 263), (500, 1000), (1, 10_000)]
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = proportion_ci(k, n, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_published_worked_example() -> None:
    # Newcombe (1998), Stat Med 17:857, table I: 81/263 -> 0.2553 to 0.3662 (Wilson score).
    low, high = proportion_ci(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_empty_denominator_gives_nan_interval() -> None:
    low, high = proportion_ci(0, 0)
    assert math.isnan(low) and math.isnan(high)


def test_bounds_are_exact_at_the_extremes() -> None:
    assert proportion_ci(0, 7)[0] == 0.0
    assert proportion_ci(7, 7)[1] == 1.0


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_counts_outside_range_are_rejected(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        proportion_ci(k, n)


def test_unknown_method_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="wilson"):
        proportion_ci(1, 2, method="wald")


def test_rates_follow_their_definitions() -> None:
    rates = diagnostic_rates(ConfusionCounts(tp=45, fp=10, tn=90, fn=5))
    assert rates["sensitivity"].value == pytest.approx(45 / 50)
    assert rates["specificity"].value == pytest.approx(90 / 100)
    assert rates["ppv"].value == pytest.approx(45 / 55)
    assert rates["npv"].value == pytest.approx(90 / 95)
    assert (rates["sensitivity"].low, rates["sensitivity"].high) == proportion_ci(45, 50)


def test_rates_without_denominator_are_nan_not_errors() -> None:
    rates = diagnostic_rates(ConfusionCounts(tp=0, fp=0, tn=12, fn=0))
    assert math.isnan(rates["sensitivity"].value)
    assert math.isnan(rates["ppv"].value)
    assert rates["specificity"].value == 1.0
    empty = diagnostic_rates(ConfusionCounts(0, 0, 0, 0))
    assert all(math.isnan(r.value) for r in empty.values())


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="tp"):
        ConfusionCounts(tp=-1, fp=0, tn=0, fn=0)
