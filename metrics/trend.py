"""Trend tests: is an event rate higher now than over the previous periods?

For trend reporting in the manner of EU MDR article 88: a count of events over an
exposure (confirmed findings per exams, misses per verified positives) in the
current period against the pooled previous periods, one-sided (an increase).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binomtest, fisher_exact

__all__ = ["RateComparison", "compare_counts", "compare_proportions"]


@dataclass(frozen=True)
class RateComparison:
    """Current against previous: rates, their ratio and the one-sided p-value of an increase.

    Rates are events per unit of exposure (nan with no exposure); ``ratio`` is
    current rate / previous rate (inf when only the current period has events, nan
    when neither has); ``p_value`` is 1.0 when there is nothing to test.
    """

    current_rate: float
    previous_rate: float
    ratio: float
    p_value: float

    def increased(self, alpha: float = 0.05) -> bool:
        """A statistically significant increase at one-sided level ``alpha``."""
        return self.p_value < alpha


def _rate(events: int, exposure: float) -> float:
    return events / exposure if exposure > 0 else math.nan


def _ratio(current: float, previous: float) -> float:
    if math.isnan(current) or math.isnan(previous):
        return math.nan
    if previous == 0:
        return math.inf if current > 0 else math.nan
    return current / previous


def _check(events: int, exposure: float, name: str) -> None:
    if events < 0 or exposure < 0:
        raise ValueError(f"{name}: counts and exposure must be >= 0")
    if events > 0 and exposure == 0:
        raise ValueError(f"{name}: events without exposure")


def compare_counts(
    current_events: int, current_exposure: float, previous_events: int, previous_exposure: float
) -> RateComparison:
    """Poisson rates compared by the exact conditional test (Przyborowski & Wilenski).

    Given the total of events, the current count is binomial with probability
    ``current_exposure / total exposure`` under equal rates; the p-value is that of
    the current count being this large or larger. Exposure in any unit (exams).
    """
    _check(current_events, current_exposure, "current period")
    _check(previous_events, previous_exposure, "previous periods")
    current = _rate(current_events, current_exposure)
    previous = _rate(previous_events, previous_exposure)
    total = current_events + previous_events
    if total == 0 or current_exposure == 0 or previous_exposure == 0:
        return RateComparison(current, previous, _ratio(current, previous), 1.0)
    share = current_exposure / (current_exposure + previous_exposure)
    p_value = binomtest(current_events, total, share, alternative="greater").pvalue
    return RateComparison(current, previous, _ratio(current, previous), float(p_value))


def compare_proportions(
    current_events: int, current_trials: int, previous_events: int, previous_trials: int
) -> RateComparison:
    """Proportions compared by Fisher's exact test, one-sided (current higher)."""
    for events, trials, name in (
        (current_events, current_trials, "current period"),
        (previous_events, previous_trials, "previous periods"),
    ):
        if not 0 <= events <= trials:
            raise ValueError(f"{name}: need 0 <= events <= trials, got {events} of {trials}")
    current = _rate(current_events, current_trials)
    previous = _rate(previous_events, previous_trials)
    if current_trials == 0 or previous_trials == 0:
        return RateComparison(current, previous, _ratio(current, previous), 1.0)
    table = [
        [current_events, current_trials - current_events],
        [previous_events, previous_trials - previous_events],
    ]
    p_value = fisher_exact(table, alternative="greater").pvalue
    return RateComparison(current, previous, _ratio(current, previous), float(p_value))
