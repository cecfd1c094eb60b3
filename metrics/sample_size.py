"""Sample size to estimate sensitivity or specificity to a given precision.

Buderer (1996), Acad Emerg Med 3:895: the cases (positives for sensitivity,
negatives for specificity) needed for an interval of half-width d around an
expected proportion p are ceil(z^2 p (1 - p) / d^2); the exams needed are
ceil(cases / share), share being the prevalence (sensitivity) or 1 - prevalence
(specificity). Dividing the rounded-up cases, rather than Buderer's unrounded
count, makes the expected number of cases among the exams reach the requirement
(it can add a few exams: 695 rather than 692 for p = 0.90, d = 0.05, prevalence 0.20).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from metrics.proportions import _z

__all__ = [
    "SampleSize",
    "sample_size_array",
    "sample_size_for_sensitivity",
    "sample_size_for_specificity",
]

IntArray = npt.NDArray[np.int64]

# Relative slack before rounding up, so that 139 / 0.2 = 695.0000000000001 gives 695.
_ROUNDING_SLACK = 1e-12


def _ceil(x: npt.NDArray[np.float64]) -> IntArray:
    return np.ceil(x * (1.0 - _ROUNDING_SLACK)).astype(np.int64)


class SampleSize(NamedTuple):
    """Cases needed (positives for sensitivity, negatives for specificity), and the
    exams needed to expect that many cases (None when no prevalence was given)."""

    cases: int
    exams: int | None


def sample_size_array(
    expected: npt.ArrayLike,
    half_width: npt.ArrayLike = 0.05,
    share: npt.ArrayLike = np.nan,
    confidence: float = 0.95,
) -> tuple[IntArray, IntArray]:
    """Vectorised Buderer sample size: ``(cases, exams)`` int64 arrays (broadcast).

    ``expected`` is the anticipated proportion in (0, 1), ``half_width`` the
    interval half-width in (0, 0.5] (proportion units, 0.05 = 5 points),
    ``share`` the fraction of exams that are cases, in (0, 1]: prevalence for
    sensitivity, 1 - prevalence for specificity. ``exams`` is -1 where ``share`` is
    nan or 0 (unknown, or no such cases). Other values out of range: ValueError.
    """
    z = _z(confidence)
    p = np.asarray(expected, dtype=np.float64)
    d = np.asarray(half_width, dtype=np.float64)
    s = np.asarray(share, dtype=np.float64)
    if not np.all((p > 0) & (p < 1)):
        raise ValueError("expected must be a proportion strictly within (0, 1)")
    if not np.all((d > 0) & (d <= 0.5)):
        raise ValueError("half_width must be within (0, 0.5], e.g. 0.05 for +/-5 points")
    if np.any((s < 0) | (s > 1)):
        raise ValueError("share (prevalence or 1 - prevalence) must be within (0, 1]")
    cases = _ceil(z * z * p * (1.0 - p) / (d * d))
    known = np.isfinite(s) & (s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exams = np.where(known, _ceil(cases / np.where(known, s, 1.0)), -1)
    cases, exams = np.broadcast_arrays(cases, exams)
    return cases.astype(np.int64), exams.astype(np.int64)


def _sample_size(
    expected: float, half_width: float, share: float | None, confidence: float
) -> SampleSize:
    cases, exams = sample_size_array(
        expected, half_width, np.nan if share is None else share, confidence
    )
    return SampleSize(int(cases), None if share is None else int(exams))


def _check_prevalence(prevalence: float | None) -> None:
    if prevalence is not None and not 0.0 < prevalence <= 1.0:
        raise ValueError(f"prevalence must be within (0, 1], got {prevalence}")


def sample_size_for_sensitivity(
    expected: float,
    half_width: float = 0.05,
    prevalence: float | None = None,
    confidence: float = 0.95,
) -> SampleSize:
    """Positives (and exams, if ``prevalence`` is given) to estimate a sensitivity.

    Buderer (1996): positives = ceil(z^2 p (1-p) / d^2), exams = ceil(positives /
    prevalence). E.g. p = 0.90, d = 0.05, 95%: 139 positives; prevalence 0.20: 695
    exams. ValueError for expected outside (0, 1), half_width outside (0, 0.5],
    prevalence outside (0, 1].
    """
    _check_prevalence(prevalence)
    return _sample_size(expected, half_width, prevalence, confidence)


def sample_size_for_specificity(
    expected: float,
    half_width: float = 0.05,
    prevalence: float | None = None,
    confidence: float = 0.95,
) -> SampleSize:
    """Negatives (and exams, if ``prevalence`` is given) to estimate a specificity.

    Buderer (1996): negatives = ceil(z^2 p (1-p) / d^2), exams = ceil(negatives /
    (1 - prevalence)). ValueError for expected outside (0, 1), half_width outside
    (0, 0.5], prevalence outside (0, 1) (prevalence 1 leaves no negatives).
    """
    _check_prevalence(prevalence)
    if prevalence == 1.0:
        raise ValueError("prevalence 1 leaves no negatives: give a prevalence below 1")
    share = None if prevalence is None else 1.0 - prevalence
    return _sample_size(expected, half_width, share, confidence)
