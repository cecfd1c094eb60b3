"""Label-free performance estimate against the claim (CBPE, :mod:`alerts.estimation`).

Specification, on a synthetic device whose truth is known:

- the reference calibrator exists only with at least ``MIN_REFERENCE_CASES`` scored
  cases of both outcomes; cases without a score do not count and do not change it;
- an *info* finding ``estimated_performance`` is raised for a metric exactly when its
  estimated interval lies wholly below the claim, with the estimate, its interval, the
  number of scored cases and the verified share as evidence;
- a window like the reference raises nothing; a window with fewer than ``min_cases``
  scored cases raises nothing;
- under covariate shift (the score distribution changes, P(truth | score) does not),
  the estimate follows the realised value counted on the synthetic truth.

The synthetic device: prevalence 0.3, scores Beta(5, 2) for positives and Beta(2, 5) for
negatives, call positive when score >= 0.5, so that sensitivity = specificity =
1 - (6 x^5 - 5 x^6) at x = 0.5 = 57/64 = 0.89 and, by Bayes,
P(truth | s) = 0.3 s^3 / (0.3 s^3 + 0.7 (1 - s)^3). The shifted window piles half its
cases just below the threshold (scores uniform on [0.38, 0.5)), where about one case in
six is truly positive and every one is missed: sensitivity falls to about 0.55 while
specificity rises. Expected values are computed independently: realised metrics by
counting, the CBPE point estimate with scikit-learn's isotonic regression.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.isotonic import IsotonicRegression

from alerts.estimation import MIN_REFERENCE_CASES, estimation_findings, reference_calibrator
from alerts.findings import FindingDraft
from metrics.estimation import Calibrator

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]

PREVALENCE = 0.3
THRESHOLD = 0.5
CLAIMS = {"sensitivity": 0.85, "specificity": 0.85}
DEVICE = "sim-xr"
WINDOW = (1_750_000_000 * 10**9, 1_752_592_000 * 10**9)
EVIDENCE_KEYS = {"method", "estimate", "interval", "confidence", "cases", "verified_share"}


def truth_probability(scores: FloatArray) -> FloatArray:
    """P(truth positive | score) of the synthetic device (Bayes on the two Beta densities)."""
    positive = PREVALENCE * scores**3
    return np.asarray(positive / (positive + (1.0 - PREVALENCE) * (1.0 - scores) ** 3))


def like_reference(rng: np.random.Generator, n: int) -> tuple[FloatArray, IntArray]:
    """Cases drawn as in the reference period: scores and 0/1 truth."""
    truth = rng.random(n) < PREVALENCE
    scores = np.where(truth, rng.beta(5.0, 2.0, n), rng.beta(2.0, 5.0, n))
    return scores, truth.astype(np.int8)


def piled_below_threshold(rng: np.random.Generator, n: int) -> tuple[FloatArray, IntArray]:
    """Covariate shift: half the cases score just below the threshold; truth ~ P(truth | s)."""
    usual, _ = like_reference(rng, n // 2)
    scores = np.concatenate((usual, rng.uniform(0.38, THRESHOLD, n - n // 2)))
    truth = (rng.random(n) < truth_probability(scores)).astype(np.int8)
    return scores, truth


def calls_of(scores: FloatArray) -> IntArray:
    return (scores >= THRESHOLD).astype(np.int8)


def realised(truth: IntArray, calls: IntArray) -> dict[str, float]:
    """Sensitivity and specificity by direct counting."""
    return {
        "sensitivity": float(np.mean(calls[truth == 1] == 1)),
        "specificity": float(np.mean(calls[truth == 0] == 0)),
    }


def sklearn_cbpe(
    ref_scores: FloatArray, ref_truth: IntArray, scores: FloatArray, calls: IntArray
) -> dict[str, float]:
    """CBPE point estimates, independently: ratios of expected confusion counts."""
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    p = np.asarray(model.fit(ref_scores, ref_truth).predict(scores), dtype=np.float64)
    c = calls.astype(np.float64)
    return {
        "sensitivity": float(np.sum(p * c) / np.sum(p)),
        "specificity": float(np.sum((1 - p) * (1 - c)) / np.sum(1 - p)),
    }


def with_missing_scores(
    scores: FloatArray, calls: IntArray, n_missing: int
) -> tuple[FloatArray, IntArray]:
    """Append ``n_missing`` cases that have a call but no score."""
    return (
        np.concatenate((scores, np.full(n_missing, np.nan))),
        np.concatenate((calls, np.ones(n_missing, dtype=np.int8))),
    )


@pytest.fixture(scope="module")
def reference() -> tuple[FloatArray, IntArray]:
    return like_reference(np.random.default_rng(20250101), 20_000)


@pytest.fixture(scope="module")
def calibrator(reference: tuple[FloatArray, IntArray]) -> Calibrator:
    fitted = reference_calibrator(*reference)
    assert fitted is not None
    return fitted


@pytest.fixture(scope="module")
def shifted() -> tuple[FloatArray, IntArray]:
    return piled_below_threshold(np.random.default_rng(7), 3000)


def findings(
    calibrator: Calibrator,
    scores: FloatArray,
    calls: IntArray,
    claims: dict[str, float] = CLAIMS,
    *,
    verified_share: float = 0.4,
    confidence: float = 0.95,
    min_cases: int = 30,
) -> list[FindingDraft]:
    return estimation_findings(
        calibrator,
        scores,
        calls,
        claims,
        DEVICE,
        WINDOW,
        verified_share=verified_share,
        confidence=confidence,
        min_cases=min_cases,
    )


# --- reference calibrator -------------------------------------------------------------------


def test_the_reference_needs_min_reference_cases_scored_cases() -> None:
    scores, truth = like_reference(np.random.default_rng(1), MIN_REFERENCE_CASES)
    truth[:2] = (0, 1)  # both outcomes, whatever the draw
    missing = np.full(500, np.nan)
    padded_truth = np.concatenate((truth, np.ones(500, dtype=np.int8)))

    short = np.concatenate((scores[:-1], np.full(501, np.nan)))
    assert reference_calibrator(short, padded_truth) is None

    fitted = reference_calibrator(np.concatenate((scores, missing)), padded_truth)
    assert fitted is not None
    assert fitted.n_reference == MIN_REFERENCE_CASES
    assert fitted.n_positive == int(truth.sum())


@pytest.mark.parametrize("outcome", [0, 1])
def test_the_reference_needs_both_outcomes(outcome: int) -> None:
    scores, _ = like_reference(np.random.default_rng(2), 1000)
    assert reference_calibrator(scores, np.full(1000, outcome, dtype=np.int8)) is None


def test_an_empty_or_unscored_reference_gives_no_calibrator() -> None:
    assert reference_calibrator(np.array([]), np.array([], dtype=np.int8)) is None
    truth = np.tile(np.array([0, 1], dtype=np.int8), 500)
    assert reference_calibrator(np.full(1000, np.nan), truth) is None


def test_cases_without_a_score_do_not_change_the_calibrator() -> None:
    scores, truth = like_reference(np.random.default_rng(3), 2000)
    gaps = np.random.default_rng(4).random(2000) < 0.2
    holed = np.where(gaps, np.nan, scores)
    with_gaps = reference_calibrator(holed, truth)
    without = reference_calibrator(scores[~gaps], truth[~gaps])
    assert with_gaps is not None
    assert with_gaps == without
    assert with_gaps.n_reference == int((~gaps).sum())


def test_the_calibrator_is_scikit_learns_clipped_isotonic_regression(
    reference: tuple[FloatArray, IntArray], calibrator: Calibrator
) -> None:
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(*reference)
    grid = np.linspace(-0.5, 1.5, 2001)  # beyond the reference range: clipped
    np.testing.assert_allclose(calibrator.predict(grid), model.predict(grid), atol=1e-12)
    assert calibrator.n_reference == reference[0].size
    assert calibrator.n_positive == int(reference[1].sum())


def test_the_synthetic_reference_is_well_calibrated(calibrator: Calibrator) -> None:
    """Sanity of the test data: the fitted map is close to the true P(truth | score)."""
    grid = np.linspace(0.2, 0.8, 61)
    np.testing.assert_allclose(calibrator.predict(grid), truth_probability(grid), atol=0.06)


# --- findings -------------------------------------------------------------------------------


def test_an_interval_wholly_below_the_claim_raises_an_info_finding(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, truth = shifted
    calls = calls_of(scores)
    observed = realised(truth, calls)
    assert observed["sensitivity"] < 0.65 < CLAIMS["sensitivity"]  # the data drop clearly
    assert observed["specificity"] > CLAIMS["specificity"]

    [finding] = findings(calibrator, scores, calls)

    assert finding.device_id == DEVICE
    assert finding.rule == "estimated_performance"
    assert finding.severity == "info"
    assert finding.metric == "sensitivity"
    assert (finding.window_start_ns, finding.window_end_ns) == WINDOW
    assert finding.threshold == CLAIMS["sensitivity"]
    assert finding.device_version is None and finding.subgroup is None
    assert not finding.counts_against_budget


def test_the_evidence_gives_estimate_interval_cases_and_verified_share(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, calls = with_missing_scores(shifted[0], calls_of(shifted[0]), 250)

    [finding] = findings(calibrator, scores, calls, verified_share=0.37, confidence=0.9)

    evidence = finding.evidence
    assert set(evidence) >= EVIDENCE_KEYS
    assert evidence["cases"] == shifted[0].size  # scored cases only
    assert evidence["verified_share"] == 0.37
    assert evidence["confidence"] == 0.9
    assert "CBPE" in evidence["method"]
    low, high = evidence["interval"]
    assert finding.value == evidence["estimate"]
    assert 0.0 <= low <= evidence["estimate"] <= high < CLAIMS["sensitivity"]


def test_the_estimate_is_the_expected_confusion_ratio(
    reference: tuple[FloatArray, IntArray],
    calibrator: Calibrator,
    shifted: tuple[FloatArray, IntArray],
) -> None:
    scores, _ = shifted
    calls = calls_of(scores)
    expected = sklearn_cbpe(*reference, scores, calls)

    every = findings(calibrator, scores, calls, {"sensitivity": 1.0, "specificity": 1.0})

    estimates = {f.metric: f.value for f in every}
    assert estimates == pytest.approx(expected, abs=1e-9)


def test_under_covariate_shift_the_estimate_follows_the_realised_value(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, truth = shifted
    calls = calls_of(scores)
    [finding] = findings(calibrator, scores, calls)
    low, high = finding.evidence["interval"]
    assert low <= realised(truth, calls)["sensitivity"] <= high

    big_scores, big_truth = piled_below_threshold(np.random.default_rng(11), 40_000)
    big_calls = calls_of(big_scores)
    [big] = findings(calibrator, big_scores, big_calls)
    assert big.value == pytest.approx(realised(big_truth, big_calls)["sensitivity"], abs=0.03)


def test_a_window_like_the_reference_raises_nothing(calibrator: Calibrator) -> None:
    scores, truth = like_reference(np.random.default_rng(5), 3000)
    calls = calls_of(scores)

    assert findings(calibrator, scores, calls) == []

    # With a claim of 100 % every interval shows: each holds the realised value.
    every = findings(calibrator, scores, calls, {"sensitivity": 1.0, "specificity": 1.0})
    observed = realised(truth, calls)
    assert {f.metric for f in every} == {"sensitivity", "specificity"}
    for finding in every:
        assert finding.metric is not None
        low, high = finding.evidence["interval"]
        assert low <= observed[finding.metric] <= high
        assert low >= CLAIMS[finding.metric] - 0.05


def test_only_claimed_metrics_are_judged(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, _ = shifted
    calls = calls_of(scores)
    assert findings(calibrator, scores, calls, {"specificity": 0.85}) == []
    assert findings(calibrator, scores, calls, {}) == []


def test_a_claim_equal_to_the_interval_top_raises_nothing(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, _ = shifted
    calls = calls_of(scores)
    [finding] = findings(calibrator, scores, calls)
    high = float(finding.evidence["interval"][1])

    assert findings(calibrator, scores, calls, {"sensitivity": high}) == []
    assert len(findings(calibrator, scores, calls, {"sensitivity": math.nextafter(high, 1)})) == 1


def test_fewer_than_min_cases_scored_cases_raise_nothing(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scored = shifted[0].size
    scores, calls = with_missing_scores(shifted[0], calls_of(shifted[0]), 500)

    assert len(findings(calibrator, scores, calls, min_cases=scored)) == 1
    assert findings(calibrator, scores, calls, min_cases=scored + 1) == []

    # 29 scored cases, each a likely positive that is missed: estimated sensitivity 0.
    few = np.random.default_rng(9).uniform(0.45, THRESHOLD, 29)
    few_scores, few_calls = with_missing_scores(few, calls_of(few), 100)
    assert findings(calibrator, few_scores, few_calls) == []  # min_cases 30 by default
    [finding] = findings(calibrator, few_scores, few_calls, min_cases=29)
    assert finding.value == 0.0
    assert finding.evidence["cases"] == 29


def test_a_higher_confidence_widens_the_interval(
    calibrator: Calibrator, shifted: tuple[FloatArray, IntArray]
) -> None:
    scores, _ = shifted
    calls = calls_of(scores)
    [at_95] = findings(calibrator, scores, calls, confidence=0.95)
    [at_80] = findings(calibrator, scores, calls, confidence=0.80)
    low_95, high_95 = at_95.evidence["interval"]
    low_80, high_80 = at_80.evidence["interval"]
    assert at_95.value == at_80.value
    assert low_95 < low_80 <= high_80 < high_95
