"""AI scores as devices give them: scales, conversion to 0..1, and the operating threshold.

A device states its score on a scale (registry ``score_scale``): ``unit`` (0..1, the
default), ``percent`` (0..100) or ``logit`` (any real number, a probability's
log-odds). Ingestion converts every score to 0..1 (percent / 100, the logistic
function for logits); thresholds in the registry are written on the device's own
scale (as its instructions for use give them) and converted the same way.

The AI result at a threshold: ``positive`` when the score is at or above it
(``score >= threshold``, the convention of most vendors), ``negative`` below.
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = [
    "SCALE_RANGES",
    "SCORE_SCALES",
    "ResultCheck",
    "ScoreScale",
    "check_result",
    "in_scale",
    "result_at",
    "scale_range",
    "to_unit",
]

ScoreScale = Literal["unit", "percent", "logit"]
SCORE_SCALES: Final[tuple[ScoreScale, ...]] = ("unit", "percent", "logit")
SCALE_RANGES: Final[dict[ScoreScale, tuple[float, float]]] = {
    "unit": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "logit": (-math.inf, math.inf),
}
"""The values a raw score may take on each scale (bounds included)."""

ResultCheck = Literal["derived", "agrees", "contradicts"]
"""How a stored AI result stands against its score and the device's primary threshold:
``derived`` (absent from the source, derived from the score), ``agrees`` /
``contradicts`` (given, and the score is on the same / the other side of the
threshold). None: given and not checkable (no score, no threshold, indeterminate)."""


def scale_range(scale: ScoreScale) -> str:
    """The range of a scale as the messages write it: ``0..1``, ``0..100``, ``any number``."""
    low, high = SCALE_RANGES[scale]
    return "any number" if math.isinf(low) else f"{low:g}..{high:g}"


def in_scale(value: float, scale: ScoreScale) -> bool:
    """Whether ``value`` is a finite number inside the range of ``scale``."""
    low, high = SCALE_RANGES[scale]
    return math.isfinite(value) and low <= value <= high


def to_unit(value: float, scale: ScoreScale) -> float:
    """A raw score (or threshold) of ``scale`` converted to 0..1 (it must be in range)."""
    if scale == "percent":
        return value / 100.0
    if scale == "logit":
        # The logistic function, without overflow for large negative logits.
        if value >= 0:
            return 1.0 / (1.0 + math.exp(-value))
        exp = math.exp(value)
        return exp / (1.0 + exp)
    return value


def result_at(score: float, threshold: float) -> str:
    """``positive`` when ``score >= threshold``, else ``negative`` (both on one scale)."""
    return "positive" if score >= threshold else "negative"


def check_result(result: str, score: float | None, threshold: float | None) -> ResultCheck | None:
    """How a given ``result`` stands against ``score`` and ``threshold`` (both 0..1):
    ``agrees``, ``contradicts`` (a positive below the threshold, a negative at or above
    it), or None when it cannot be checked (no score, no threshold, indeterminate)."""
    if score is None or threshold is None or result not in ("positive", "negative"):
        return None
    return "agrees" if result_at(score, threshold) == result else "contradicts"
