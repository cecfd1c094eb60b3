"""Sensitivity and specificity corrected for partial verification (Begg & Greenes 1983).

When only some exams get a reference standard (truth), and AI-positive exams are
verified more often than AI-negative ones, the naive sensitivity from the verified
exams is too high and the specificity too low. If verification depends only on the
AI result (missing at random given the test), Begg & Greenes (1983, Biometrics
39:207) recover both: P(D+|T) comes from the verified exams, P(T) from all exams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

__all__ = ["VerificationCorrected", "begg_greenes"]


@dataclass(frozen=True, slots=True)
class VerificationCorrected:
    """Corrected sensitivity and specificity (0..1) with their intervals.

    ``verified_rate_positive`` / ``_negative``: share of test-positive / test-negative
    exams that have a reference result (nan when there is no such exam).
    """

    sensitivity: float
    sensitivity_low: float
    sensitivity_high: float
    specificity: float
    specificity_low: float
    specificity_high: float
    verified_rate_positive: float
    verified_rate_negative: float


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _weights(
    tp: float, fp: float, tn: float, fn: float, u_pos: float, u_neg: float
) -> tuple[float, float]:
    """Inverse verification rates n1/v1 and n0/v0; 0 for a test result nobody had."""
    n1, n0 = tp + fp + u_pos, tn + fn + u_neg
    w1 = 0.0 if n1 == 0 else _ratio(n1, tp + fp)
    w0 = 0.0 if n0 == 0 else _ratio(n0, tn + fn)
    return w1, w0


def _estimates(
    tp: float, fp: float, tn: float, fn: float, u_pos: float, u_neg: float
) -> tuple[float, float]:
    w1, w0 = _weights(tp, fp, tn, fn, u_pos, u_neg)
    sens = _ratio(tp * w1, tp * w1 + fn * w0)
    spec = _ratio(tn * w0, tn * w0 + fp * w1)
    return sens, spec


def _logit_variances(
    tp: float, fp: float, tn: float, fn: float, u_pos: float, u_neg: float
) -> tuple[float, float]:
    """Delta-method variances of logit(sens) and logit(spec); inf at a zero cell."""
    n1, n0 = tp + fp + u_pos, tn + fn + u_neg
    v1, v0 = tp + fp, tn + fn
    if 0 in (n1, n0, v1, v0):
        return (math.inf, math.inf)
    # logit(sens) = logit(q) + log P(D+|T+) - log P(D+|T-), q = P(T+) = n1/N: the three
    # estimates are asymptotically independent (the likelihood factorises).
    base = 1.0 / n1 + 1.0 / n0
    var_sens = base + (_ratio(fp, tp * v1) if fp else 0.0) + (_ratio(tn, fn * v0) if tn else 0.0)
    var_spec = base + (_ratio(tp, fp * v1) if tp else 0.0) + (_ratio(fn, tn * v0) if fn else 0.0)
    return (
        math.inf if math.isnan(var_sens) else var_sens,
        math.inf if math.isnan(var_spec) else var_spec,
    )


def _logit_interval(estimate: float, variance: float, z: float) -> tuple[float, float]:
    centre = math.log(estimate / (1.0 - estimate))
    half = z * math.sqrt(variance)
    return (1.0 / (1.0 + math.exp(-(centre - half))), 1.0 / (1.0 + math.exp(-(centre + half))))


def begg_greenes(
    tp: int,
    fp: int,
    tn: int,
    fn: int,
    unverified_positive: int,
    unverified_negative: int,
    confidence: float = 0.95,
) -> VerificationCorrected:
    """Begg-Greenes corrected sensitivity and specificity with Wald intervals on the logit scale.

    Verified counts: ``tp`` (test+ D+), ``fp`` (test+ D-), ``tn`` (test- D-), ``fn``
    (test- D+); unverified exams by test result: ``unverified_positive``,
    ``unverified_negative``. With n1, n0 all test-positive / test-negative exams,
    sens = n1·P(D+|T+) / (n1·P(D+|T+) + n0·P(D+|T-)), and spec likewise — the same as
    weighting each verified exam by 1 / (verification rate of its test result).

    Interval: ``expit(logit(est) ± z·SE)``, SE by the delta method (Begg & Greenes
    1983; Zhou, Obuchowski & McClish 2011, §10.1): Var(logit sens) = 1/n1 + 1/n0 +
    fp/(tp·v1) + tn/(fn·v0), with v1 = tp + fp and v0 = tn + fn the verified counts;
    Var(logit spec) = 1/n1 + 1/n0 + tp/(fp·v1) + fn/(tn·v0). It stays inside (0, 1).
    An estimate of exactly 0 or 1 has no logit: its bounds are then computed with 0.5
    added to each verified cell (Haldane-Anscombe) and extended to reach the estimate,
    e.g. sens = 1 gives (low, 1).

    nan where undefined: no verified exam among test-positives (or negatives) while
    some exist, or no diseased (non-diseased) exam at all. With no unverified exam,
    or equal verification rates, the estimates equal the naive tp/(tp+fn) and
    tn/(tn+fp). Negative counts, or a confidence outside (0, 1): ValueError.
    """
    counts = {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "unverified_positive": unverified_positive,
        "unverified_negative": unverified_negative,
    }
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    cells = (float(tp), float(fp), float(tn), float(fn))
    unverified = (float(unverified_positive), float(unverified_negative))
    sens, spec = _estimates(*cells, *unverified)
    var_sens, var_spec = _logit_variances(*cells, *unverified)
    smoothed = (cells[0] + 0.5, cells[1] + 0.5, cells[2] + 0.5, cells[3] + 0.5)
    s_sens, s_spec = _estimates(*smoothed, *unverified)
    s_var_sens, s_var_spec = _logit_variances(*smoothed, *unverified)
    z = float(norm.ppf(0.5 + confidence / 2.0))

    def interval(est: float, var: float, s_est: float, s_var: float) -> tuple[float, float]:
        if math.isnan(est):
            return (math.nan, math.nan)
        if 0.0 < est < 1.0 and math.isfinite(var):
            return _logit_interval(est, var, z)
        low, high = _logit_interval(s_est, s_var, z)
        return (min(low, est), max(high, est))

    sens_low, sens_high = interval(sens, var_sens, s_sens, s_var_sens)
    spec_low, spec_high = interval(spec, var_spec, s_spec, s_var_spec)
    n1 = tp + fp + unverified_positive
    n0 = tn + fn + unverified_negative
    return VerificationCorrected(
        sensitivity=sens,
        sensitivity_low=sens_low,
        sensitivity_high=sens_high,
        specificity=spec,
        specificity_low=spec_low,
        specificity_high=spec_high,
        verified_rate_positive=_ratio(tp + fp, n1),
        verified_rate_negative=_ratio(tn + fn, n0),
    )
