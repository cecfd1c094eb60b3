"""Binomial proportion intervals, checked against scipy, statsmodels and Newcombe (1998)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from statsmodels.stats.proportion import proportion_confint

from metrics import (
    PROPORTION_CI_METHODS,
    ConfusionCounts,
    diagnostic_rates,
    proportion_ci,
    proportion_ci_array,
)


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


# --- All methods: statsmodels as the independent reference ----------------------------

STATSMODELS_NAME = {
    "wilson": "wilson",
    "clopper_pearson": "beta",
    "jeffreys": "jeffreys",
    "agresti_coull": "agresti_coull",
}
GRID = [(0, 1), (1, 1), (0, 20), (20, 20), (1, 29), (3, 10), (15, 148), (81, 263), (999, 1000)]


@pytest.mark.parametrize("method", sorted(STATSMODELS_NAME))
@pytest.mark.parametrize(("k", "n"), GRID)
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_methods_match_statsmodels(method: str, k: int, n: int, confidence: float) -> None:
    ref_low, ref_high = proportion_confint(
        k, n, alpha=1 - confidence, method=STATSMODELS_NAME[method]
    )
    low, high = proportion_ci(k, n, confidence, method)
    if method == "jeffreys" and k == 0:
        # Brown, Cai & DasGupta (2001): low is 0 at k = 0; statsmodels keeps the quantile.
        ref_low = 0.0
    if method == "jeffreys" and k == n:
        ref_high = 1.0
    assert low == pytest.approx(ref_low, abs=1e-10)
    assert high == pytest.approx(ref_high, abs=1e-10)


# Newcombe (1998), Stat Med 17:857, Table I: Wilson score (method 3) and
# continuity-corrected Wilson (method 4), 95% intervals to four decimals.
NEWCOMBE_TABLE_I = [
    (81, 263, (0.2553, 0.3662), (0.2535, 0.3682)),
    (15, 148, (0.0624, 0.1605), (0.0598, 0.1644)),
    (0, 20, (0.0, 0.1611), (0.0, 0.2005)),
    (1, 29, (0.0061, 0.1718), (0.0018, 0.1963)),
]


@pytest.mark.parametrize(("k", "n", "wilson", "wilson_cc"), NEWCOMBE_TABLE_I)
def test_newcombe_table_one(
    k: int, n: int, wilson: tuple[float, float], wilson_cc: tuple[float, float]
) -> None:
    assert tuple(round(x, 4) for x in proportion_ci(k, n, method="wilson")) == wilson
    assert tuple(round(x, 4) for x in proportion_ci(k, n, method="wilson_cc")) == wilson_cc


def _wilson_cc_reference(k: int, n: int, z: float) -> tuple[float, float]:
    """Newcombe (1998) method 4, written out independently from the paper's formulas."""
    p, q = k / n, 1 - k / n
    low = (2 * n * p + z**2 - 1 - z * math.sqrt(z**2 - 2 - 1 / n + 4 * p * (n * q + 1))) / (
        2 * (n + z**2)
    )
    high = (2 * n * p + z**2 + 1 + z * math.sqrt(z**2 + 2 - 1 / n + 4 * p * (n * q - 1))) / (
        2 * (n + z**2)
    )
    return (0.0 if k == 0 else low, 1.0 if k == n else high)


@pytest.mark.parametrize(("k", "n"), [(1, 2), (1, 10), (5, 10), (9, 10), (81, 263), (1, 5000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_cc_matches_closed_form(k: int, n: int, confidence: float) -> None:
    z = float(norm.ppf(0.5 + confidence / 2))
    expected = _wilson_cc_reference(k, n, z)
    assert proportion_ci(k, n, confidence, "wilson_cc") == pytest.approx(expected, abs=1e-12)


def test_continuity_correction_widens_wilson() -> None:
    for k, n in GRID:
        w_low, w_high = proportion_ci(k, n, method="wilson")
        c_low, c_high = proportion_ci(k, n, method="wilson_cc")
        assert c_low <= w_low and c_high >= w_high


@pytest.mark.parametrize("method", PROPORTION_CI_METHODS)
def test_every_method_handles_the_edges(method: str) -> None:
    assert all(math.isnan(x) for x in proportion_ci(0, 0, method=method))
    assert proportion_ci(0, 12, method=method)[0] == 0.0
    assert proportion_ci(12, 12, method=method)[1] == 1.0
    low, high = proportion_ci(1, 1, method=method)
    assert 0.0 <= low <= high == 1.0


def test_method_list() -> None:
    assert PROPORTION_CI_METHODS == (
        "wilson",
        "wilson_cc",
        "clopper_pearson",
        "jeffreys",
        "agresti_coull",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 1.5, "n": 3}, "whole-number"),
        ({"k": 1, "n": 2.5}, "whole-number"),
        ({"k": math.nan, "n": 3}, "whole-number"),
        ({"k": 1, "n": 3, "confidence": 0.0}, "confidence"),
        ({"k": 1, "n": 3, "confidence": 1.0}, "confidence"),
        ({"k": 1, "n": 3, "confidence": 95}, "confidence"),
        ({"k": 1, "n": 3, "method": "exact"}, "clopper_pearson"),
    ],
)
def test_invalid_arguments_say_what_to_fix(kwargs: dict[str, float | str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proportion_ci(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        proportion_ci_array(**kwargs)  # type: ignore[arg-type]


def test_whole_numbers_stored_as_floats_are_accepted() -> None:
    assert proportion_ci(3.0, 10.0) == proportion_ci(3, 10)  # type: ignore[arg-type]


# --- Vectorised form ---------------------------------------------------------------


@pytest.mark.parametrize("method", PROPORTION_CI_METHODS)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_array_matches_scalar(method: str, confidence: float) -> None:
    n = np.repeat(np.arange(0, 41), np.arange(0, 41) + 1)
    k = np.concatenate([np.arange(0, m + 1) for m in range(0, 41)])
    low, high = proportion_ci_array(k, n, confidence, method)
    assert low.dtype == np.float64 and high.dtype == np.float64
    assert low.shape == high.shape == k.shape
    for i in range(k.size):
        expected = proportion_ci(int(k[i]), int(n[i]), confidence, method)
        np.testing.assert_array_equal([low[i], high[i]], expected)


def test_array_broadcasts_and_marks_empty_cells() -> None:
    low, high = proportion_ci_array([[0], [1], [2]], [2, 4, 5])
    assert low.shape == (3, 3)
    low, high = proportion_ci_array(np.array([0, 3, 0]), np.array([0, 10, 4]))
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert (low[1], high[1]) == proportion_ci(3, 10)
    assert low[2] == 0.0


def test_array_validation_reports_the_offending_cell() -> None:
    with pytest.raises(ValueError, match=r"k=7, n=5"):
        proportion_ci_array([1, 7], [5, 5])
    with pytest.raises(ValueError, match="n must be >= 0"):
        proportion_ci_array([0, 0], [3, -1])


def test_array_is_vectorised() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(0, 500, 100_000)
    k = rng.integers(0, n + 1)
    start = time.perf_counter()
    low, _ = proportion_ci_array(k, n)
    # A per-element Python loop takes seconds here; the vectorised form takes ms.
    assert time.perf_counter() - start < 1.0
    assert np.isnan(low).sum() == (n == 0).sum()
