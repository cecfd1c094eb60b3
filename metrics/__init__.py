"""Statistics on counts and arrays: pure functions, no database, no I/O.

>>> from metrics import proportion_ci
>>> low, high = proportion_ci(81, 263)
>>> round(low, 4), round(high, 4)
(0.2553, 0.3662)
"""

from metrics.confusion import ConfusionCounts, RateEstimate, diagnostic_rates
from metrics.proportions import PROPORTION_CI_METHODS, proportion_ci

__all__ = [
    "PROPORTION_CI_METHODS",
    "ConfusionCounts",
    "RateEstimate",
    "diagnostic_rates",
    "proportion_ci",
]
