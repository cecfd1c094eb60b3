"""compare_to_claim: exact binomial p-values against scipy and a hand computation."""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy.stats import binom, binomtest

from metrics import CLAIM_ALTERNATIVES, ClaimComparison, compare_to_claim, proportion_ci


@pytest.mark.parametrize(("k", "n"), [(0, 10), (7, 10), (10, 10), (80, 100), (180, 200)])
@pytest.mark.parametrize("claimed", [0.5, 0.9, 0.95, 1.0])
@pytest.mark.parametrize("alternative", CLAIM_ALTERNATIVES)
def test_p_value_matches_scipy(k: int, n: int, claimed: float, alternative: str) -> None:
    result = compare_to_claim(k, n, claimed, alternative)
    expected = binomtest(k, n, claimed, alternative=alternative).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("k", "n", "claimed"), [(80, 100, 0.9), (3, 10, 0.5), (50, 50, 0.97)])
def test_one_sided_p_values_by_hand(k: int, n: int, claimed: float) -> None:
    # "less": P(X <= k) under Binomial(n, claimed); "greater": P(X >= k).
    less = compare_to_claim(k, n, claimed, "less").p_value
    greater = compare_to_claim(k, n, claimed, "greater").p_value
    assert less == pytest.approx(binom.cdf(k, n, claimed), rel=1e-10)
    assert greater == pytest.approx(binom.sf(k - 1, n, claimed), rel=1e-10)


def test_worked_example_below_claim() -> None:
    # Claimed sensitivity 0.90, observed 80/100: Wilson interval 0.711 to 0.867 is
    # entirely below the claim; P(X <= 80 | n=100, p=0.9) is about 0.002.
    result = compare_to_claim(80, 100, 0.9)
    assert result == ClaimComparison(
        estimate=0.8,
        low=result.low,
        high=result.high,
        claimed=0.9,
        p_value=result.p_value,
        below_claim=True,
        alternative="less",
    )
    assert (result.low, result.high) == proportion_ci(80, 100)
    assert round(result.high, 3) == 0.867
    assert result.p_value == pytest.approx(0.00198, abs=1e-5)


def test_interval_reaching_the_claim_is_not_below_it() -> None:
    result = compare_to_claim(88, 100, 0.9)
    assert result.high >= 0.9 and not result.below_claim


def test_method_and_confidence_are_used_for_the_interval() -> None:
    result = compare_to_claim(45, 50, 0.95, confidence=0.9, method="clopper_pearson")
    assert (result.low, result.high) == proportion_ci(45, 50, 0.9, "clopper_pearson")


def test_no_cases_gives_nan_and_not_below() -> None:
    result = compare_to_claim(0, 0, 0.9)
    assert all(math.isnan(x) for x in (result.estimate, result.low, result.high, result.p_value))
    assert result.below_claim is False


def test_edges_k_zero_and_k_equal_n() -> None:
    none = compare_to_claim(0, 20, 0.9)
    assert none.estimate == 0.0 and none.low == 0.0 and none.below_claim
    assert none.p_value == pytest.approx(0.1**20)
    every = compare_to_claim(20, 20, 0.9)
    assert every.estimate == 1.0 and every.high == 1.0 and not every.below_claim
    assert every.p_value == 1.0


def test_result_is_frozen() -> None:
    result = compare_to_claim(5, 10, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.claimed = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("claimed", [0.0, -0.1, 1.01, 90.0])
def test_claim_must_be_a_proportion(claimed: float) -> None:
    with pytest.raises(ValueError, match="claimed must be"):
        compare_to_claim(5, 10, claimed)


def test_invalid_alternative_and_counts() -> None:
    with pytest.raises(ValueError, match="two-sided"):
        compare_to_claim(5, 10, 0.9, alternative="lower")
    with pytest.raises(ValueError, match=r"within 0\.\.n"):
        compare_to_claim(11, 10, 0.9)
