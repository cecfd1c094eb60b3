"""ROC curve points and the area under it (AUC) with its DeLong confidence interval."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm, rankdata

__all__ = ["RocPoints", "auc_ci", "delong_variance", "roc_points"]


class RocPoints(NamedTuple):
    """Points of the empirical ROC curve, one per distinct score plus the origin.

    ``thresholds`` decrease from ``+inf`` (nothing called positive: the point (0, 0));
    point ``i`` calls positive every score ``>= thresholds[i]``. Rates are in 0..1.
    """

    fpr: NDArray[np.float64]
    tpr: NDArray[np.float64]
    thresholds: NDArray[np.float64]


def _labels_and_scores(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores differ in length: {y.size} and {s.size}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0/1 (or False/True) labels")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers: found NaN or infinity")
    return y.astype(bool), s


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")


def _delong(y: NDArray[np.bool_], s: NDArray[np.float64]) -> tuple[float, float]:
    """AUC and its DeLong variance; the fast midrank form of Sun & Xu (2014)."""
    pos, neg = s[y], s[~y]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        return (math.nan, math.nan)
    # Midranks (ties share the mean rank) within each class and in the pooled sample.
    rank_pos = rankdata(pos)
    rank_neg = rankdata(neg)
    rank_all = rankdata(np.concatenate([pos, neg]))
    # Placement values: V10[i] = P(neg < pos_i) + 0.5 P(neg = pos_i), and
    # V01[j] = P(pos > neg_j) + 0.5 P(pos = neg_j) (DeLong 1988 structural components).
    v10 = (rank_all[:m] - rank_pos) / n
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m
    auc = float(v10.mean())
    if m < 2 or n < 2:
        return (auc, math.nan)
    variance = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    return (auc, max(variance, 0.0))


def delong_variance(y_true: ArrayLike, scores: ArrayLike) -> float:
    """DeLong, DeLong & Clarke-Pearson (1988) variance of the empirical AUC.

    Computed in O(n log n) with midranks (Sun & Xu 2014, IEEE SPL 21:1389), so tied
    scores count one half. nan when either class has fewer than 2 cases; 0 when the
    classes are perfectly separated or all scores are tied. ``y_true`` holds 0/1 (or
    bool) labels; NaN or infinite scores are a ValueError.
    """
    y, s = _labels_and_scores(y_true, scores)
    return _delong(y, s)[1]


def auc_ci(
    y_true: ArrayLike, scores: ArrayLike, confidence: float = 0.95
) -> tuple[float, float, float]:
    """AUC with its DeLong interval, as ``(auc, low, high)`` in 0..1.

    AUC is the Mann-Whitney probability P(score_pos > score_neg) + 0.5 P(tie), higher
    scores meaning "more likely positive". The interval is the Wald interval
    ``auc ± z·SE`` on the DeLong standard error, clipped to [0, 1] (as pROC does).
    Edge cases: no case, or a single class, gives ``(nan, nan, nan)``; fewer than 2
    cases in a class gives ``(auc, nan, nan)``; an SE of 0 (perfect separation, or
    all scores tied) gives the degenerate ``(auc, auc, auc)`` — the DeLong variance
    sees no spread there, so read it with the class sizes. NaN scores: ValueError.
    """
    _check_confidence(confidence)
    y, s = _labels_and_scores(y_true, scores)
    auc, variance = _delong(y, s)
    if math.isnan(variance):
        return (auc, math.nan, math.nan)
    half = float(norm.ppf(0.5 + confidence / 2.0)) * math.sqrt(variance)
    return (auc, max(0.0, auc - half), min(1.0, auc + half))


def roc_points(y_true: ArrayLike, scores: ArrayLike) -> RocPoints:
    """Every point of the empirical ROC curve, as scikit-learn's ``roc_curve``.

    Equal to ``sklearn.metrics.roc_curve(y_true, scores, drop_intermediate=False)``:
    one point per distinct score in decreasing order, preceded by (0, 0) at threshold
    ``+inf``. A rate whose class is absent (single class, or no case) is nan at
    every point, without a warning; no case gives the single point (nan, nan, +inf).
    """
    y, s = _labels_and_scores(y_true, scores)
    order = np.argsort(s, kind="mergesort")[::-1]
    s_sorted = s[order]
    y_sorted = y[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    if s_sorted.size == 0:
        last_of_each = np.empty(0, dtype=np.intp)
    tps = np.r_[0, np.cumsum(y_sorted, dtype=np.int64)[last_of_each]].astype(np.float64)
    fps = np.r_[0, last_of_each + 1].astype(np.float64) - tps
    thresholds = np.r_[np.inf, s_sorted[last_of_each]].astype(np.float64)
    n_pos, n_neg = tps[-1], fps[-1]
    tpr = tps / n_pos if n_pos > 0 else np.full(tps.size, np.nan)
    fpr = fps / n_neg if n_neg > 0 else np.full(fps.size, np.nan)
    return RocPoints(fpr=fpr, tpr=tpr, thresholds=thresholds)
