"""Performance estimation while ground truth is pending: confidence-based (CBPE).

Confidence-based performance estimation (NannyML's CBPE; Kivimäki et al. 2025):
a monotone map from the device's score to P(truth positive) is fitted by isotonic
regression on a reference period whose truth is known (:func:`fit_calibrator`).
On recent cases whose truth is not yet known, with ``p_i`` the calibrated
probability and ``c_i`` the device's call (1 positive, 0 negative), the expected
confusion counts are

    E[TP] = sum p_i c_i        E[FN] = sum p_i (1 - c_i)
    E[FP] = sum (1 - p_i) c_i  E[TN] = sum (1 - p_i)(1 - c_i)

and the point estimates are the ratios of expected counts, e.g. sensitivity
E[TP] / (E[TP] + E[FN]) (:func:`estimate_performance`).

Interval: given the ``p_i``, the truths are independent Bernoulli(p_i) draws, so
the realised TP, FN, FP and TN are sums of independent Bernoulli variables
(Poisson-binomial). The interval is a *prediction* interval for the REALISED metric
under that model, by Fieller's method with a normal approximation: for a metric
A / B (sensitivity: A = TP, B = TP + FN) it is the set of r with
``(E[A] - r E[B])² <= z² Var(A - r B)``, where ``Var(A - r B) = sum (a_i - r b_i)²
p_i (1 - p_i)``. This is the score-type (Wilson-like) counterpart of the delta
method: asymmetric near 0 and 1, and exact in the limit where every p_i is 0 or 1
(the interval is then the point). When the expected denominator is within z
standard deviations of 0 the set is unbounded and the interval is [0, 1]. For PPV
and NPV the denominator (calls positive / negative) is known, and the interval is
the normal approximation to the Poisson-binomial numerator. ``std_error`` is the
delta-method standard error ``sqrt(Var(A - S B)) / E[B]`` at the estimate S.

Limitations (stated here because the product shows these numbers beside realised ones):

- :func:`estimate_performance` takes the probabilities as exact: its interval is
  too narrow when the reference period is not much larger than the window.
  :func:`estimate_from_scores` and :func:`estimate_from_bins` add the calibrator's
  sampling error by default (each isotonic block mean as a binomial proportion over
  its reference cases, independent of the window; approximate).
- CBPE only sees scores. It follows covariate shift (the score distribution
  changes, P(truth | score) does not), but it cannot see concept shift (P(truth |
  score) changes, e.g. positives now get lower scores): the estimate then stays
  where the old relation puts it while the realised metric moves. A pure prevalence
  change with unchanged class-wise score distributions (label shift) also changes
  P(truth | score) and biases the estimate. Compare against realised values as
  truth arrives.
- Calls must be the device's own calls on the same cases; scores out of the
  reference range get the calibrated probability at the nearest end (clipped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike
from scipy.special import ndtri
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "ESTIMATED_METRICS",
    "Calibrator",
    "ExpectedConfusion",
    "PerformanceEstimate",
    "calibrate_bins",
    "estimate_from_bins",
    "estimate_from_scores",
    "estimate_performance",
    "expected_confusion",
    "fit_calibrator",
]

ESTIMATED_METRICS = ("sensitivity", "specificity", "ppv", "npv")
"""Metrics :func:`estimate_performance` returns, in this order."""

FloatArray = npt.NDArray[np.float64]


# --- calibrator ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calibrator:
    """A fitted monotone (non-decreasing) map from score to P(truth positive).

    Held as the isotonic regression's thresholds (``x_thresholds`` strictly
    increasing scores, ``y_thresholds`` non-decreasing probabilities in [0, 1]) and
    evaluated by linear interpolation, constant beyond the ends (as
    ``IsotonicRegression(out_of_bounds="clip")``). Hashable, comparable and JSON-able
    via :meth:`to_dict` / :meth:`from_dict`. ``n_reference`` and ``n_positive`` are
    the reference cases (truth known) and how many were positive. ``block_counts``
    gives, per threshold, the reference cases (weight) of the isotonic block (run of
    equal ``y_thresholds``) it belongs to; it lets :func:`estimate_from_scores` add
    the calibrator's own sampling error to the interval. Empty: unknown, no such term.
    """

    x_thresholds: tuple[float, ...]
    y_thresholds: tuple[float, ...]
    n_reference: int
    n_positive: int
    block_counts: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        x = np.asarray(self.x_thresholds, dtype=np.float64)
        y = np.asarray(self.y_thresholds, dtype=np.float64)
        if x.ndim != 1 or x.size == 0 or x.shape != y.shape:
            raise ValueError(
                "x_thresholds and y_thresholds must be non-empty sequences of one length, "
                f"got {x.size} and {y.size}"
            )
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("calibrator thresholds must be finite")
        if np.any(np.diff(x) <= 0):
            raise ValueError("x_thresholds must be strictly increasing scores")
        if np.any(np.diff(y) < 0) or y[0] < 0.0 or y[-1] > 1.0:
            raise ValueError("y_thresholds must be non-decreasing probabilities within [0, 1]")
        if not 0 <= self.n_positive <= self.n_reference:
            raise ValueError(
                f"need 0 <= n_positive <= n_reference, got {self.n_positive}, {self.n_reference}"
            )
        counts = np.asarray(self.block_counts, dtype=np.float64)
        if counts.size and (counts.shape != x.shape or not (counts > 0).all()):
            raise ValueError("block_counts must be empty or one count > 0 per threshold")

    def _blocks(
        self, scores: FloatArray
    ) -> tuple[FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
        """Interpolation design: per score, blocks ``(j0, j1)`` with weights ``(1 - t, t)``.

        Returns (u, j0, j1, t) with ``u`` per block the variance of the block's mean
        probability, ``p(1-p)/n`` with p shrunk by half a case towards 1/2.
        """
        x = np.asarray(self.x_thresholds, dtype=np.float64)
        y = np.asarray(self.y_thresholds, dtype=np.float64)
        block = np.concatenate(([0], np.cumsum(np.diff(y) != 0))).astype(np.intp)
        n_blocks = int(block[-1]) + 1
        first = np.searchsorted(block, np.arange(n_blocks))
        n_j = np.asarray(self.block_counts, dtype=np.float64)[first]
        p_j = (y[first] * n_j + 0.5) / (n_j + 1.0)
        u = p_j * (1.0 - p_j) / n_j
        k = np.clip(np.searchsorted(x, scores, side="right") - 1, 0, max(x.size - 2, 0))
        k1 = np.minimum(k + 1, x.size - 1)
        width = x[k1] - x[k]
        t = np.where(width > 0, (scores - x[k]) / np.where(width > 0, width, 1.0), 0.0)
        return u, block[k], block[k1], np.clip(t, 0.0, 1.0)

    def predict(self, scores: ArrayLike) -> FloatArray:
        """Calibrated P(truth positive) for each score (0..1), same shape as ``scores``.

        Scores beyond the reference range get the value at the nearest end. NaN or
        infinite scores: ValueError.
        """
        s = np.asarray(scores, dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError("scores must be finite (no NaN or inf); drop cases without a score")
        x = np.asarray(self.x_thresholds, dtype=np.float64)
        y = np.asarray(self.y_thresholds, dtype=np.float64)
        return np.asarray(np.interp(s, x, y), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lists of floats and ints); :meth:`from_dict` inverts it exactly."""
        return {
            "x_thresholds": list(self.x_thresholds),
            "y_thresholds": list(self.y_thresholds),
            "n_reference": self.n_reference,
            "n_positive": self.n_positive,
            "block_counts": list(self.block_counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        """Rebuild from :meth:`to_dict` output; missing keys or invalid values: ValueError.

        ``block_counts`` may be absent (then no calibrator-uncertainty term).
        """
        missing = {"x_thresholds", "y_thresholds", "n_reference", "n_positive"} - set(data)
        if missing:
            raise ValueError(f"calibrator data lacks {', '.join(sorted(missing))}")
        return cls(
            tuple(float(v) for v in data["x_thresholds"]),
            tuple(float(v) for v in data["y_thresholds"]),
            int(data["n_reference"]),
            int(data["n_positive"]),
            tuple(float(v) for v in data.get("block_counts", ())),
        )


def _fit_isotonic(
    x: FloatArray, y: FloatArray, weights: FloatArray, n_reference: int, n_positive: int
) -> Calibrator:
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(x, y, sample_weight=weights)
    xs = np.asarray(model.X_thresholds_, dtype=np.float64)
    ys = np.clip(np.asarray(model.y_thresholds_, dtype=np.float64), 0.0, 1.0)
    # Reference weight per block (run of equal levels): reference points lie within
    # blocks, between the first and last threshold of their block.
    block = np.concatenate(([0], np.cumsum(np.diff(ys) != 0))).astype(np.intp)
    k = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, xs.size - 1)
    per_block = np.bincount(block[k], weights=weights, minlength=int(block[-1]) + 1)
    return Calibrator(
        tuple(float(v) for v in xs),
        tuple(float(v) for v in ys),
        n_reference,
        n_positive,
        tuple(float(v) for v in np.maximum(per_block[block], 1.0)),
    )


def _check_reference(n: int, n_positive: int, min_cases: int) -> None:
    if min_cases < 1:
        raise ValueError(f"min_cases must be >= 1, got {min_cases}")
    if n < min_cases:
        raise ValueError(
            f"the reference has {n} cases with known truth; calibration needs at least "
            f"{min_cases}: widen the reference period (or lower min_cases)"
        )
    if n_positive == 0 or n_positive == n:
        only = "negative" if n_positive == 0 else "positive"
        raise ValueError(
            f"the reference holds only truth-{only} cases ({n}); calibration needs both "
            "classes: widen the reference period"
        )


def fit_calibrator(scores: ArrayLike, truth: ArrayLike, *, min_cases: int = 100) -> Calibrator:
    """Isotonic calibration of scores on reference cases whose truth is known.

    ``truth`` holds 0/1 or False/True (1 = truly positive), one per score. As
    NannyML's CBPE: ``IsotonicRegression(out_of_bounds="clip")``, non-decreasing,
    bounded to [0, 1]. ValueError when fewer than ``min_cases`` cases, when the
    reference holds one class only (no fallback: an estimate would be meaningless),
    on NaN/inf scores, truth outside {0, 1}, or mismatched lengths.
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(truth)
    if s.ndim != 1 or t.ndim != 1 or s.shape != t.shape:
        raise ValueError(
            f"scores and truth must be 1-D of one length, got shapes {s.shape} and {t.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf); drop cases without a score")
    if t.size and not np.isin(t, (0, 1)).all():
        raise ValueError("truth must hold only 0/1 (or False/True); drop cases not yet known")
    y = t.astype(np.float64)
    n_positive = int(y.sum())
    _check_reference(int(s.size), n_positive, min_cases)
    return _fit_isotonic(s, y, np.ones_like(s), int(s.size), n_positive)


# --- estimation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedConfusion:
    """Expected confusion counts given calibrated probabilities (floats, in cases)."""

    tp: float
    fn: float
    fp: float
    tn: float

    @property
    def n(self) -> float:
        return self.tp + self.fn + self.fp + self.tn


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """An estimated metric (0..1) with a prediction interval for its realised value.

    ``n`` is the number of cases estimated; ``expected_positives`` is sum p_i (the
    expected number of truly positive cases); ``expected_denominator`` is the
    expected count the metric divides by (TP + FN for sensitivity, TN + FP for
    specificity, positive / negative calls for PPV / NPV); ``std_error`` is the
    delta-method standard error of the realised metric. ``estimate``, ``low``,
    ``high`` and ``std_error`` are nan when ``expected_denominator`` is 0 (n = 0
    included).
    """

    metric: str
    estimate: float
    low: float
    high: float
    n: int
    expected_positives: float
    expected_denominator: float
    std_error: float
    confidence: float


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), e.g. 0.95 for 95%, got {confidence}")
    return float(ndtri(0.5 + confidence / 2.0))


def _probabilities_and_calls(
    probabilities: ArrayLike, calls: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(probabilities, dtype=np.float64)
    c = np.asarray(calls)
    if p.ndim != 1 or c.ndim != 1 or p.shape != c.shape:
        raise ValueError(
            f"probabilities and calls must be 1-D of one length, got shapes {p.shape} and {c.shape}"
        )
    if not np.isfinite(p).all() or ((p < 0.0) | (p > 1.0)).any():
        raise ValueError("probabilities must be finite and within [0, 1]; use Calibrator.predict")
    if c.size and not np.isin(c, (0, 1)).all():
        raise ValueError("calls must hold only 0/1 (or False/True), 1 = device called positive")
    return p, c.astype(np.float64)


def _fieller(
    mu_a: float, mu_b: float, v_aa: float, v_ab: float, v_bb: float, z: float
) -> tuple[float, float, float, float]:
    """Estimate, low, high, std_error of A / B from means and (co)variances of A and B."""
    if not mu_b > 0.0:
        return math.nan, math.nan, math.nan, math.nan
    est = min(max(mu_a / mu_b, 0.0), 1.0)
    var = max(v_aa - 2.0 * est * v_ab + est * est * v_bb, 0.0)
    se = math.sqrt(var) / mu_b
    z2 = z * z
    a = mu_b * mu_b - z2 * v_bb
    if a <= 0.0:  # the denominator may be 0: the set of plausible ratios is unbounded
        return est, 0.0, 1.0, se
    b = mu_a * mu_b - z2 * v_ab
    c = mu_a * mu_a - z2 * v_aa
    root = math.sqrt(max(b * b - a * c, 0.0))
    low = min(max((b - root) / a, 0.0), est)
    high = max(min((b + root) / a, 1.0), est)
    return est, low, high, se


def _reference_terms(
    calibrator: Calibrator, scores: FloatArray, c: FloatArray, m: FloatArray
) -> dict[str, tuple[float, float, float]]:
    """Calibrator sampling error as additions to (Var A, Cov(A, B), Var B) per metric.

    Each calibrated probability is a (mix of) isotonic block mean(s) p_j over n_j
    reference cases, treated as binomial means with variance u_j = p_j(1-p_j)/n_j and
    independent of the new cases. The pivot A - rB has mean sum_i g_i(r) p_i, so its
    variance gains sum_j G_j(r)² u_j with G_j(r) = C_j - r N_j (C_j, D_j, N_j: weight
    of positive-call, negative-call and all cases on block j).
    """
    u, j0, j1, t = calibrator._blocks(scores)
    size = u.size

    def per_block(w: FloatArray) -> FloatArray:
        low = np.bincount(j0, w * (1.0 - t), minlength=size)
        return np.asarray(low + np.bincount(j1, w * t, minlength=size), dtype=np.float64)

    cc, dd = per_block(m * c), per_block(m * (1.0 - c))
    nn = cc + dd
    v_cc, v_cn, v_nn = (
        float(np.sum(cc * cc * u)),
        float(np.sum(cc * nn * u)),
        float(np.sum(nn * nn * u)),
    )
    v_dd, v_dn = float(np.sum(dd * dd * u)), float(np.sum(dd * nn * u))
    return {
        "sensitivity": (v_cc, v_cn, v_nn),
        "specificity": (v_dd, v_dn, v_nn),
        "ppv": (v_cc, 0.0, 0.0),
        "npv": (v_dd, 0.0, 0.0),
    }


def _estimate(
    p: FloatArray,
    c: FloatArray,
    m: FloatArray,
    confidence: float,
    reference: dict[str, tuple[float, float, float]] | None = None,
) -> dict[str, PerformanceEstimate]:
    """Core on cases with probability p, call c and multiplicity m (1 per case).

    ``reference`` adds the calibrator's sampling variance (:func:`_reference_terms`).
    """
    z = _z(confidence)
    v = m * p * (1.0 - p)  # Var(Y_i) = Var(1 - Y_i), times multiplicity
    tp = float(np.sum(m * p * c))
    fn = float(np.sum(m * p * (1.0 - c)))
    fp = float(np.sum(m * (1.0 - p) * c))
    tn = float(np.sum(m * (1.0 - p) * (1.0 - c)))
    v_pos_call = float(np.sum(v * c))
    v_neg_call = float(np.sum(v * (1.0 - c)))
    v_all = v_pos_call + v_neg_call
    n_pos_call = float(np.sum(m * c))
    n_neg_call = float(np.sum(m * (1.0 - c)))
    n = round(float(np.sum(m)))
    positives = tp + fn
    # (E[A], E[B], Var A, Cov(A, B), Var B); a denominator of calls is not random.
    moments = {
        "sensitivity": (tp, tp + fn, v_pos_call, v_pos_call, v_all),
        "specificity": (tn, tn + fp, v_neg_call, v_neg_call, v_all),
        "ppv": (tp, n_pos_call, v_pos_call, 0.0, 0.0),
        "npv": (tn, n_neg_call, v_neg_call, 0.0, 0.0),
    }
    result: dict[str, PerformanceEstimate] = {}
    for metric in ESTIMATED_METRICS:
        mu_a, mu_b, v_aa, v_ab, v_bb = moments[metric]
        if reference is not None:
            r_aa, r_ab, r_bb = reference[metric]
            v_aa, v_ab, v_bb = v_aa + r_aa, v_ab + r_ab, v_bb + r_bb
        est, low, high, se = _fieller(mu_a, mu_b, v_aa, v_ab, v_bb, z)
        result[metric] = PerformanceEstimate(
            metric, est, low, high, n, positives, mu_b, se, confidence
        )
    return result


def expected_confusion(probabilities: ArrayLike, calls: ArrayLike) -> ExpectedConfusion:
    """Expected TP, FN, FP, TN given calibrated probabilities and the device's calls.

    ``E[TP] = sum p_i c_i`` etc. (see the module docstring). Empty input gives zeros.
    ValueError for probabilities outside [0, 1], calls outside {0, 1}, or mismatched
    lengths.
    """
    p, c = _probabilities_and_calls(probabilities, calls)
    return ExpectedConfusion(
        tp=float(np.sum(p * c)),
        fn=float(np.sum(p * (1.0 - c))),
        fp=float(np.sum((1.0 - p) * c)),
        tn=float(np.sum((1.0 - p) * (1.0 - c))),
    )


def estimate_performance(
    probabilities: ArrayLike, calls: ArrayLike, confidence: float = 0.95
) -> dict[str, PerformanceEstimate]:
    """CBPE of sensitivity, specificity, PPV and NPV (keys :data:`ESTIMATED_METRICS`).

    ``probabilities`` are calibrated P(truth positive) per case (from
    :meth:`Calibrator.predict`), ``calls`` the device's calls (1/True positive).
    Estimates are ratios of expected counts; intervals are Fieller/normal
    prediction intervals for the realised metric (module docstring), clamped to
    [0, 1]. n = 0, or a metric whose expected denominator is 0 (e.g. specificity
    when every p_i is 1, PPV without a positive call), gives nan for that metric.
    ValueError for invalid probabilities, calls or confidence.
    """
    p, c = _probabilities_and_calls(probabilities, calls)
    return _estimate(p, c, np.ones_like(p), confidence)


def estimate_from_scores(
    calibrator: Calibrator,
    scores: ArrayLike,
    calls: ArrayLike,
    confidence: float = 0.95,
    *,
    reference_uncertainty: bool = True,
) -> dict[str, PerformanceEstimate]:
    """:func:`estimate_performance` on ``calibrator.predict(scores)``.

    Same estimates. With ``reference_uncertainty`` (default) and a calibrator that
    knows its ``block_counts`` (every fitted one), the interval also carries the
    calibrator's sampling error: each isotonic block mean is treated as a binomial
    proportion over its reference cases (an approximation that ignores the
    data-driven choice of blocks). Without it the interval assumes the calibrator is
    exact and is too narrow unless the reference is much larger than the window.
    """
    p, c = _probabilities_and_calls(calibrator.predict(scores), calls)
    m = np.ones_like(p)
    reference = None
    if reference_uncertainty and calibrator.block_counts and p.size:
        s = np.asarray(scores, dtype=np.float64)
        reference = _reference_terms(calibrator, s, c, m)
    return _estimate(p, c, m, confidence, reference)


# --- from per-bin score histograms ----------------------------------------------------------


def _bin_counts(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-bin counts")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr != np.floor(arr)).any():
        raise ValueError(f"{name} must hold whole-number counts >= 0")
    return arr


def _bin_means(counts: FloatArray, sums: ArrayLike | None, name: str) -> FloatArray:
    """Mean score per bin: ``sums / counts``, or the bin centre when no sums or no case."""
    n_bins = counts.size
    centres = (np.arange(n_bins, dtype=np.float64) + 0.5) / n_bins
    if sums is None:
        return centres
    s = np.asarray(sums, dtype=np.float64)
    if s.shape != counts.shape:
        raise ValueError(f"{name} must have one entry per bin ({n_bins}), got shape {s.shape}")
    lower = np.arange(n_bins, dtype=np.float64) / n_bins
    upper = lower + 1.0 / n_bins
    tol = 1e-9 * np.maximum(counts, 1.0)
    outside = (s < counts * lower - tol) | (s > counts * upper + tol)
    if not np.isfinite(s).all() or outside.any():
        raise ValueError(f"{name} must lie within counts x [bin lower edge, bin upper edge]")
    return np.where(counts > 0, s / np.maximum(counts, 1.0), centres)


def calibrate_bins(
    positive_counts: ArrayLike,
    negative_counts: ArrayLike,
    positive_score_sums: ArrayLike | None = None,
    negative_score_sums: ArrayLike | None = None,
    *,
    min_cases: int = 100,
) -> Calibrator:
    """Isotonic calibration from per-bin score histograms of the reference period.

    Bins are equal-width on [0, 1] (bin b holds ``b/K <= score < (b+1)/K``, the
    last also 1), as kept by the product per day for truth positive and negative.
    Each bin is one point at its mean known score (``(pos_sum + neg_sum) /
    (pos + neg)``, or the bin centre when sums are not given) with the positive
    fraction as y and the case count as weight. This approximates :func:`fit_calibrator`
    on the cases: scores within a bin are pooled. ValueError as for
    :func:`fit_calibrator` (too few cases, one class only) or on invalid counts.
    """
    pos = _bin_counts(positive_counts, "positive_counts")
    neg = _bin_counts(negative_counts, "negative_counts")
    if pos.shape != neg.shape:
        raise ValueError(
            f"positive_counts and negative_counts differ in length: {pos.size} and {neg.size}"
        )
    pos_mean = _bin_means(pos, positive_score_sums, "positive_score_sums")
    neg_mean = _bin_means(neg, negative_score_sums, "negative_score_sums")
    total = pos + neg
    _check_reference(int(total.sum()), int(pos.sum()), min_cases)
    keep = total > 0
    x = (pos_mean * pos + neg_mean * neg)[keep] / total[keep]
    return _fit_isotonic(x, pos[keep] / total[keep], total[keep], int(total.sum()), int(pos.sum()))


def estimate_from_bins(
    calibrator: Calibrator,
    counts: ArrayLike,
    score_sums: ArrayLike | None = None,
    *,
    threshold: float,
    confidence: float = 0.95,
    reference_uncertainty: bool = True,
) -> dict[str, PerformanceEstimate]:
    """CBPE from a per-bin histogram of cases whose truth is unknown.

    Every case in bin b gets ``calibrator.predict(mean score of bin b)`` (the bin
    centre when ``score_sums`` is None). Calls are ``score >= threshold``, which a
    histogram only determines when ``threshold`` is a bin edge ``k/K`` (0 <= k <= K):
    otherwise ValueError. Intervals as in :func:`estimate_performance` (cases
    independent, each Bernoulli with its bin's probability); pooling scores within
    a bin is an approximation of the per-case estimate. ``reference_uncertainty``
    as in :func:`estimate_from_scores`.
    """
    n_b = _bin_counts(counts, "counts")
    n_bins = n_b.size
    edge = threshold * n_bins
    if not (math.isfinite(edge) and 0.0 <= edge <= n_bins and abs(edge - round(edge)) < 1e-9):
        raise ValueError(
            f"threshold {threshold} is not an edge of the {n_bins} equal-width bins: calls "
            f"cannot be read from the histogram; use estimate_from_scores on the cases"
        )
    means = _bin_means(n_b, score_sums, "score_sums")
    p = calibrator.predict(means)
    c = (np.arange(n_bins) >= round(edge)).astype(np.float64)
    reference = None
    if reference_uncertainty and calibrator.block_counts:
        reference = _reference_terms(calibrator, means, c, n_b)
    return _estimate(p, c, n_b, confidence, reference)
