"""AUC, its DeLong variance and ROC points, checked against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from metrics.roc import RocPoints, auc_ci, delong_variance, roc_points


def _tied_sample(seed: int, n: int = 300) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Labels and scores rounded to one decimal, so many ties within and between classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    scores = np.round(rng.normal(size=n) + 0.8 * y, 1).astype(np.float64)
    return y, scores


def _slow_delong(y: NDArray[np.int64], scores: NDArray[np.float64]) -> tuple[float, float]:
    """DeLong, DeLong & Clarke-Pearson (1988) straight from the definitions, O(m·n).

    psi(X, Y) = 1 if X > Y, 1/2 if X = Y, 0 otherwise; V10(X_i) = mean_j psi(X_i, Y_j),
    V01(Y_j) = mean_i psi(X_i, Y_j); S10, S01 their sample variances (m - 1, n - 1);
    Var(AUC) = S10/m + S01/n.
    """
    x = [float(s) for s, label in zip(scores, y, strict=True) if label == 1]
    yy = [float(s) for s, label in zip(scores, y, strict=True) if label == 0]
    m, n = len(x), len(yy)
    psi = [[1.0 if xi > yj else 0.5 if xi == yj else 0.0 for yj in yy] for xi in x]
    v10 = [sum(row) / n for row in psi]
    v01 = [sum(psi[i][j] for i in range(m)) / m for j in range(n)]
    auc = sum(v10) / m
    s10 = sum((v - auc) ** 2 for v in v10) / (m - 1)
    s01 = sum((v - auc) ** 2 for v in v01) / (n - 1)
    return auc, s10 / m + s01 / n


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_sklearn_with_many_ties(seed: int) -> None:
    y, scores = _tied_sample(seed)
    auc, _, _ = auc_ci(y, scores)
    assert auc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_delong_variance_equals_the_structural_components_definition(seed: int) -> None:
    y, scores = _tied_sample(seed, n=150)
    slow_auc, slow_variance = _slow_delong(y, scores)
    assert delong_variance(y, scores) == pytest.approx(slow_variance, rel=1e-12, abs=1e-12)
    assert auc_ci(y, scores)[0] == pytest.approx(slow_auc, abs=1e-12)


def test_interval_is_auc_plus_minus_z_standard_errors() -> None:
    y, scores = _tied_sample(11)
    se = math.sqrt(_slow_delong(y, scores)[1])
    for confidence in (0.9, 0.95, 0.99):
        auc, low, high = auc_ci(y, scores, confidence)
        z = norm.ppf(0.5 + confidence / 2)
        assert low == pytest.approx(auc - z * se, abs=1e-12)
        assert high == pytest.approx(auc + z * se, abs=1e-12)


def test_hanley_mcneil_rating_example() -> None:
    # Hanley & McNeil (1982), Radiology 143:29, table I: 109 CT images rated 1-5 (5 =
    # definitely abnormal); 58 normal [33, 6, 6, 11, 2], 51 abnormal [3, 2, 2, 11, 33];
    # published area 0.893 (their SE formula differs from DeLong's: compare the area only).
    ratings = np.arange(1, 6)
    scores = np.r_[np.repeat(ratings, [33, 6, 6, 11, 2]), np.repeat(ratings, [3, 2, 2, 11, 33])]
    y = np.r_[np.zeros(58, dtype=int), np.ones(51, dtype=int)]
    auc, low, high = auc_ci(y, scores)
    assert round(auc, 3) == 0.893
    assert low < auc < high


def test_interval_is_clipped_to_the_unit_interval() -> None:
    y = np.array([0, 0, 1, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.25, 0.3, 0.8, 0.9, 0.95])
    auc, low, high = auc_ci(y, scores, confidence=0.99)
    assert auc == pytest.approx(11 / 12)
    assert high == 1.0
    assert 0.0 <= low < auc


def test_perfect_separation_has_zero_variance_and_a_degenerate_interval() -> None:
    y = [0, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.7, 0.9]
    assert delong_variance(y, scores) == 0.0
    assert auc_ci(y, scores) == (1.0, 1.0, 1.0)
    assert auc_ci(y, [-s for s in scores]) == (0.0, 0.0, 0.0)


def test_all_scores_tied_gives_one_half() -> None:
    assert auc_ci([0, 1, 0, 1, 1], [0.4] * 5) == (0.5, 0.5, 0.5)


def test_ties_between_classes_count_one_half() -> None:
    # Pairs (pos, neg): (0.5, 0.5) tie, (0.5, 0.2) win, (0.9, 0.5) win, (0.9, 0.2) win.
    assert auc_ci([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.2])[0] == pytest.approx(3.5 / 4)


@pytest.mark.parametrize(
    ("y", "scores"), [([], []), ([1, 1, 1], [0.1, 0.2, 0.3]), ([0, 0], [0.1, 0.2])]
)
def test_no_case_or_a_single_class_gives_nan(y: list[int], scores: list[float]) -> None:
    assert all(math.isnan(v) for v in auc_ci(y, scores))
    assert math.isnan(delong_variance(y, scores))


def test_a_class_of_one_gives_the_auc_without_interval() -> None:
    auc, low, high = auc_ci([1, 0, 0, 0], [0.5, 0.1, 0.7, 0.3])
    assert auc == pytest.approx(2 / 3)
    assert math.isnan(low) and math.isnan(high)


def test_boolean_labels_are_accepted() -> None:
    y, scores = _tied_sample(3, n=60)
    assert auc_ci(y.astype(bool), scores) == auc_ci(y, scores)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_scores_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        auc_ci([0, 1, 1], [0.2, bad, 0.3])
    with pytest.raises(ValueError, match="finite"):
        roc_points([0, 1, 1], [0.2, bad, 0.3])


def test_labels_other_than_zero_and_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="0/1"):
        auc_ci([0, 2, 1], [0.2, 0.4, 0.3])


def test_mismatched_lengths_and_bad_confidence_are_rejected() -> None:
    with pytest.raises(ValueError, match="length"):
        auc_ci([0, 1], [0.2, 0.4, 0.3])
    with pytest.raises(ValueError, match="confidence"):
        auc_ci([0, 1], [0.2, 0.4], confidence=1.0)


@pytest.mark.parametrize("seed", range(5))
def test_roc_points_equal_sklearn(seed: int) -> None:
    y, scores = _tied_sample(seed, n=120)
    fpr, tpr, thresholds = roc_curve(y, scores, drop_intermediate=False)
    points = roc_points(y, scores)
    assert isinstance(points, RocPoints)
    np.testing.assert_array_equal(points.fpr, fpr)
    np.testing.assert_array_equal(points.tpr, tpr)
    np.testing.assert_array_equal(points.thresholds, thresholds)
    assert points.thresholds[0] == math.inf
    assert (points.fpr[0], points.tpr[0]) == (0.0, 0.0)
    assert (points.fpr[-1], points.tpr[-1]) == (1.0, 1.0)


def test_roc_points_trapezoid_area_is_the_auc() -> None:
    y, scores = _tied_sample(7)
    points = roc_points(y, scores)
    area = float(np.trapezoid(points.tpr, points.fpr))
    assert area == pytest.approx(auc_ci(y, scores)[0], abs=1e-12)


def test_roc_points_of_a_single_class_have_nan_for_the_missing_rate() -> None:
    points = roc_points([1, 1, 1], [0.3, 0.1, 0.3])
    np.testing.assert_array_equal(points.tpr, [0.0, 2 / 3, 1.0])
    assert np.isnan(points.fpr).all()
    np.testing.assert_array_equal(points.thresholds, [math.inf, 0.3, 0.1])


def test_roc_points_without_cases_are_the_single_undefined_point() -> None:
    points = roc_points([], [])
    assert points.thresholds.tolist() == [math.inf]
    assert np.isnan(points.fpr).all() and np.isnan(points.tpr).all()


_cases = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=6)), min_size=0, max_size=40
)


@given(cases=_cases, confidence=st.sampled_from([0.8, 0.95, 0.999]))
def test_interval_contains_the_auc_and_lies_in_the_unit_interval(
    cases: list[tuple[bool, int]], confidence: float
) -> None:
    y = [label for label, _ in cases]
    scores = [float(score) for _, score in cases]
    auc, low, high = auc_ci(y, scores, confidence)
    n_pos = sum(y)
    if n_pos == 0 or n_pos == len(y):
        assert math.isnan(auc)
        return
    assert 0.0 <= auc <= 1.0
    if min(n_pos, len(y) - n_pos) < 2:
        assert math.isnan(low) and math.isnan(high)
        return
    assert 0.0 <= low <= auc <= high <= 1.0
