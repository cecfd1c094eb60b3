"""binary_metrics: values against scikit-learn, intervals against statsmodels and
Newcombe (1998), likelihood ratios against the Simel, Samsa & Matchar (1991) formula."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from statsmodels.stats.proportion import proportion_confint

from metrics import (
    BINARY_METRIC_NAMES,
    ConfusionCounts,
    Estimate,
    binary_metrics,
    binary_metrics_array,
    diagnostic_rates,
    proportion_ci,
)

TABLES = [(45, 10, 90, 5), (56, 48, 32, 14), (1, 1, 1, 1), (120, 7, 803, 30), (3, 40, 500, 2)]


def _labels(tp: int, fp: int, tn: int, fn: int) -> tuple[list[int], list[int]]:
    y_true = [1] * tp + [0] * fp + [0] * tn + [1] * fn
    y_pred = [1] * tp + [1] * fp + [0] * tn + [0] * fn
    return y_true, y_pred


def test_keys_in_documented_order() -> None:
    assert BINARY_METRIC_NAMES == (
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "accuracy",
        "prevalence",
        "f1",
        "youden_j",
        "lr_positive",
        "lr_negative",
    )
    result = binary_metrics(45, 10, 90, 5)
    assert tuple(result) == BINARY_METRIC_NAMES
    assert all(isinstance(e, Estimate) for e in result.values())


@pytest.mark.parametrize(("tp", "fp", "tn", "fn"), TABLES)
def test_values_match_scikit_learn(tp: int, fp: int, tn: int, fn: int) -> None:
    y_true, y_pred = _labels(tp, fp, tn, fn)
    m = binary_metrics(tp, fp, tn, fn)
    assert m["sensitivity"].value == pytest.approx(recall_score(y_true, y_pred))
    assert m["specificity"].value == pytest.approx(recall_score(y_true, y_pred, pos_label=0))
    assert m["ppv"].value == pytest.approx(precision_score(y_true, y_pred))
    assert m["npv"].value == pytest.approx(precision_score(y_true, y_pred, pos_label=0))
    assert m["accuracy"].value == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["prevalence"].value == pytest.approx(np.mean(y_true))
    assert m["f1"].value == pytest.approx(f1_score(y_true, y_pred))
    sens, spec = m["sensitivity"].value, m["specificity"].value
    assert m["youden_j"].value == pytest.approx(sens + spec - 1)
    assert m["lr_positive"].value == pytest.approx(sens / (1 - spec))
    assert m["lr_negative"].value == pytest.approx((1 - sens) / spec)


@pytest.mark.parametrize(("tp", "fp", "tn", "fn"), TABLES)
@pytest.mark.parametrize(
    ("method", "sm_method"),
    [("wilson", "wilson"), ("clopper_pearson", "beta"), ("agresti_coull", "agresti_coull")],
)
def test_proportion_intervals_match_statsmodels(
    tp: int, fp: int, tn: int, fn: int, method: str, sm_method: str
) -> None:
    m = binary_metrics(tp, fp, tn, fn, confidence=0.9, method=method)
    n = tp + fp + tn + fn
    for name, (k, d) in {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
        "accuracy": (tp + tn, n),
        "prevalence": (tp + fn, n),
    }.items():
        low, high = proportion_confint(k, d, alpha=0.1, method=sm_method)
        assert (m[name].low, m[name].high) == pytest.approx((low, high), abs=1e-10), name


@pytest.mark.parametrize(("tp", "fp", "tn", "fn"), TABLES)
def test_f1_interval_is_the_transformed_jaccard_interval(
    tp: int, fp: int, tn: int, fn: int
) -> None:
    # F1 = 2J/(1+J), J = tp/(tp+fp+fn): the bounds are J's Wilson bounds, transformed.
    j_low, j_high = proportion_confint(tp, tp + fp + fn, method="wilson")
    f1 = binary_metrics(tp, fp, tn, fn)["f1"]
    assert f1.low == pytest.approx(2 * j_low / (1 + j_low), abs=1e-12)
    assert f1.high == pytest.approx(2 * j_high / (1 + j_high), abs=1e-12)


def test_youden_interval_reproduces_newcombe_table_two() -> None:
    # Newcombe (1998), Stat Med 17:873, Table II example (a): 56/70 vs 48/80,
    # difference 0.2000, method 10 interval 0.0524 to 0.3339. As a 2x2 table:
    # sensitivity 56/70 (tp 56, fn 14), false-positive rate 48/80 (fp 48, tn 32).
    j = binary_metrics(tp=56, fp=48, tn=32, fn=14)["youden_j"]
    assert round(j.value, 4) == 0.2
    assert (round(j.low, 4), round(j.high, 4)) == (0.0524, 0.3339)


def _log_interval(ratio: float, se: float, z: float) -> tuple[float, float]:
    return ratio * math.exp(-z * se), ratio * math.exp(z * se)


@pytest.mark.parametrize(("tp", "fp", "tn", "fn"), TABLES)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_likelihood_ratio_log_intervals(
    tp: int, fp: int, tn: int, fn: int, confidence: float
) -> None:
    # Simel, Samsa & Matchar (1991), J Clin Epidemiol 44:763, written out directly.
    z = float(norm.ppf(0.5 + confidence / 2))
    sens, spec = tp / (tp + fn), tn / (tn + fp)
    se_pos = math.sqrt(1 / tp - 1 / (tp + fn) + 1 / fp - 1 / (fp + tn))
    se_neg = math.sqrt(1 / fn - 1 / (tp + fn) + 1 / tn - 1 / (fp + tn))
    m = binary_metrics(tp, fp, tn, fn, confidence)
    lr_pos, lr_neg = sens / (1 - spec), (1 - sens) / spec
    assert tuple(m["lr_positive"]) == pytest.approx(
        (lr_pos, *_log_interval(lr_pos, se_pos, z)), rel=1e-12
    )
    assert tuple(m["lr_negative"]) == pytest.approx(
        (lr_neg, *_log_interval(lr_neg, se_neg, z)), rel=1e-12
    )


def test_likelihood_ratio_worked_example() -> None:
    # tp 45, fp 10, tn 90, fn 5: LR+ = 0.9/0.1 = 9, SE(log LR+) = sqrt(1/45 - 1/50 +
    # 1/10 - 1/100) = sqrt(0.0922...) = 0.30368..., so 9 * exp(-/+1.96 * 0.30368).
    lr = binary_metrics(45, 10, 90, 5)["lr_positive"]
    assert lr.value == pytest.approx(9.0)
    assert (round(lr.low, 2), round(lr.high, 2)) == (4.96, 16.32)


def _nan(e: Estimate) -> bool:
    return all(math.isnan(x) for x in e)


def test_empty_table_is_all_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = binary_metrics(0, 0, 0, 0)
    assert all(_nan(e) for e in m.values())


def test_single_class_positives_only() -> None:
    m = binary_metrics(tp=8, fp=0, tn=0, fn=2)
    assert m["sensitivity"].value == 0.8
    assert m["prevalence"] == Estimate(1.0, m["prevalence"].low, 1.0)
    for name in ("specificity", "youden_j", "lr_positive", "lr_negative"):
        assert _nan(m[name]), name
    assert m["ppv"].value == 1.0
    assert m["npv"].value == 0.0  # tn / (tn + fn) = 0 / 2


def test_single_class_negatives_only() -> None:
    m = binary_metrics(tp=0, fp=3, tn=17, fn=0)
    assert m["specificity"].value == 0.85
    assert m["prevalence"].value == 0.0 and m["prevalence"].low == 0.0
    for name in ("sensitivity", "youden_j", "lr_positive", "lr_negative"):
        assert _nan(m[name]), name
    assert m["ppv"].value == 0.0  # tp / (tp + fp) = 0 / 3
    # F1 with tp = 0 but fp > 0 is 0 (J = 0/3), with a proper interval.
    assert m["f1"].value == 0.0 and m["f1"].low == 0.0 and m["f1"].high > 0


def test_zero_cells_in_likelihood_ratios() -> None:
    # fp = 0: LR+ divides by zero -> nan. tn = 0: LR- divides by zero -> nan.
    assert _nan(binary_metrics(tp=9, fp=0, tn=20, fn=1)["lr_positive"])
    assert _nan(binary_metrics(tp=9, fp=5, tn=0, fn=1)["lr_negative"])
    # tp = 0: LR+ = 0 but log SE is infinite -> value 0, interval nan; same for fn = 0.
    lr_pos = binary_metrics(tp=0, fp=5, tn=20, fn=10)["lr_positive"]
    assert lr_pos.value == 0.0 and math.isnan(lr_pos.low) and math.isnan(lr_pos.high)
    lr_neg = binary_metrics(tp=10, fp=5, tn=20, fn=0)["lr_negative"]
    assert lr_neg.value == 0.0 and math.isnan(lr_neg.low) and math.isnan(lr_neg.high)


def test_perfect_classifier() -> None:
    m = binary_metrics(tp=10, fp=0, tn=10, fn=0)
    assert m["sensitivity"].high == 1.0 and m["specificity"].high == 1.0
    assert m["f1"].value == 1.0 and m["f1"].high == 1.0
    assert m["youden_j"].value == 1.0 and m["youden_j"].high == 1.0
    assert _nan(m["lr_positive"])
    assert m["lr_negative"].value == 0.0


@pytest.mark.parametrize("bad", [{"tp": -1}, {"fp": -2}, {"tn": -1}, {"fn": -5}])
def test_negative_counts_are_rejected(bad: dict[str, int]) -> None:
    counts = {"tp": 1, "fp": 1, "tn": 1, "fn": 1} | bad
    (name,) = bad
    with pytest.raises(ValueError, match=f"{name} must be >= 0"):
        binary_metrics(**counts)
    with pytest.raises(ValueError, match=f"{name} must be >= 0"):
        binary_metrics_array(**counts)


def test_fractional_counts_and_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="whole-number"):
        binary_metrics(1.5, 1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        binary_metrics(1, 1, 1, 1, confidence=1.5)
    with pytest.raises(ValueError, match="wilson"):
        binary_metrics(1, 1, 1, 1, method="wald")


def test_agrees_with_diagnostic_rates() -> None:
    rates = diagnostic_rates(ConfusionCounts(tp=45, fp=10, tn=90, fn=5), method="jeffreys")
    m = binary_metrics(45, 10, 90, 5, method="jeffreys")
    for name, rate in rates.items():
        assert (m[name].value, m[name].low, m[name].high) == pytest.approx(
            (rate.value, rate.low, rate.high), abs=1e-15
        )
    assert (m["sensitivity"].low, m["sensitivity"].high) == proportion_ci(45, 50, method="jeffreys")


@pytest.mark.parametrize("method", ["wilson", "clopper_pearson", "jeffreys"])
def test_array_form_matches_scalar_form(method: str) -> None:
    values = [0, 1, 2, 7]
    grid = np.array(np.meshgrid(values, values, values, values)).reshape(4, -1)
    arrays = binary_metrics_array(*grid, confidence=0.9, method=method)
    assert tuple(arrays) == BINARY_METRIC_NAMES
    for i in range(grid.shape[1]):
        tp, fp, tn, fn = (int(x) for x in grid[:, i])
        scalar = binary_metrics(tp, fp, tn, fn, confidence=0.9, method=method)
        for name in BINARY_METRIC_NAMES:
            got = [arrays[name].value[i], arrays[name].low[i], arrays[name].high[i]]
            np.testing.assert_array_equal(got, list(scalar[name]), err_msg=name)


def test_array_form_broadcasts_and_returns_float64() -> None:
    arrays = binary_metrics_array([[1], [2]], [0, 3, 5], 10, 2)
    for estimate in arrays.values():
        for part in estimate:
            assert part.shape == (2, 3) and part.dtype == np.float64
