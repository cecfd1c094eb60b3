"""Diagnostic performance from confusion counts: sensitivity, specificity, PPV, NPV."""

from __future__ import annotations

import math
from dataclasses import dataclass

from metrics.proportions import proportion_ci

__all__ = ["ConfusionCounts", "RateEstimate", "diagnostic_rates"]


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
