"""Observed performance against the manufacturer's claimed rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binomtest

from metrics.proportions import proportion_ci

__all__ = ["CLAIM_ALTERNATIVES", "ClaimComparison", "compare_to_claim"]

CLAIM_ALTERNATIVES = ("less", "greater", "two-sided")
"""Alternatives :func:`compare_to_claim` accepts (as in scipy.stats.binomtest)."""


@dataclass(frozen=True, slots=True)
class ClaimComparison:
    """An observed proportion against a claimed one (all rates on the 0..1 scale).

    ``below_claim`` is True when the interval's ``high`` is below ``claimed``; it is
    False when n = 0 (estimate, low, high and p_value are then nan).
    """

    estimate: float
    low: float
    high: float
    claimed: float
    p_value: float
    below_claim: bool
    alternative: str


def compare_to_claim(
    k: int,
    n: int,
    claimed: float,
    alternative: str = "less",
    confidence: float = 0.95,
    method: str = "wilson",
) -> ClaimComparison:
    """Compare ``k / n`` (e.g. true positives over positives) with a claimed rate.

    The interval is :func:`metrics.proportion_ci` with ``method``. The p-value is
    the exact binomial test of H0: rate = ``claimed`` (scipy.stats.binomtest);
    ``"less"`` (default) tests whether the true rate is below the claim,
    ``"greater"`` whether it is above, ``"two-sided"`` either. n = 0 gives nan
    estimate, interval and p-value and ``below_claim=False``. ValueError for
    ``claimed`` outside (0, 1], an unknown alternative, or invalid counts/confidence.
    """
    if not 0.0 < claimed <= 1.0:
        raise ValueError(f"claimed must be a proportion within (0, 1], got {claimed}")
    if alternative not in CLAIM_ALTERNATIVES:
        raise ValueError(
            f"unknown alternative {alternative!r}; use one of {', '.join(CLAIM_ALTERNATIVES)}"
        )
    low, high = proportion_ci(k, n, confidence, method)
    if n == 0:
        return ClaimComparison(math.nan, low, high, claimed, math.nan, False, alternative)
    p_value = float(binomtest(int(k), int(n), claimed, alternative=alternative).pvalue)
    return ClaimComparison(k / n, low, high, claimed, p_value, high < claimed, alternative)
