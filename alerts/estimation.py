"""Performance while ground truth is pending: CBPE estimate against the claim.

Scores are calibrated on the reference period's verified cases; the recent window's
sensitivity and specificity are then estimated from scores alone
(:func:`metrics.estimation.estimate_from_scores`). An estimate whose interval lies
wholly below the claim raises an *info* finding: it is an early hint to watch, not
a measured failure (CBPE cannot see a change in how scores relate to the truth).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alerts.findings import FindingDraft
from metrics.estimation import Calibrator, estimate_from_scores, fit_calibrator

__all__ = ["MIN_REFERENCE_CASES", "estimation_findings", "reference_calibrator"]

MIN_REFERENCE_CASES = 100


def reference_calibrator(scores: np.ndarray, truth: np.ndarray) -> Calibrator | None:
    """The isotonic calibrator of the reference's verified scored cases, or None if too few
    (under :data:`MIN_REFERENCE_CASES`, or one class only)."""
    known = ~np.isnan(scores)
    scores, truth = scores[known], truth[known]
    if scores.size < MIN_REFERENCE_CASES or truth.min() == truth.max():
        return None
    return fit_calibrator(scores, truth, min_cases=MIN_REFERENCE_CASES)


def estimation_findings(
    calibrator: Calibrator,
    scores: np.ndarray,
    calls: np.ndarray,
    claims: Mapping[str, float],
    device_id: str,
    window: tuple[int, int],
    *,
    verified_share: float,
    confidence: float = 0.95,
    min_cases: int = 30,
) -> list[FindingDraft]:
    """An *info* finding per metric whose estimated interval lies wholly below its claim."""
    scored = ~np.isnan(scores)
    if int(scored.sum()) < min_cases:
        return []
    estimates = estimate_from_scores(calibrator, scores[scored], calls[scored], confidence)
    drafts = []
    for metric, claimed in claims.items():
        estimate = estimates[metric]
        if not estimate.high < claimed:
            continue
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule="estimated_performance",
                severity="info",
                metric=metric,
                window_start_ns=window[0],
                window_end_ns=window[1],
                value=estimate.estimate,
                threshold=claimed,
                evidence={
                    "method": "CBPE (isotonic calibration on the reference period)",
                    "estimate": estimate.estimate,
                    "interval": [estimate.low, estimate.high],
                    "confidence": confidence,
                    "cases": estimate.n,
                    "verified_share": verified_share,
                },
            )
        )
    return drafts
