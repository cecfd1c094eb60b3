"""Confidence intervals for a binomial proportion k / n."""

from __future__ import annotations

import math

from scipy.stats import norm

__all__ = ["PROPORTION_CI_METHODS", "proportion_ci"]

PROPORTION_CI_METHODS = ("wilson",)
"""Interval methods :func:`proportion_ci` accepts."""


def _check_counts(k: int, n: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be within 0..n, got k={k}, n={n}")


def proportion_ci(
    k: int, n: int, confidence: float = 0.95, method: str = "wilson"
) -> tuple[float, float]:
    """Two-sided interval for the proportion ``k / n``, as ``(low, high)`` in 0..1.

    ``wilson``: the Wilson score interval (Wilson 1927), which keeps good coverage
    for small n and proportions near 0 or 1, unlike the Wald interval.
    n = 0 gives ``(nan, nan)``; k outside 0..n, or a confidence outside (0, 1), is a
    ValueError. Example: ``proportion_ci(81, 263)`` is about ``(0.2553, 0.3662)``.
    """
    _check_counts(k, n)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    if method not in PROPORTION_CI_METHODS:
        raise ValueError(
            f"unknown interval method {method!r}; use one of {', '.join(PROPORTION_CI_METHODS)}"
        )
    if n == 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # Clamp rounding noise: at k = 0 or k = n the bound is exactly 0 or 1.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)
