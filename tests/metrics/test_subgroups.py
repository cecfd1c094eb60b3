"""Subgroup comparisons: Newcombe's difference interval, Fisher's exact test, Holm and
Benjamini-Hochberg, against Newcombe (1998), statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from metrics import (
    SubgroupComparison,
    benjamini_hochberg,
    compare_subgroups,
    holm,
    newcombe_difference_ci,
    newcombe_difference_ci_array,
)


def test_newcombe_table_two_example_a() -> None:
    # Newcombe (1998), Stat Med 17:873, Table II (a): 56/70 - 48/80 = 0.2000,
    # method 10 (hybrid score) 95% interval 0.0524 to 0.3339.
    diff, low, high = newcombe_difference_ci(56, 70, 48, 80)
    assert (round(diff, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)


PAIRS = [(56, 70, 48, 80), (0, 10, 0, 20), (10, 10, 0, 20), (5, 5, 3, 3), (1, 30, 9, 11)]


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), PAIRS)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_newcombe_matches_statsmodels(
    k1: int, n1: int, k2: int, n2: int, confidence: float
) -> None:
    ref = confint_proportions_2indep(
        k1, n1, k2, n2, method="newcomb", compare="diff", alpha=1 - confidence
    )
    diff, low, high = newcombe_difference_ci(k1, n1, k2, n2, confidence)
    assert diff == pytest.approx(k1 / n1 - k2 / n2)
    assert (low, high) == pytest.approx(ref, abs=1e-12)


def test_newcombe_empty_group_is_nan() -> None:
    assert all(math.isnan(x) for x in newcombe_difference_ci(0, 0, 3, 10))
    assert all(math.isnan(x) for x in newcombe_difference_ci(3, 10, 0, 0))


def test_newcombe_array_matches_scalar() -> None:
    k1, n1, k2, n2 = (np.array(c) for c in zip(*PAIRS, (0, 0, 1, 2), strict=True))
    diff, low, high = newcombe_difference_ci_array(k1, n1, k2, n2)
    for i, pair in enumerate([*PAIRS, (0, 0, 1, 2)]):
        np.testing.assert_array_equal([diff[i], low[i], high[i]], newcombe_difference_ci(*pair))


def test_newcombe_rejects_invalid_counts() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.n"):
        newcombe_difference_ci(5, 4, 1, 2)


P_SETS = [
    [0.01, 0.04, 0.03, 0.5],
    [0.001, 0.2, 0.2, 0.049, 0.9, 1.0, 0.0],
    [0.3],
    [0.02, 0.02, 0.02],
]


@pytest.mark.parametrize("p", P_SETS)
def test_adjustments_match_statsmodels(p: list[float]) -> None:
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(
        benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12
    )


def test_adjustments_ignore_nan_entries() -> None:
    p = [0.01, math.nan, 0.04, 0.03, math.nan]
    tested = [0.01, 0.04, 0.03]
    for adjust, sm_name in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        adjusted = adjust(p)
        assert np.isnan(adjusted[[1, 4]]).all()
        np.testing.assert_allclose(adjusted[[0, 2, 3]], multipletests(tested, method=sm_name)[1])


def test_adjustments_are_capped_and_monotone() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 50)
    for adjust in (holm, benjamini_hochberg):
        adjusted = adjust(p)
        assert (adjusted <= 1).all() and (adjusted >= p).all()
        order = np.argsort(p)
        assert (np.diff(adjusted[order]) >= 0).all()


def test_adjustments_edge_cases() -> None:
    assert holm([]).shape == (0,)
    assert np.isnan(benjamini_hochberg([math.nan, math.nan])).all()
    with pytest.raises(ValueError, match="within"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        benjamini_hochberg([[0.1, 0.2]])


SUBGROUPS = [("site A", 40, 50), ("site B", 70, 100), ("site C", 18, 20), ("site D", 5, 12)]


def test_each_subgroup_against_the_rest() -> None:
    result = compare_subgroups(SUBGROUPS)
    assert [r.label for r in result] == [s[0] for s in SUBGROUPS]
    total_k, total_n = sum(s[1] for s in SUBGROUPS), sum(s[2] for s in SUBGROUPS)
    for r, (_, k, n) in zip(result, SUBGROUPS, strict=True):
        rest_k, rest_n = total_k - k, total_n - n
        assert (r.k, r.n, r.rest_k, r.rest_n) == (k, n, rest_k, rest_n)
        assert r.rate == k / n and r.rest_rate == rest_k / rest_n
        assert (r.difference, r.low, r.high) == newcombe_difference_ci(k, n, rest_k, rest_n)
        table = [[k, n - k], [rest_k, rest_n - rest_k]]
        assert r.p_value == pytest.approx(fisher_exact(table).pvalue, rel=1e-12)
    p = [r.p_value for r in result]
    np.testing.assert_allclose([r.p_holm for r in result], multipletests(p, method="holm")[1])
    np.testing.assert_allclose([r.p_bh for r in result], multipletests(p, method="fdr_bh")[1])


def test_untested_subgroups_are_nan_and_not_counted() -> None:
    result = compare_subgroups([*SUBGROUPS, ("site E", 0, 0)])
    empty = result[-1]
    assert empty == SubgroupComparison(
        label="site E",
        k=0,
        n=0,
        rate=empty.rate,
        rest_k=133,
        rest_n=182,
        rest_rate=133 / 182,
        difference=empty.difference,
        low=empty.low,
        high=empty.high,
        p_value=empty.p_value,
        p_holm=empty.p_holm,
        p_bh=empty.p_bh,
    )
    for value in (empty.rate, empty.difference, empty.low, empty.high, empty.p_value):
        assert math.isnan(value)
    assert math.isnan(empty.p_holm) and math.isnan(empty.p_bh)
    # The four tested subgroups are adjusted as a family of four, as without site E.
    without = compare_subgroups(SUBGROUPS)
    assert [r.p_holm for r in result[:-1]] == pytest.approx([r.p_holm for r in without])


def test_single_subgroup_has_no_rest() -> None:
    (only,) = compare_subgroups([("all", 5, 10)])
    assert only.rest_n == 0 and math.isnan(only.rest_rate) and math.isnan(only.p_value)


def test_no_subgroups() -> None:
    assert compare_subgroups([]) == []


def test_all_or_nothing_subgroups() -> None:
    result = compare_subgroups([("a", 0, 10), ("b", 10, 10)])
    assert result[0].difference == -1.0 and result[0].low >= -1.0
    assert result[1].difference == 1.0 and result[1].high <= 1.0
    assert result[0].p_value == pytest.approx(fisher_exact([[0, 10], [10, 0]]).pvalue)


def test_invalid_subgroup_counts() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.n"):
        compare_subgroups([("a", 11, 10), ("b", 1, 2)])
