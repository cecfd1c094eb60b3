"""Below-claim: a calendar month's sensitivity or specificity wholly below the claim.

Each month is judged once, at a fixed look time after its end (when most outcomes
have arrived), with the data known then: one look per window, so the number of
tests a year is known and the false-alarm share of this rule is divided among them
(Bonferroni: cells x 12 months). A cell whose exact one-sided binomial test
rejects the claim at that adjusted level raises a *warning*; one whose ordinary
interval (the evaluation's confidence) lies wholly below the claim, as a monthly
review table would flag it, raises *info* only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from alerts.cases import CaseView, Scope
from alerts.findings import FindingDraft, case_refs
from metrics.claims import compare_to_claim

__all__ = ["below_claim_findings"]

_COUNTED = {"sensitivity": (1, 0), "specificity": (0, 1)}
"""metric -> (truth of its denominator, AI call that is an error)."""


def below_claim_findings(
    view: CaseView,
    device_id: str,
    scopes: Sequence[Scope],
    claims: Mapping[str, float],
    window: tuple[int, int],
    *,
    false_alarms_per_year: float,
    windows_per_year: int = 12,
    min_cases: int = 30,
    confidence: float = 0.95,
    method: str = "wilson",
) -> list[FindingDraft]:
    """Judge the exams of ``window`` (UTC ns, start in, end out) as ``view`` knows them.

    ``scopes`` must be built on ``view.cases``. Cells with fewer than ``min_cases``
    verified cases are not judged. The adjusted level is
    ``false_alarms_per_year / (windows_per_year x cells judged)``.
    """
    exam = view.cases["exam_ns"].to_numpy()
    in_window = (exam >= window[0]) & (exam < window[1]) & view.verified
    call = view.cases["ai_call"].to_numpy()
    ids = view.cases["prediction_id"].to_numpy()
    tests = []
    for metric, (truth, error_call) in _COUNTED.items():
        if metric not in claims:
            continue
        denominator = in_window & (view.truth == truth)
        for scope in scopes:
            cell = denominator & scope.mask
            n = int(np.count_nonzero(cell))
            if n < min_cases:
                continue
            errors = cell & (call == error_call)
            tests.append((metric, scope, n, n - int(np.count_nonzero(errors)), errors))
    if not tests:
        return []
    alpha = false_alarms_per_year / (windows_per_year * len(tests))
    drafts = []
    for metric, scope, n, k, errors in tests:
        claimed = claims[metric]
        ordinary = compare_to_claim(k, n, claimed, confidence=confidence, method=method)
        adjusted = ordinary.p_value < alpha
        if not (adjusted or ordinary.below_claim):
            continue
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule="below_claim",
                severity="warning" if adjusted else "info",
                metric=metric,
                device_version=scope.version,
                subgroup=scope.subgroup_dict,
                window_start_ns=window[0],
                window_end_ns=window[1],
                value=ordinary.estimate,
                threshold=claimed,
                evidence={
                    "slice": scope.label,
                    "n": n,
                    "correct": k,
                    "observed": ordinary.estimate,
                    "interval": [ordinary.low, ordinary.high],
                    "confidence": confidence,
                    "claimed": claimed,
                    "p_value": ordinary.p_value,
                    "adjusted_alpha": alpha,
                    "tests_in_window": len(tests),
                    "judged_as_of_ns": view.as_of_ns,
                    "affected_cases": case_refs(ids[errors]),
                    "affected_cases_total": int(np.count_nonzero(errors)),
                },
            )
        )
    return drafts
