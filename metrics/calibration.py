"""Calibration of predicted probabilities: Brier score, ECE, calibration intercept and slope."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit

__all__ = [
    "PROBABILITY_CLIP",
    "CalibrationBins",
    "CalibrationFit",
    "brier_from_sums",
    "brier_score",
    "calibration_bins",
    "calibration_intercept_slope",
    "ece_from_bins",
    "expected_calibration_error",
]

PROBABILITY_CLIP = 1e-12
"""Probabilities are clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] before the logit."""


class CalibrationBins(NamedTuple):
    """Per-bin sufficient statistics of equal-width probability bins on [0, 1]."""

    counts: NDArray[np.int64]
    score_sums: NDArray[np.float64]
    positive_counts: NDArray[np.int64]


class CalibrationFit(NamedTuple):
    """Logistic recalibration: ideal calibration is intercept 0 and slope 1.

    ``intercept`` is calibration-in-the-large (the slope fixed at 1); ``slope`` is
    the coefficient of logit(p). Each comes with its model-based standard error
    (inverse observed information); nan where not estimable.
    """

    intercept: float
    slope: float
    intercept_se: float
    slope_se: float


def _outcomes_and_probabilities(
    y: ArrayLike, p: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y_arr = np.asarray(y)
    p_arr = np.asarray(p, dtype=np.float64)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError(f"y and p must be 1-D, got shapes {y_arr.shape} and {p_arr.shape}")
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"y and p differ in length: {y_arr.size} and {p_arr.size}")
    if y_arr.size and not np.isin(y_arr, (0, 1)).all():
        raise ValueError("y must hold only 0/1 (or False/True) outcomes")
    if np.isnan(p_arr).any():
        raise ValueError("p must not contain NaN")
    if ((p_arr < 0.0) | (p_arr > 1.0)).any():
        raise ValueError("p must hold probabilities within [0, 1]")
    return y_arr.astype(np.float64), p_arr


def brier_score(y: ArrayLike, p: ArrayLike) -> float:
    """Mean squared difference between p and the 0/1 outcome, in 0..1 (lower is better).

    Empty input gives nan. y outside {0, 1}, p outside [0, 1] or NaN: ValueError.
    """
    y_arr, p_arr = _outcomes_and_probabilities(y, p)
    if y_arr.size == 0:
        return math.nan
    return float(np.mean((p_arr - y_arr) ** 2))


def brier_from_sums(n: int, sum_p: float, sum_p2: float, sum_p_pos: float, n_pos: int) -> float:
    """Brier score from running sums: ``(sum p² - 2·sum_{y=1} p + n_pos) / n``.

    ``sum_p`` is the sum of all p (only checked: ``sum_p_pos <= sum_p``); ``sum_p_pos``
    sums p over the positives. n = 0 gives nan; counts outside 0..n: ValueError.
    The result is floored at 0 against rounding in the sums.
    """
    if n < 0 or not 0 <= n_pos <= n:
        raise ValueError(f"need 0 <= n_pos <= n, got n={n}, n_pos={n_pos}")
    if min(sum_p, sum_p2, sum_p_pos) < 0.0:
        raise ValueError("sums of probabilities must be >= 0")
    if sum_p_pos > sum_p * (1.0 + 1e-12):
        raise ValueError(f"sum_p_pos ({sum_p_pos}) cannot exceed sum_p ({sum_p})")
    if n == 0:
        return math.nan
    return max(0.0, (sum_p2 - 2.0 * sum_p_pos + n_pos) / n)


def calibration_bins(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> CalibrationBins:
    """Bin the cases on p into ``n_bins`` equal-width bins of [0, 1].

    Bin ``b`` holds ``b/n_bins <= p < (b+1)/n_bins`` (index ``floor(p·n_bins)``); the
    last bin also holds p = 1. Returns counts, sums of p and counts of y = 1 per bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    y_arr, p_arr = _outcomes_and_probabilities(y, p)
    index = np.minimum(np.floor(p_arr * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins).astype(np.int64)
    score_sums = np.bincount(index, weights=p_arr, minlength=n_bins).astype(np.float64)
    positives = np.bincount(index, weights=y_arr, minlength=n_bins)
    return CalibrationBins(counts, score_sums, np.rint(positives).astype(np.int64))


def ece_from_bins(counts: ArrayLike, score_sums: ArrayLike, positive_counts: ArrayLike) -> float:
    """ECE from per-bin counts, sums of p and counts of positives.

    ``sum_b (n_b/N)·|mean(y_b) - mean(p_b)|``, which is ``sum_b |pos_b - sum_p_b| / N``.
    No case at all gives nan; mismatched shapes or impossible counts: ValueError.
    """
    n_b = np.asarray(counts, dtype=np.float64)
    s_b = np.asarray(score_sums, dtype=np.float64)
    k_b = np.asarray(positive_counts, dtype=np.float64)
    if n_b.ndim != 1 or n_b.shape != s_b.shape or n_b.shape != k_b.shape:
        raise ValueError("counts, score_sums and positive_counts must be 1-D of one length")
    if not (np.isfinite(n_b).all() and np.isfinite(s_b).all() and np.isfinite(k_b).all()):
        raise ValueError("bin statistics must be finite")
    if (n_b < 0).any() or (k_b < 0).any() or (k_b > n_b).any():
        raise ValueError("need 0 <= positive_counts <= counts in every bin")
    if (s_b < 0).any() or (s_b > n_b * (1.0 + 1e-12)).any():
        raise ValueError("score_sums must lie within 0..counts (probabilities are in [0, 1])")
    total = float(n_b.sum())
    if total == 0.0:
        return math.nan
    return float(np.abs(k_b - s_b).sum() / total)


def expected_calibration_error(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error (ECE) over equal-width bins, in 0..1.

    ``sum over non-empty bins of (n_b/N)·|mean(y_b) - mean(p_b)|``, bins as in
    :func:`calibration_bins` (the last bin includes p = 1). Empty input gives nan.
    """
    bins = calibration_bins(y, p, n_bins)
    return ece_from_bins(bins.counts, bins.score_sums, bins.positive_counts)


def _newton_logistic(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    offset: NDArray[np.float64],
    start: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Maximum likelihood of logit P(y=1) = x·beta + offset by damped Newton-Raphson.

    Returns (beta, covariance) or None when it does not converge.
    """

    def loglik(beta: NDArray[np.float64]) -> float:
        eta = x @ beta + offset
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    beta = start.astype(np.float64)
    current = loglik(beta)
    for _ in range(200):
        mu = expit(x @ beta + offset)
        info = x.T @ (x * (mu * (1.0 - mu))[:, None])
        try:
            step = np.linalg.solve(info, x.T @ (y - mu))
        except np.linalg.LinAlgError:
            return None
        if not np.isfinite(step).all():
            return None
        scale = 1.0
        while True:
            candidate = beta + scale * step
            value = loglik(candidate)
            if value >= current - 1e-12 * abs(current) or scale < 1e-10:
                break
            scale /= 2.0
        beta, current = candidate, value
        if np.max(np.abs(scale * step)) < 1e-11 * (1.0 + np.max(np.abs(beta))):
            mu = expit(x @ beta + offset)
            info = x.T @ (x * (mu * (1.0 - mu))[:, None])
            try:
                covariance = np.linalg.inv(info)
            except np.linalg.LinAlgError:
                return None
            return beta, covariance
    return None


def calibration_intercept_slope(y: ArrayLike, p: ArrayLike) -> CalibrationFit:
    """Calibration intercept and slope by logistic recalibration (Van Calster et al. 2016, 2019).

    slope: b in ``logit P(y=1) = a + b·logit(p)``; intercept (calibration-in-the-large):
    a' in ``logit P(y=1) = a' + logit(p)`` (logit(p) as offset). p is clipped to
    [1e-12, 1 - 1e-12] before the logit. Maximum likelihood by Newton-Raphson.
    Not estimable, hence nan (never a warning): everything with fewer than 2 cases or
    a single outcome class; the slope (and its SE) when all p are equal or the classes
    are separated on logit(p) (every positive at or above every negative, or the
    reverse), where the maximum-likelihood slope is infinite or undefined.
    """
    y_arr, p_arr = _outcomes_and_probabilities(y, p)
    nan = CalibrationFit(math.nan, math.nan, math.nan, math.nan)
    n = y_arr.size
    n_pos = float(y_arr.sum())
    if n < 2 or n_pos in (0.0, float(n)):
        return nan
    lp = logit(np.clip(p_arr, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP))
    ones = np.ones((n, 1))

    fit = _newton_logistic(ones, y_arr, lp, np.zeros(1))
    intercept, intercept_se = math.nan, math.nan
    if fit is not None:
        intercept, intercept_se = float(fit[0][0]), math.sqrt(float(fit[1][0, 0]))

    slope, slope_se = math.nan, math.nan
    pos, neg = lp[y_arr == 1.0], lp[y_arr == 0.0]
    separated = pos.min() >= neg.max() or neg.min() >= pos.max()
    if not separated:
        design = np.column_stack([np.ones(n), lp])
        fit = _newton_logistic(design, y_arr, np.zeros(n), np.array([0.0, 1.0]))
        if fit is not None:
            slope, slope_se = float(fit[0][1]), math.sqrt(float(fit[1][1, 1]))
    return CalibrationFit(intercept, slope, intercept_se, slope_se)
