"""Diagnostic performance from confusion counts (2x2 tables), scalar and vectorised."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from metrics.proportions import _as_counts, _check_method, _intervals, _z, proportion_ci
from metrics.subgroups import newcombe_difference_ci_array

__all__ = [
    "BINARY_METRIC_NAMES",
    "ConfusionCounts",
    "Estimate",
    "EstimateArrays",
    "RateEstimate",
    "binary_metrics",
    "binary_metrics_array",
    "diagnostic_rates",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ConfusionCounts:
    """Counts of one cell. ``n`` is tp + fp + tn + fn (verified, counted cases)."""

    tp: int
    fp: int
    tn: int
    fn: int

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "tn", "fn"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


@dataclass(frozen=True, slots=True)
class RateEstimate:
    """A proportion with its interval; all three are nan when the denominator is 0."""

    value: float
    low: float
    high: float
    k: int
    n: int


def _rate(k: int, n: int, confidence: float, method: str) -> RateEstimate:
    low, high = proportion_ci(k, n, confidence, method)
    return RateEstimate(value=k / n if n else math.nan, low=low, high=high, k=k, n=n)


def diagnostic_rates(
    counts: ConfusionCounts, confidence: float = 0.95, method: str = "wilson"
) -> dict[str, RateEstimate]:
    """Sensitivity tp/(tp+fn), specificity tn/(tn+fp), PPV tp/(tp+fp), NPV tn/(tn+fn).

    Each with its ``method`` interval at ``confidence``. An empty denominator gives
    nan (never an exception): e.g. sensitivity of a cell without positives.
    """
    c = counts
    return {
        "sensitivity": _rate(c.tp, c.tp + c.fn, confidence, method),
        "specificity": _rate(c.tn, c.tn + c.fp, confidence, method),
        "ppv": _rate(c.tp, c.tp + c.fp, confidence, method),
        "npv": _rate(c.tn, c.tn + c.fn, confidence, method),
    }


BINARY_METRIC_NAMES = (
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
"""Keys of :func:`binary_metrics` and :func:`binary_metrics_array`, in order."""


class Estimate(NamedTuple):
    """A statistic with its interval; nan where undefined."""

    value: float
    low: float
    high: float


class EstimateArrays(NamedTuple):
    """Vectorised :class:`Estimate`: float64 arrays of one shape, nan where undefined."""

    value: FloatArray
    low: FloatArray
    high: FloatArray


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, nan where den == 0 (no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _proportion(k: FloatArray, n: FloatArray, confidence: float, method: str) -> EstimateArrays:
    low, high = _intervals(k, n, confidence, method)
    return EstimateArrays(_ratio(k, n), low, high)


def _f1(
    tp: FloatArray, fp: FloatArray, fn: FloatArray, confidence: float, method: str
) -> EstimateArrays:
    # F1 = 2J / (1 + J) with J = tp / (tp + fp + fn), increasing in J: map J's interval.
    j = _proportion(tp, tp + fp + fn, confidence, method)
    value, low, high = (2.0 * x / (1.0 + x) for x in j)
    return EstimateArrays(value, low, high)


def _likelihood_ratio(
    a: FloatArray, a_n: FloatArray, b: FloatArray, b_n: FloatArray, z: float
) -> EstimateArrays:
    """(a / a_n) / (b / b_n) with the log interval (Simel, Samsa & Matchar 1991).

    SE(log LR) = sqrt(1/a - 1/a_n + 1/b - 1/b_n), written as
    (a_n - a)/(a a_n) + (b_n - b)/(b b_n) to avoid cancellation.
    """
    defined = (a_n > 0) & (b_n > 0) & (b > 0)
    value = np.where(defined, _ratio(a * b_n, b * a_n), np.nan)
    has_interval = defined & (a > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = _ratio(a_n - a, a * a_n) + _ratio(b_n - b, b * b_n)
        log_value = np.log(np.where(has_interval, value, 1.0))
        spread = z * np.sqrt(var)
        low = np.where(has_interval, np.exp(log_value - spread), np.nan)
        high = np.where(has_interval, np.exp(log_value + spread), np.nan)
    return EstimateArrays(value, low, high)


def binary_metrics_array(
    tp: npt.ArrayLike,
    fp: npt.ArrayLike,
    tn: npt.ArrayLike,
    fn: npt.ArrayLike,
    confidence: float = 0.95,
    method: str = "wilson",
) -> dict[str, EstimateArrays]:
    """Vectorised :func:`binary_metrics`: counts broadcast together, float64 arrays.

    Same keys (:data:`BINARY_METRIC_NAMES`), definitions and nan rules as
    :func:`binary_metrics`; no per-element Python loop. ValueError for negative or
    fractional counts, a confidence outside (0, 1) or an unknown method.
    """
    _check_method(method)
    z = _z(confidence)
    tp_a, fp_a, tn_a, fn_a = np.broadcast_arrays(
        _as_counts(tp, "tp"), _as_counts(fp, "fp"), _as_counts(tn, "tn"), _as_counts(fn, "fn")
    )
    pos, neg = tp_a + fn_a, fp_a + tn_a
    total = pos + neg
    youden = EstimateArrays(*newcombe_difference_ci_array(tp_a, pos, fp_a, neg, confidence))
    return {
        "sensitivity": _proportion(tp_a, pos, confidence, method),
        "specificity": _proportion(tn_a, neg, confidence, method),
        "ppv": _proportion(tp_a, tp_a + fp_a, confidence, method),
        "npv": _proportion(tn_a, tn_a + fn_a, confidence, method),
        "accuracy": _proportion(tp_a + tn_a, total, confidence, method),
        "prevalence": _proportion(pos, total, confidence, method),
        "f1": _f1(tp_a, fp_a, fn_a, confidence, method),
        "youden_j": youden,
        "lr_positive": _likelihood_ratio(tp_a, pos, fp_a, neg, z),
        "lr_negative": _likelihood_ratio(fn_a, pos, tn_a, neg, z),
    }


def binary_metrics(
    tp: int,
    fp: int,
    tn: int,
    fn: int,
    confidence: float = 0.95,
    method: str = "wilson",
) -> dict[str, Estimate]:
    """Diagnostic performance of one 2x2 table, each value with its interval.

    Keys, in order (:data:`BINARY_METRIC_NAMES`), all on the 0..1 scale except the
    likelihood ratios (unitless ratios) and Youden's J (-1..1):

    - sensitivity tp/(tp+fn), specificity tn/(tn+fp), ppv tp/(tp+fp),
      npv tn/(tn+fn), accuracy (tp+tn)/n, prevalence (tp+fn)/n: proportions with
      the ``method`` interval (see :func:`metrics.proportion_ci`).
    - f1 = 2tp/(2tp+fp+fn) = 2J/(1+J) with J = tp/(tp+fp+fn), a binomial proportion;
      the interval is J's ``method`` interval mapped through 2J/(1+J) (increasing).
    - youden_j = sensitivity + specificity - 1 = sensitivity - false-positive rate,
      with Newcombe's hybrid score interval for the difference of two independent
      proportions (Newcombe 1998, Stat Med 17:873, method 10; always Wilson-based).
    - lr_positive = sens/(1-spec), lr_negative = (1-sens)/spec, with the log
      interval of Simel, Samsa & Matchar (1991, J Clin Epidemiol 44:763):
      SE(log LR+) = sqrt(1/tp - 1/(tp+fn) + 1/fp - 1/(fp+tn)),
      SE(log LR-) = sqrt(1/fn - 1/(tp+fn) + 1/tn - 1/(fp+tn)).

    Undefined values are nan, never an exception or a warning: an empty denominator
    gives value, low and high nan; an LR dividing by zero (fp = 0 for LR+, tn = 0
    for LR-) is nan; an LR of 0 (tp = 0 for LR+, fn = 0 for LR-) keeps its value 0
    but has nan low/high, as its log standard error is infinite.
    Negative or fractional counts: ValueError.
    """
    arrays = binary_metrics_array(tp, fp, tn, fn, confidence, method)
    return {
        name: Estimate(float(e.value), float(e.low), float(e.high)) for name, e in arrays.items()
    }
