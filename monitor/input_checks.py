"""Counts of what the inputs say about themselves, by SQL aggregates (no case loaded).

- Per device, its AI results as checked at ingestion (:mod:`monitor.device_inputs`):
  ``derived`` from the score, given and ``agrees`` with score and threshold, given and
  ``contradicts`` them. Many contradictions mean the registry's threshold is not the
  one the device runs.
- Outcomes that match no prediction (no case links them): per target and local
  month of the outcome, by the rules of :mod:`monitor.linking` (same accession number
  or study UID, the outcome's target empty or the prediction's, sites agreeing when
  both are given), against the predictions with an exam by the as-of date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.models import Outcome, Prediction
from monitor.timeutil import as_utc

__all__ = ["ResultChecks", "UnmatchedOutcomes", "result_checks", "unmatched_outcomes"]


@dataclass(frozen=True)
class ResultChecks:
    """A device's AI results against its score and primary threshold."""

    derived: int = 0
    agrees: int = 0
    contradicts: int = 0

    @property
    def checked(self) -> int:
        """Given results that could be checked (a score, a threshold, not indeterminate)."""
        return self.agrees + self.contradicts

    @property
    def contradiction_share(self) -> float:
        """Contradictions among the checked results (NaN when none was checked)."""
        return self.contradicts / self.checked if self.checked else math.nan


def result_checks(
    session: Session,
    as_of: datetime,
    *,
    since: datetime | None = None,
    device_id: str | None = None,
) -> dict[str, ResultChecks]:
    """Per device (those with checked or derived results only), the checks of the
    predictions with an exam in ``[since, as_of]``."""
    query = (
        select(Prediction.device_id, Prediction.ai_result_check, func.count())
        .where(Prediction.exam_datetime <= as_of, Prediction.ai_result_check.is_not(None))
        .group_by(Prediction.device_id, Prediction.ai_result_check)
    )
    if since is not None:
        query = query.where(Prediction.exam_datetime >= since)
    if device_id is not None:
        query = query.where(Prediction.device_id == device_id)
    counts: dict[str, dict[str, int]] = {}
    for device, check, n in session.execute(query):
        counts.setdefault(device, {})[str(check)] = int(n)
    return {
        device: ResultChecks(
            **{k: v for k, v in found.items() if k in ("derived", "agrees", "contradicts")}
        )
        for device, found in counts.items()
    }


@dataclass(frozen=True)
class UnmatchedOutcomes:
    """Outcomes of one target (None: outcomes for every target of their exam) dated in
    one local month (``month``: its first day) that match no prediction."""

    target: str | None
    month: date
    outcomes: int

    def record(self) -> dict[str, Any]:
        """The JSON shape (``status --unmatched --format json``)."""
        return {"target": self.target, "month": f"{self.month:%Y-%m}", "outcomes": self.outcomes}


def _matched(key: Any, as_of: datetime) -> Any:
    """EXISTS a prediction linking to the outcome by ``key`` (accession or study UID)."""
    p = aliased(Prediction)
    return exists().where(
        getattr(p, key) == getattr(Outcome, key),
        p.exam_datetime <= as_of,
        or_(Outcome.target.is_(None), Outcome.target == p.target),
        or_(Outcome.site.is_(None), p.site.is_(None), Outcome.site == p.site),
    )


def _month_starts(first: datetime, last: datetime, tz: ZoneInfo) -> list[datetime]:
    """The local month starts (aware) from ``first``'s month to ``last``'s."""
    local, end = first.astimezone(tz).date().replace(day=1), last.astimezone(tz).date()
    starts = []
    while local <= end:
        starts.append(datetime.combine(local, datetime.min.time(), tzinfo=tz))
        local = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    return starts


def unmatched_outcomes(
    session: Session, as_of: datetime, tz: ZoneInfo, *, since: datetime | None = None
) -> list[UnmatchedOutcomes]:
    """Per target and local month, the outcomes dated in ``[since, as_of]`` that link to
    no prediction with an exam by ``as_of``; by month then target (None last)."""
    dated = [Outcome.outcome_datetime <= as_of]
    if since is not None:
        dated.append(Outcome.outcome_datetime >= since)
    first = session.scalar(select(func.min(Outcome.outcome_datetime)).where(*dated))
    if first is None:
        return []
    starts = _month_starts(as_utc(first), as_of, tz)
    # The local month of each outcome, cut in SQL by the months' UTC bounds.
    later = [(Outcome.outcome_datetime < start, i) for i, start in enumerate(starts[1:])]
    month: Any = case(*later, else_=literal(len(starts) - 1)) if later else literal(0)
    unmatched = (
        select(Outcome.target.label("target"), month.label("month"))
        .where(
            *dated,
            or_(Outcome.accession_number.is_(None), ~_matched("accession_number", as_of)),
            or_(Outcome.study_instance_uid.is_(None), ~_matched("study_instance_uid", as_of)),
        )
        .subquery("unmatched")
    )
    query = select(unmatched.c.target, unmatched.c.month, func.count()).group_by(
        unmatched.c.target, unmatched.c.month
    )
    rows = [
        UnmatchedOutcomes(target, starts[int(index)].date(), int(n))
        for target, index, n in session.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.month, r.target is None, r.target or ""))
