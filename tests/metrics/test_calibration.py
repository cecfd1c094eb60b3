"""Calibration metrics, checked against scikit-learn, statsmodels and worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.typing import NDArray
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from metrics.calibration import (
    CalibrationFit,
    brier_from_sums,
    brier_score,
    calibration_bins,
    calibration_intercept_slope,
    ece_from_bins,
    expected_calibration_error,
)


def _miscalibrated(seed: int, n: int = 800) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Predictions p whose true risk is expit(0.3 + 0.7·logit(p)): overconfident, too low."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.5, 2.5, n)
    y = (rng.random(n) < expit(0.3 + 0.7 * logit(p))).astype(np.int64)
    return y, p


# --- Brier score ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_brier_equals_sklearn(seed: int) -> None:
    y, p = _miscalibrated(seed)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-15)


def test_brier_worked_example() -> None:
    # (0.1-0)² + (0.8-1)² + (0.6-0)² + (1-1)² = 0.01 + 0.04 + 0.36 + 0 = 0.41, / 4
    assert brier_score([0, 1, 0, 1], [0.1, 0.8, 0.6, 1.0]) == pytest.approx(0.1025)


def test_brier_of_nothing_is_nan() -> None:
    assert math.isnan(brier_score([], []))
    assert math.isnan(brier_from_sums(0, 0.0, 0.0, 0.0, 0))


@pytest.mark.parametrize("seed", range(3))
def test_brier_from_running_sums_equals_brier_score(seed: int) -> None:
    y, p = _miscalibrated(seed)
    from_sums = brier_from_sums(
        n=y.size,
        sum_p=float(p.sum()),
        sum_p2=float((p**2).sum()),
        sum_p_pos=float(p[y == 1].sum()),
        n_pos=int(y.sum()),
    )
    assert from_sums == pytest.approx(brier_score(y, p), abs=1e-12)


def test_brier_from_sums_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="n_pos"):
        brier_from_sums(3, 1.0, 0.5, 0.5, 4)
    with pytest.raises(ValueError, match="sum_p_pos"):
        brier_from_sums(3, 1.0, 0.5, 1.5, 2)


# --- input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 2], [0.1, 0.2], "0/1"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([0, 1], [-0.1, 0.2], r"\[0, 1\]"),
        ([0, 1], [0.1, math.nan], "NaN"),
        ([0, 1, 1], [0.1, 0.2], "length"),
    ],
)
def test_invalid_inputs_are_rejected(y: list[int], p: list[float], message: str) -> None:
    for function in (brier_score, expected_calibration_error, calibration_intercept_slope):
        with pytest.raises(ValueError, match=message):
            function(y, p)


# --- expected calibration error ------------------------------------------------------------


def test_ece_hand_computed_example() -> None:
    # 5 bins of width 0.2. Bin [0, 0.2): p 0.1, 0.1, y 0, 1 -> |0.5 - 0.1| = 0.4, weight 2/5.
    # Bin [0.6, 0.8): p 0.7, y 1 -> |1 - 0.7| = 0.3, weight 1/5.
    # Bin [0.8, 1]: p 0.9, 1.0 (1.0 falls in the last bin), y 1, 1 -> |1 - 0.95| = 0.05, 2/5.
    # ECE = 0.4·0.4 + 0.2·0.3 + 0.4·0.05 = 0.16 + 0.06 + 0.02 = 0.24
    y = [0, 1, 1, 1, 1]
    p = [0.1, 0.1, 0.7, 0.9, 1.0]
    assert expected_calibration_error(y, p, n_bins=5) == pytest.approx(0.24, abs=1e-12)
    bins = calibration_bins(y, p, n_bins=5)
    assert bins.counts.tolist() == [2, 0, 0, 1, 2]
    assert bins.positive_counts.tolist() == [1, 0, 0, 1, 2]
    np.testing.assert_allclose(bins.score_sums, [0.2, 0.0, 0.0, 0.7, 1.9])


def test_probability_one_falls_in_the_last_bin_and_zero_in_the_first() -> None:
    bins = calibration_bins([1, 0], [1.0, 0.0], n_bins=10)
    assert bins.counts[-1] == 1 and bins.counts[0] == 1


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
@pytest.mark.parametrize("seed", range(3))
def test_ece_equals_an_implementation_on_sklearn_calibration_curve(seed: int, n_bins: int) -> None:
    y, p = _miscalibrated(seed)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts, _ = np.histogram(p, bins=n_bins, range=(0.0, 1.0))
    weights = counts[counts > 0] / y.size
    expected = float(np.sum(weights * np.abs(prob_true - prob_pred)))
    assert expected_calibration_error(y, p, n_bins) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_ece_from_bin_statistics_equals_ece_on_the_cases(seed: int) -> None:
    y, p = _miscalibrated(seed)
    edges = np.linspace(0.0, 1.0, 11)
    counts, _ = np.histogram(p, bins=edges)
    score_sums, _ = np.histogram(p, bins=edges, weights=p)
    positives, _ = np.histogram(p[y == 1], bins=edges)
    assert ece_from_bins(counts, score_sums, positives) == pytest.approx(
        expected_calibration_error(y, p, 10), abs=1e-12
    )


def test_perfect_calibration_in_every_bin_gives_zero_ece() -> None:
    # Each bin's mean prediction equals its observed rate: 0.25 with 1 of 4, 0.75 with 3 of 4.
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.25] * 4 + [0.75] * 4
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-15)


def test_ece_of_nothing_is_nan() -> None:
    assert math.isnan(expected_calibration_error([], []))
    assert math.isnan(ece_from_bins([0, 0], [0.0, 0.0], [0, 0]))


def test_ece_from_bins_rejects_impossible_statistics() -> None:
    with pytest.raises(ValueError, match="positive_counts"):
        ece_from_bins([2, 1], [0.3, 0.5], [3, 0])
    with pytest.raises(ValueError, match="score_sums"):
        ece_from_bins([2, 1], [2.5, 0.5], [1, 0])
    with pytest.raises(ValueError, match="one length"):
        ece_from_bins([2, 1], [0.5], [1, 0])
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0, 1], [0.2, 0.3], n_bins=0)


# --- calibration intercept and slope --------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_slope_equals_statsmodels_logistic_recalibration(seed: int) -> None:
    y, p = _miscalibrated(seed)
    lp = logit(p)
    reference = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
    fit = calibration_intercept_slope(y, p)
    assert fit.slope == pytest.approx(reference.params[1], abs=1e-6)
    assert fit.slope_se == pytest.approx(reference.bse[1], abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_intercept_equals_statsmodels_calibration_in_the_large(seed: int) -> None:
    y, p = _miscalibrated(seed)
    reference = sm.GLM(y, np.ones(y.size), family=sm.families.Binomial(), offset=logit(p)).fit(
        tol=1e-12
    )
    fit = calibration_intercept_slope(y, p)
    assert fit.intercept == pytest.approx(reference.params[0], abs=1e-6)
    assert fit.intercept_se == pytest.approx(reference.bse[0], abs=1e-6)


def test_perfectly_calibrated_predictions_give_intercept_zero_and_slope_one() -> None:
    rng = np.random.default_rng(20240601)
    p = rng.uniform(0.02, 0.98, 50_000)
    y = (rng.random(p.size) < p).astype(int)
    fit = calibration_intercept_slope(y, p)
    assert isinstance(fit, CalibrationFit)
    assert fit.intercept == pytest.approx(0.0, abs=0.05)
    assert fit.slope == pytest.approx(1.0, abs=0.05)


def test_overconfident_predictions_have_a_slope_below_one() -> None:
    y, p = _miscalibrated(0, n=20_000)
    fit = calibration_intercept_slope(y, p)
    assert fit.slope == pytest.approx(0.7, abs=0.05)


def test_probabilities_of_zero_and_one_are_clipped_not_infinite() -> None:
    y = [0, 0, 1, 1, 0, 1]
    p = [0.0, 0.3, 0.2, 1.0, 0.6, 0.7]
    fit = calibration_intercept_slope(y, p)
    lp = logit(np.clip(p, 1e-12, 1 - 1e-12))
    reference = sm.GLM(np.array(y), sm.add_constant(lp), family=sm.families.Binomial()).fit(
        tol=1e-12
    )
    assert math.isfinite(fit.slope) and math.isfinite(fit.intercept)
    assert fit.slope == pytest.approx(reference.params[1], abs=1e-6)


@pytest.mark.parametrize(
    ("y", "p"),
    [([], []), ([1], [0.4]), ([1, 1, 1], [0.2, 0.5, 0.9]), ([0, 0], [0.2, 0.5])],
)
def test_fewer_than_two_cases_or_a_single_class_is_not_estimable(
    y: list[int], p: list[float]
) -> None:
    fit = calibration_intercept_slope(y, p)
    assert all(math.isnan(v) for v in fit)


def test_equal_predictions_leave_the_slope_undefined_but_not_the_intercept() -> None:
    fit = calibration_intercept_slope([0, 1, 0, 0], [0.5] * 4)
    assert math.isnan(fit.slope) and math.isnan(fit.slope_se)
    # logit(1/4) - logit(1/2): the observed log-odds minus the predicted ones.
    assert fit.intercept == pytest.approx(math.log(1 / 3), abs=1e-9)


def test_separated_classes_leave_the_slope_undefined() -> None:
    fit = calibration_intercept_slope([0, 0, 1, 1], [0.1, 0.3, 0.3, 0.8])
    assert math.isnan(fit.slope)
    assert math.isfinite(fit.intercept)
