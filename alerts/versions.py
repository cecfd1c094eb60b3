"""Version changes: a new device_version is reported, then compared with its predecessor.

The comparison is made once, when the new version has ``min_cases`` verified
positives and negatives (its look time), with the data known then: the new
version's verified cases against its predecessor's in the 180 days before the
change. A one-sided Fisher exact test that the new version errs more often, at the
rule's share of the false-alarm budget divided among ``versions_per_year`` x 2
metrics, raises a *warning*; otherwise the comparison is recorded as *info*.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import pairwise

import numpy as np
from scipy.stats import fisher_exact

from alerts.cases import NS_PER_DAY, CaseView
from alerts.findings import FindingDraft, case_refs
from metrics.proportions import proportion_ci
from metrics.subgroups import newcombe_difference_ci

__all__ = [
    "BEFORE_DAYS",
    "first_seen",
    "version_change_findings",
    "version_comparison",
    "version_look_time",
]

BEFORE_DAYS = 180
"""Days of the predecessor's cases the new version is compared with."""

_COUNTED = {"sensitivity": (1, 0), "specificity": (0, 1)}


def first_seen(view: CaseView) -> list[tuple[str, int]]:
    """Each version with its first exam time (UTC ns), in order of appearance."""
    frame = view.cases.groupby("device_version", sort=False, observed=True)["exam_ns"].min()
    return sorted(((str(v), int(t)) for v, t in frame.items()), key=lambda item: item[1])


def version_change_findings(
    view: CaseView, device_id: str, declared: Collection[str]
) -> list[FindingDraft]:
    """An *info* finding per version after the first (*warning* if not in the registry)."""
    seen = first_seen(view)
    drafts = []
    for (previous, _), (version, start) in pairwise(seen):
        known = version in declared
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule="version_change",
                severity="info" if known else "warning",
                device_version=version,
                window_start_ns=start,
                value=None,
                evidence={
                    "previous_version": previous,
                    "first_exam_ns": start,
                    "declared_in_registry": known,
                    "note": "version in the registry"
                    if known
                    else "version not in the registry: update the 3.4-05 inventory",
                },
            )
        )
    return drafts


def version_look_time(view: CaseView, version: str, min_cases: int) -> int | None:
    """When ``version`` had ``min_cases`` verified positives and negatives (UTC ns), or None."""
    mine = view.verified & (view.cases["device_version"].to_numpy() == version)
    times = []
    for truth in (1, 0):
        arrivals = np.sort(view.verified_ns[mine & (view.truth == truth)])
        if arrivals.size < min_cases:
            return None
        times.append(int(arrivals[min_cases - 1]))
    return max(times)


def version_comparison(
    view: CaseView,
    device_id: str,
    version: str,
    previous: str,
    start_ns: int,
    *,
    alpha: float,
    confidence: float = 0.95,
) -> list[FindingDraft]:
    """Compare ``version`` (from ``start_ns``) with ``previous`` as ``view`` knows them."""
    exam = view.cases["exam_ns"].to_numpy()
    versions = view.cases["device_version"].to_numpy()
    call = view.cases["ai_call"].to_numpy()
    ids = view.cases["prediction_id"].to_numpy()
    after = view.verified & (versions == version)
    before = (
        view.verified
        & (versions == previous)
        & (exam >= start_ns - BEFORE_DAYS * NS_PER_DAY)
        & (exam < start_ns)
    )
    drafts = []
    for metric, (truth, error_call) in _COUNTED.items():
        a = after & (view.truth == truth)
        b = before & (view.truth == truth)
        n_a, n_b = int(a.sum()), int(b.sum())
        if n_a == 0 or n_b == 0:
            continue
        err_a = a & (call == error_call)
        e_a, e_b = int(err_a.sum()), int((b & (call == error_call)).sum())
        k_a, k_b = n_a - e_a, n_b - e_b
        p_value = float(fisher_exact([[e_a, k_a], [e_b, k_b]], alternative="greater").pvalue)
        diff, low, high = newcombe_difference_ci(k_a, n_a, k_b, n_b, confidence)
        worse = p_value < alpha
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule="version_comparison",
                severity="warning" if worse else "info",
                metric=metric,
                device_version=version,
                window_start_ns=start_ns,
                window_end_ns=view.as_of_ns,
                value=k_a / n_a,
                threshold=k_b / n_b,
                evidence={
                    "previous_version": previous,
                    "after": {
                        "n": n_a,
                        "correct": k_a,
                        "interval": list(proportion_ci(k_a, n_a, confidence)),
                    },
                    "before": {
                        "n": n_b,
                        "correct": k_b,
                        "interval": list(proportion_ci(k_b, n_b, confidence)),
                    },
                    "difference": diff,
                    "difference_interval": [low, high],
                    "p_value": p_value,
                    "adjusted_alpha": alpha,
                    "judged_as_of_ns": view.as_of_ns,
                    "affected_cases": case_refs(ids[err_a]) if worse else [],
                    "affected_cases_total": e_a,
                },
            )
        )
    return drafts
