"""Begg-Greenes correction for partial verification, checked against independent computations.

No published worked example is used: the counts of the classic hepatic scintigraphy
data could not be confirmed here. The estimates are checked against inverse-probability
weighting written case by case, and the interval's standard error against a numerical
delta method over the full six-cell multinomial.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import norm

from metrics.verification import VerificationCorrected, begg_greenes

Counts = tuple[int, int, int, int, int, int]

# (tp, fp, tn, fn, unverified_positive, unverified_negative): test-positives verified at
# 90 %, test-negatives at 20 % or less, as when only AI-flagged exams are usually read.
SCENARIOS: list[Counts] = [
    (80, 40, 50, 10, 13, 240),
    (45, 5, 30, 3, 2, 400),
    (12, 30, 200, 6, 20, 1500),
    (300, 120, 90, 40, 60, 700),
]


def _ipw(tp: int, fp: int, tn: int, fn: int, u_pos: int, u_neg: int) -> tuple[float, float]:
    """Sensitivity and specificity of verified exams weighted by 1 / P(verified | test)."""
    test_positive = np.r_[np.ones(tp + fp + u_pos, bool), np.zeros(tn + fn + u_neg, bool)]
    truth = np.r_[
        np.ones(tp), np.zeros(fp), np.full(u_pos, np.nan),
        np.zeros(tn), np.ones(fn), np.full(u_neg, np.nan),
    ]  # fmt: skip
    verified = ~np.isnan(truth)
    rate = np.where(test_positive, verified[test_positive].mean(), verified[~test_positive].mean())
    w = np.where(verified, 1.0 / rate, 0.0)
    diseased = verified & (truth == 1)
    healthy = verified & (truth == 0)
    sens = np.sum(w * (diseased & test_positive)) / np.sum(w * diseased)
    spec = np.sum(w * (healthy & ~test_positive)) / np.sum(w * healthy)
    return float(sens), float(spec)


def _estimator(pi: NDArray[np.float64]) -> tuple[float, float]:
    """Begg-Greenes estimates as functions of the six cell probabilities, by Bayes' rule."""
    tp, fp, tn, fn, u_pos, u_neg = pi
    p_pos = tp + fp + u_pos  # P(T+)
    p_neg = tn + fn + u_neg
    d_pos = tp / (tp + fp)  # P(D+ | T+), from the verified
    d_neg = fn / (fn + tn)  # P(D+ | T-)
    sens = p_pos * d_pos / (p_pos * d_pos + p_neg * d_neg)
    spec = p_neg * (1 - d_neg) / (p_neg * (1 - d_neg) + p_pos * (1 - d_pos))
    return sens, spec


def _numerical_delta_logit_se(counts: Counts) -> tuple[float, float]:
    """SE of logit(sens), logit(spec): numerical Jacobian x multinomial covariance."""
    n = float(sum(counts))
    pi = np.array(counts, dtype=float) / n
    covariance = (np.diag(pi) - np.outer(pi, pi)) / n

    def logits(x: NDArray[np.float64]) -> NDArray[np.float64]:
        sens, spec = _estimator(x)
        return np.array([math.log(sens / (1 - sens)), math.log(spec / (1 - spec))])

    h = 1e-6
    jacobian = np.empty((2, pi.size))
    for i in range(pi.size):
        step = np.zeros(pi.size)
        step[i] = h * pi[i]
        jacobian[:, i] = (logits(pi + step) - logits(pi - step)) / (2 * step[i])
    variances = np.diag(jacobian @ covariance @ jacobian.T)
    return math.sqrt(variances[0]), math.sqrt(variances[1])


def _logit(x: float) -> float:
    return math.log(x / (1 - x))


@pytest.mark.parametrize("counts", SCENARIOS)
def test_estimates_equal_inverse_probability_weighting(counts: Counts) -> None:
    result = begg_greenes(*counts)
    sens, spec = _ipw(*counts)
    assert result.sensitivity == pytest.approx(sens, rel=1e-12)
    assert result.specificity == pytest.approx(spec, rel=1e-12)


@pytest.mark.parametrize("counts", SCENARIOS)
def test_estimates_follow_the_begg_greenes_formula(counts: Counts) -> None:
    tp, fp, tn, fn, u_pos, u_neg = counts
    n1, n0 = tp + fp + u_pos, tn + fn + u_neg
    a, b = tp / (tp + fp), fn / (fn + tn)
    result = begg_greenes(*counts)
    assert result.sensitivity == pytest.approx(n1 * a / (n1 * a + n0 * b), rel=1e-12)
    assert result.specificity == pytest.approx(
        n0 * (1 - b) / (n0 * (1 - b) + n1 * (1 - a)), rel=1e-12
    )
    assert result.verified_rate_positive == (tp + fp) / n1
    assert result.verified_rate_negative == (tn + fn) / n0


