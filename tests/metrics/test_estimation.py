"""CBPE: calibrator against scikit-learn, expected counts by brute force, interval coverage
of the realised metric (sklearn.metrics as the independent reference), shifts, edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.special import ndtri
from scipy.stats import beta
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import confusion_matrix, recall_score

from metrics.estimation import (
    ESTIMATED_METRICS,
    Calibrator,
    calibrate_bins,
    estimate_from_bins,
    estimate_from_scores,
    estimate_performance,
    expected_confusion,
    fit_calibrator,
)

PREVALENCE = 0.2
POSITIVE_BETA = (5.0, 2.0)
NEGATIVE_BETA = (2.0, 5.0)
THRESHOLD = 0.5


def _true_probability(s: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(truth positive | score) of the reference population (Bayes on the two betas)."""
    f1 = PREVALENCE * beta.pdf(s, *POSITIVE_BETA)
    f0 = (1.0 - PREVALENCE) * beta.pdf(s, *NEGATIVE_BETA)
    return np.asarray(f1 / (f1 + f0), dtype=np.float64)


def _sample(
    rng: np.random.Generator,
    n: int,
    prevalence: float = PREVALENCE,
    positive_beta: tuple[float, float] = POSITIVE_BETA,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Truth drawn first, then scores from a beta distribution per class."""
    truth = rng.random(n) < prevalence
    scores = np.where(truth, rng.beta(*positive_beta, n), rng.beta(*NEGATIVE_BETA, n))
    return scores, truth


def _realised(truth: NDArray[np.bool_], calls: NDArray[np.bool_]) -> dict[str, float]:
    tn, fp, fn, tp = confusion_matrix(truth, calls, labels=[False, True]).ravel()
    return {
        "sensitivity": float(recall_score(truth, calls)),
        "specificity": float(recall_score(~truth, ~calls)),
        "ppv": tp / (tp + fp),
        "npv": tn / (tn + fn),
    }


# --- calibrator ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_calibrator_equals_sklearn_isotonic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores, truth = _sample(rng, 1500)
    scores = np.round(scores, 2)  # ties, as with scores stored to two decimals
    calibrator = fit_calibrator(scores, truth)
    model = IsotonicRegression(out_of_bounds="clip").fit(scores, truth)
    new = np.concatenate([rng.random(500), [-0.5, 0.0, 1.0, 1.5, scores.min(), scores.max()]])
    np.testing.assert_allclose(calibrator.predict(new), model.predict(new), atol=1e-12)
    np.testing.assert_array_equal(calibrator.x_thresholds, model.X_thresholds_)
    assert calibrator.n_reference == 1500 and calibrator.n_positive == int(truth.sum())
    assert len(calibrator.block_counts) == len(calibrator.x_thresholds)


def test_block_counts_add_up_to_the_reference() -> None:
    scores, truth = _sample(np.random.default_rng(3), 800)
    calibrator = fit_calibrator(scores, truth)
    y = np.asarray(calibrator.y_thresholds)
    first = np.concatenate(([True], np.diff(y) != 0))
    assert np.asarray(calibrator.block_counts)[first].sum() == 800


def test_calibrator_round_trips_through_json_and_is_hashable() -> None:
    scores, truth = _sample(np.random.default_rng(4), 600)
    calibrator = fit_calibrator(scores, truth)
    again = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert again == calibrator and hash(again) == hash(calibrator)
    legacy = {k: v for k, v in calibrator.to_dict().items() if k != "block_counts"}
    assert Calibrator.from_dict(legacy).block_counts == ()
    with pytest.raises(ValueError, match="lacks n_positive"):
        Calibrator.from_dict({"x_thresholds": [0.0], "y_thresholds": [0.5], "n_reference": 1})


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ((0.2, 0.1), (0.1, 0.2), "strictly increasing"),
        ((0.1, 0.2), (0.3, 0.2), "non-decreasing"),
        ((0.1, 0.2), (0.3, 1.2), "within"),
        ((), (), "non-empty"),
    ],
)
def test_invalid_calibrator_is_rejected(
    x: tuple[float, ...], y: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Calibrator(x, y, 10, 5)


def test_reference_with_one_class_raises() -> None:
    scores = np.random.default_rng(5).random(300)
    with pytest.raises(ValueError, match=r"only truth-negative.*widen the reference"):
        fit_calibrator(scores, np.zeros(300, dtype=bool))
    with pytest.raises(ValueError, match="only truth-positive"):
        fit_calibrator(scores, np.ones(300, dtype=int))


def test_reference_with_too_few_cases_raises() -> None:
    scores, truth = _sample(np.random.default_rng(6), 99)
    with pytest.raises(ValueError, match=r"99 cases.*at least 100"):
        fit_calibrator(scores, truth)
    assert fit_calibrator(scores, truth, min_cases=50).n_reference == 99


@pytest.mark.parametrize(
    ("scores", "truth", "message"),
    [
        ([0.1, math.nan], [0, 1], "finite"),
        ([0.1, 0.2], [0, 2], "0/1"),
        ([0.1, 0.2], [0, 1, 1], "one length"),
    ],
)
def test_invalid_reference_raises(scores: list[float], truth: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_calibrator(scores, truth, min_cases=1)


# --- expected counts and point estimates ---------------------------------------------------


def test_expected_counts_equal_brute_force_sums() -> None:
    rng = np.random.default_rng(8)
    p, calls = rng.random(257), rng.random(257) < 0.3
    tp = fn = fp = tn = 0.0
    for p_i, c_i in zip(p.tolist(), calls.tolist(), strict=True):
        tp += p_i * c_i
        fn += p_i * (1 - c_i)
        fp += (1 - p_i) * c_i
        tn += (1 - p_i) * (1 - c_i)
    counts = expected_confusion(p, calls)
    assert (counts.tp, counts.fn, counts.fp, counts.tn) == pytest.approx((tp, fn, fp, tn))
    assert counts.n == pytest.approx(257)
    result = estimate_performance(p, calls)
    assert list(result) == list(ESTIMATED_METRICS)
    assert result["sensitivity"].estimate == pytest.approx(tp / (tp + fn))
    assert result["specificity"].estimate == pytest.approx(tn / (tn + fp))
    assert result["ppv"].estimate == pytest.approx(tp / (tp + fp))
    assert result["npv"].estimate == pytest.approx(tn / (tn + fn))
    assert result["sensitivity"].expected_positives == pytest.approx(p.sum())
    assert result["ppv"].expected_denominator == calls.sum()
    assert all(r.n == 257 and r.low <= r.estimate <= r.high for r in result.values())


def test_interval_ends_solve_fiellers_equation() -> None:
    # At each end r: (E[TP] - r E[P])² = z² sum (c_i - r)² p_i (1 - p_i).
    rng = np.random.default_rng(9)
    p, calls = rng.beta(1, 3, 400), rng.random(400) < 0.4
    sens = estimate_performance(p, calls, confidence=0.9)["sensitivity"]
    z = float(ndtri(0.95))
    c = calls.astype(float)
    for r in (sens.low, sens.high):
        lhs = (np.sum(p * c) - r * np.sum(p)) ** 2
        rhs = z * z * np.sum((c - r) ** 2 * p * (1 - p))
        assert lhs == pytest.approx(rhs, rel=1e-9)
    var = np.sum((c - sens.estimate) ** 2 * p * (1 - p))
    assert sens.std_error == pytest.approx(math.sqrt(var) / p.sum())


def test_ppv_interval_is_normal_on_the_poisson_binomial_count() -> None:
    rng = np.random.default_rng(10)
    p, calls = rng.random(300), rng.random(300) < 0.5
    ppv = estimate_performance(p, calls)["ppv"]
    half = float(ndtri(0.975)) * math.sqrt(np.sum(p * (1 - p) * calls)) / calls.sum()
    assert (ppv.low, ppv.high) == pytest.approx((ppv.estimate - half, ppv.estimate + half))


# --- coverage of the realised value ---------------------------------------------------------


def test_realised_value_is_covered_about_95_percent_of_the_time() -> None:
    # 400 repetitions: a fresh reference (2000 cases) and calibrator, then a window of
    # 500 new cases whose truth is drawn from the same populations.
    rng = np.random.default_rng(2024)
    covered = dict.fromkeys(ESTIMATED_METRICS, 0)
    oracle = dict.fromkeys(ESTIMATED_METRICS, 0)
    errors: list[float] = []
    repetitions = 400
    for _ in range(repetitions):
        calibrator = fit_calibrator(*_sample(rng, 2000))
        scores, truth = _sample(rng, 500)
        calls = scores >= THRESHOLD
        realised = _realised(truth, calls)
        fitted = estimate_from_scores(calibrator, scores, calls)
        exact = estimate_performance(_true_probability(scores), calls)
        errors.append(fitted["sensitivity"].estimate - realised["sensitivity"])
        for metric in ESTIMATED_METRICS:
            covered[metric] += fitted[metric].low <= realised[metric] <= fitted[metric].high
            oracle[metric] += exact[metric].low <= realised[metric] <= exact[metric].high
    for metric in ESTIMATED_METRICS:
        assert 0.92 <= covered[metric] / repetitions <= 0.98, (metric, covered)
        assert 0.92 <= oracle[metric] / repetitions <= 0.98, (metric, oracle)
    assert abs(float(np.mean(errors))) < 0.01  # no bias
    assert float(np.sqrt(np.mean(np.square(errors)))) < 0.05


def test_calibrator_uncertainty_widens_the_interval_only() -> None:
    rng = np.random.default_rng(11)
    calibrator = fit_calibrator(*_sample(rng, 400))
    scores, _ = _sample(rng, 2000)
    calls = scores >= THRESHOLD
    with_ref = estimate_from_scores(calibrator, scores, calls)
    without = estimate_from_scores(calibrator, scores, calls, reference_uncertainty=False)
    assert without == estimate_performance(calibrator.predict(scores), calls)
    for metric in ESTIMATED_METRICS:
        assert with_ref[metric].estimate == without[metric].estimate
        assert with_ref[metric].high - with_ref[metric].low > 1.3 * (
            without[metric].high - without[metric].low
        )


# --- shifts -------------------------------------------------------------------------------


def _reference_calibrator(seed: int) -> tuple[Calibrator, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return fit_calibrator(*_sample(rng, 5000)), rng


def test_covariate_shift_is_followed() -> None:
    # More high scores (a sicker population: prevalence 0.2 -> about 0.39) but the same
    # P(truth | score): realised sensitivity rises from about 0.89 to 0.96.
    calibrator, rng = _reference_calibrator(12)
    n = 5000
    high = rng.random(n) < 0.5
    scores = np.where(high, rng.beta(*POSITIVE_BETA, n), rng.beta(*NEGATIVE_BETA, n))
    truth = rng.random(n) < _true_probability(scores)
    calls = scores >= THRESHOLD
    realised = _realised(truth, calls)
    result = estimate_from_scores(calibrator, scores, calls)
    assert truth.mean() > 0.35 and realised["sensitivity"] > 0.93
    for metric in ESTIMATED_METRICS:
        assert result[metric].low <= realised[metric] <= result[metric].high, metric
        assert result[metric].estimate == pytest.approx(realised[metric], abs=0.03)


def test_concept_shift_is_invisible_to_cbpe() -> None:
    # Known limitation: positives now get lower scores (Beta(3, 3) instead of Beta(5, 2)).
    # The realised sensitivity falls to about 0.5; the old calibrator still says about 0.8
    # and its interval excludes the truth. Only arriving ground truth shows this.
    calibrator, rng = _reference_calibrator(13)
    scores, truth = _sample(rng, 5000, positive_beta=(3.0, 3.0))
    calls = scores >= THRESHOLD
    realised = _realised(truth, calls)["sensitivity"]
    estimated = estimate_from_scores(calibrator, scores, calls)["sensitivity"]
    assert realised < 0.55
    assert estimated.estimate > 0.75 and estimated.low > realised


def test_label_shift_biases_the_estimate() -> None:
    # Known limitation: prevalence 0.2 -> 0.5 with unchanged score distributions per
    # class changes P(truth | score). Realised sensitivity stays about 0.89 while CBPE
    # reports about 0.96.
    calibrator, rng = _reference_calibrator(14)
    scores, truth = _sample(rng, 5000, prevalence=0.5)
    calls = scores >= THRESHOLD
    realised = _realised(truth, calls)["sensitivity"]
    estimated = estimate_from_scores(calibrator, scores, calls)["sensitivity"]
    assert realised == pytest.approx(0.89, abs=0.02)
    assert estimated.low > realised


# --- edge cases -----------------------------------------------------------------------------


def test_no_cases_gives_nan() -> None:
    result = estimate_performance([], [])
    for r in result.values():
        assert r.n == 0 and r.expected_positives == 0.0
        assert math.isnan(r.estimate) and math.isnan(r.low) and math.isnan(r.high)
    calibrator = fit_calibrator(*_sample(np.random.default_rng(15), 300))
    assert math.isnan(estimate_from_scores(calibrator, [], [])["sensitivity"].estimate)


def test_all_calls_positive_keeps_specificity_defined() -> None:
    p = np.random.default_rng(16).random(200)
    result = estimate_performance(p, np.ones(200, dtype=bool))
    spec = result["specificity"]
    assert (spec.estimate, spec.low, spec.high) == (0.0, 0.0, 0.0)  # no TN can occur
    assert (result["sensitivity"].estimate, result["sensitivity"].high) == (1.0, 1.0)
    assert result["ppv"].estimate == pytest.approx(p.mean())
    assert math.isnan(result["npv"].estimate) and result["npv"].expected_denominator == 0.0


def test_certain_probabilities_give_the_realised_value_exactly() -> None:
    # p in {0, 1}: no randomness left; the interval is the point and equals sklearn's.
    rng = np.random.default_rng(17)
    truth, calls = rng.random(300) < 0.3, rng.random(300) < 0.4
    result = estimate_performance(truth.astype(float), calls)
    for metric, value in _realised(truth, calls).items():
        r = result[metric]
        assert r.estimate == pytest.approx(value) and r.std_error == 0.0
        assert r.low == pytest.approx(value) and r.high == pytest.approx(value)


def test_all_probabilities_one_leaves_specificity_undefined() -> None:
    result = estimate_performance(np.ones(50), np.arange(50) % 2 == 0)
    assert math.isnan(result["specificity"].estimate)
    assert result["sensitivity"].estimate == 0.5


def test_tiny_expected_denominator_gives_the_whole_range() -> None:
    # E[TP + FN] = 0.5: the realised sensitivity may be undefined; the interval is [0, 1].
    p = np.full(50, 0.01)
    sens = estimate_performance(p, np.arange(50) < 10)["sensitivity"]
    assert sens.estimate == pytest.approx(0.2) and (sens.low, sens.high) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("p", "calls", "confidence", "message"),
    [
        ([0.5, 1.2], [0, 1], 0.95, "within \\[0, 1\\]"),
        ([0.5, math.nan], [0, 1], 0.95, "finite"),
        ([0.5, 0.5], [0, 2], 0.95, "calls must hold only 0/1"),
        ([0.5], [0, 1], 0.95, "one length"),
        ([0.5], [1], 95.0, "confidence"),
    ],
)
def test_invalid_input_raises(
    p: list[float], calls: list[int], confidence: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_performance(p, calls, confidence)


# --- from histogram bins ------------------------------------------------------------------


def _histogram(
    scores: NDArray[np.float64], n_bins: int = 20
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    index = np.minimum(np.floor(scores * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins).astype(np.float64)
    return counts, np.asarray(np.bincount(index, weights=scores, minlength=n_bins), np.float64)


def test_bins_agree_with_per_case_estimation() -> None:
    rng = np.random.default_rng(18)
    ref_scores, ref_truth = _sample(rng, 5000)
    pos, pos_sums = _histogram(ref_scores[ref_truth])
    neg, neg_sums = _histogram(ref_scores[~ref_truth])
    binned = calibrate_bins(pos, neg, pos_sums, neg_sums)
    assert binned.n_reference == 5000 and binned.n_positive == int(ref_truth.sum())
    scores, _ = _sample(rng, 3000)
    counts, sums = _histogram(scores)
    from_bins = estimate_from_bins(binned, counts, sums, threshold=THRESHOLD)
    per_case = estimate_from_scores(fit_calibrator(ref_scores, ref_truth), scores, scores >= 0.5)
    for metric in ESTIMATED_METRICS:
        assert from_bins[metric].estimate == pytest.approx(per_case[metric].estimate, abs=0.02)
        assert from_bins[metric].n == 3000


def test_bins_equal_repeated_cases() -> None:
    # Every case of a bin gets the bin's probability: the same as repeating it per case.
    rng = np.random.default_rng(19)
    ref_scores, ref_truth = _sample(rng, 2000)
    calibrator = calibrate_bins(
        _histogram(ref_scores[ref_truth])[0], _histogram(ref_scores[~ref_truth])[0]
    )
    counts = rng.integers(0, 40, 20).astype(float)
    p = calibrator.predict((np.arange(20) + 0.5) / 20)
    calls = np.arange(20) >= 10
    expected = estimate_performance(
        np.repeat(p, counts.astype(int)), np.repeat(calls, counts.astype(int))
    )
    got = estimate_from_bins(calibrator, counts, threshold=0.5, reference_uncertainty=False)
    for metric in ESTIMATED_METRICS:
        assert got[metric].estimate == pytest.approx(expected[metric].estimate)
        assert (got[metric].low, got[metric].high) == pytest.approx(
            (expected[metric].low, expected[metric].high)
        )


def test_bins_reject_a_threshold_between_edges_and_bad_counts() -> None:
    calibrator = Calibrator((0.0, 1.0), (0.1, 0.9), 100, 50)
    with pytest.raises(ValueError, match="not an edge of the 20"):
        estimate_from_bins(calibrator, np.ones(20), threshold=0.52)
    with pytest.raises(ValueError, match="whole-number counts"):
        estimate_from_bins(calibrator, np.full(20, 0.5), threshold=0.5)
    with pytest.raises(ValueError, match="score_sums must lie within"):
        estimate_from_bins(calibrator, np.ones(20), np.ones(20), threshold=0.5)
    with pytest.raises(ValueError, match="only truth-negative"):
        calibrate_bins(np.zeros(20), np.full(20, 10.0))
