"""Below-claim: a calendar month's sensitivity or specificity wholly below the claim.

Each month is judged once, at a fixed look time after its end (when most outcomes
have arrived), with the data known then: one look per window, so the number of
tests a year is known and the false-alarm share of this rule is divided among them
(Bonferroni: cells x 12 months). A cell whose exact one-sided binomial test
rejects the claim at that adjusted level raises a *warning*; one whose ordinary
interval (the evaluation's confidence) lies wholly below the claim, as a monthly
review table would flag it, raises *info* only.

The answer names the reference it rests on. Routine reports disagree with the
eventual truth on a few percent of exams, more than the manufacturer's expert
reference did, which alone can put a device performing as claimed below its claim.
So when independent references (adjudication, pathology, follow-up) decided at
least ``min_cases`` of the device's verified cases of the month, a cell is judged on
them alone where it has ``min_cases`` of them, at the same adjusted level; a cell
that falls short of the claim only with reports counted, or has too few
independent references to tell, is *info*, with how often reports disagreed with
the later references. A device whose
truth rests on reports only is judged on reports, and says so.
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
    # The window's verified cases only (exams are in time order): every array below is
    # as long as the window, not the history.
    exam = view.cases["exam_ns"].to_numpy()
    low, high = np.searchsorted(exam, window, side="left")
    rows = np.arange(low, high)
    rows = rows[view.verified[low:high]]
    call = view.cases["ai_call"].to_numpy()[rows]
    ids = view.cases["prediction_id"].to_numpy()[rows]
    truth = view.truth[rows]
    independent = (
        view.independent[rows] if view.independent is not None else np.zeros(rows.size, bool)
    )
    uses_references = int(np.count_nonzero(independent)) >= min_cases
    first = view.earliest_truth[rows]
    disagree = independent & (first >= 0) & (first != truth)
    disagreement = (
        float(np.count_nonzero(disagree) / np.count_nonzero(independent))
        if uses_references
        else None
    )
    tests = []
    for metric, (counted_truth, error_call) in _COUNTED.items():
        if metric not in claims:
            continue
        denominator = truth == counted_truth
        for scope in scopes:
            cell = denominator & scope.holds(rows)
            n = int(np.count_nonzero(cell))
            if n < min_cases:
                continue
            errors = cell & (call == error_call)
            tests.append((metric, scope, n, n - int(np.count_nonzero(errors)), errors, cell))
    if not tests:
        return []
    alpha = false_alarms_per_year / (windows_per_year * len(tests))
    drafts = []
    for metric, scope, n, k, errors, cell in tests:
        error_call = _COUNTED[metric][1]
        claimed = claims[metric]
        ordinary = compare_to_claim(k, n, claimed, confidence=confidence, method=method)
        adjusted = ordinary.p_value < alpha
        if not (adjusted or ordinary.below_claim):
            continue
        reference: dict[str, object] = {"reference": "reports" if not uses_references else "all"}
        if uses_references:
            mine = cell & independent
            n_ref = int(np.count_nonzero(mine))
            reference["report_disagreement"] = disagreement
            reference["independent_n"] = n_ref
            confirmed = False
            if n_ref >= min_cases:
                k_ref = n_ref - int(np.count_nonzero(mine & (call == error_call)))
                on_references = compare_to_claim(
                    k_ref, n_ref, claimed, confidence=confidence, method=method
                )
                reference["reference"] = "independent"
                reference["independent_observed"] = on_references.estimate
                reference["independent_interval"] = [on_references.low, on_references.high]
                reference["independent_p_value"] = on_references.p_value
                confirmed = on_references.p_value < alpha
            # Short of the claim with reports counted, but not on the references alone at
            # the same level (or too few of them to tell): the reports' own disagreement
            # may be why.
            adjusted = adjusted and confirmed
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
                    **reference,
                    "affected_cases": case_refs(ids[errors]),
                    "affected_cases_total": int(np.count_nonzero(errors)),
                },
            )
        )
    return drafts