@pytest.mark.parametrize("counts", SCENARIOS)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_interval_is_a_logit_wald_interval_with_the_delta_method_se(
    counts: Counts, confidence: float
) -> None:
    result = begg_greenes(*counts, confidence=confidence)
    z = norm.ppf(0.5 + confidence / 2)
    se_sens, se_spec = _numerical_delta_logit_se(counts)
    sens_centre = (_logit(result.sensitivity_low) + _logit(result.sensitivity_high)) / 2
    spec_centre = (_logit(result.specificity_low) + _logit(result.specificity_high)) / 2
    assert sens_centre == pytest.approx(_logit(result.sensitivity), abs=1e-9)
    assert spec_centre == pytest.approx(_logit(result.specificity), abs=1e-9)
    sens_half = (_logit(result.sensitivity_high) - _logit(result.sensitivity_low)) / 2
    spec_half = (_logit(result.specificity_high) - _logit(result.specificity_low)) / 2
    assert sens_half / z == pytest.approx(se_sens, rel=1e-6)
    assert spec_half / z == pytest.approx(se_spec, rel=1e-6)


def test_without_unverified_exams_the_estimates_are_the_naive_ones_exactly() -> None:
    result = begg_greenes(80, 40, 50, 10, 0, 0)
    assert result.sensitivity == 80 / 90
    assert result.specificity == 50 / 90
    assert result.verified_rate_positive == 1.0
    assert result.verified_rate_negative == 1.0


def test_equal_verification_rates_give_the_naive_estimates() -> None:
    # Both test results verified at 40 %.
    result = begg_greenes(30, 10, 40, 20, 60, 90)
    assert result.sensitivity == pytest.approx(30 / 50, rel=1e-15)
    assert result.specificity == pytest.approx(40 / 50, rel=1e-15)


def test_verifying_positives_more_often_inflates_naive_sensitivity() -> None:
    tp, fp, tn, fn, u_pos, u_neg = SCENARIOS[0]
    result = begg_greenes(tp, fp, tn, fn, u_pos, u_neg)
    assert result.sensitivity < tp / (tp + fn)
    assert result.specificity > tn / (tn + fp)


def test_no_verified_test_positive_makes_the_estimates_undefined() -> None:
    result = begg_greenes(0, 0, 50, 5, 30, 100)
    assert isinstance(result, VerificationCorrected)
    assert math.isnan(result.sensitivity) and math.isnan(result.specificity)
    assert math.isnan(result.sensitivity_low) and math.isnan(result.specificity_high)
    assert result.verified_rate_positive == 0.0


def test_no_exam_at_all_is_undefined_everywhere() -> None:
    result = begg_greenes(0, 0, 0, 0, 0, 0)
    assert all(math.isnan(getattr(result, f)) for f in result.__dataclass_fields__)


def test_no_test_positive_exam_gives_sensitivity_zero() -> None:
    result = begg_greenes(0, 0, 40, 5, 0, 100)
    assert result.sensitivity == 0.0 and result.specificity == 1.0
    assert result.sensitivity_low == 0.0 and 0.0 < result.sensitivity_high < 1.0
    assert math.isnan(result.verified_rate_positive)


def test_no_verified_diseased_exam_makes_sensitivity_undefined() -> None:
    result = begg_greenes(0, 20, 50, 0, 5, 100)
    assert math.isnan(result.sensitivity) and math.isnan(result.sensitivity_low)
    assert result.specificity == pytest.approx(_ipw_specificity(0, 20, 50, 0, 5, 100))


def _ipw_specificity(tp: int, fp: int, tn: int, fn: int, u_pos: int, u_neg: int) -> float:
    w1 = (tp + fp + u_pos) / (tp + fp)
    w0 = (tn + fn + u_neg) / (tn + fn)
    return tn * w0 / (tn * w0 + fp * w1)


def test_an_estimate_of_one_keeps_a_nondegenerate_interval_reaching_one() -> None:
    result = begg_greenes(25, 10, 40, 0, 5, 200)  # no verified false negative
    assert result.sensitivity == 1.0
    assert result.sensitivity_high == 1.0
    assert 0.0 < result.sensitivity_low < 1.0
    assert 0.0 < result.specificity_low < result.specificity < result.specificity_high < 1.0


def test_higher_confidence_widens_the_interval() -> None:
    narrow = begg_greenes(*SCENARIOS[0], confidence=0.8)
    wide = begg_greenes(*SCENARIOS[0], confidence=0.99)
    assert wide.sensitivity_low < narrow.sensitivity_low
    assert wide.sensitivity_high > narrow.sensitivity_high


@pytest.mark.parametrize("name", ["tp", "fp", "tn", "fn", "unverified_positive"])
def test_negative_counts_are_rejected(name: str) -> None:
    counts = {
        "tp": 1,
        "fp": 1,
        "tn": 1,
        "fn": 1,
        "unverified_positive": 1,
        "unverified_negative": 1,
    }
    counts[name] = -1
    with pytest.raises(ValueError, match=name):
        begg_greenes(**counts)


def test_confidence_outside_the_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="confidence"):
        begg_greenes(1, 1, 1, 1, 0, 0, confidence=0.0)


_count = st.integers(min_value=0, max_value=60)


@given(st.tuples(_count, _count, _count, _count, _count, _count))
def test_interval_contains_the_estimate_and_lies_in_the_unit_interval(
    counts: tuple[int, int, int, int, int, int],
) -> None:
    result = begg_greenes(*counts)
    for name in ("sensitivity", "specificity"):
        value = getattr(result, name)
        low, high = getattr(result, f"{name}_low"), getattr(result, f"{name}_high")
        if math.isnan(value):
            assert math.isnan(low) and math.isnan(high)
        else:
            assert 0.0 <= low <= value <= high <= 1.0
