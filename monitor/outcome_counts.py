"""How the ground truth of each device came in, per month: decided, not mentioned,
uncertain, quarantined.

An outcome counts for a device when it links to one of the device's predictions
(link key, target, site: as linking does), once per device, in the local month of
its ``outcome_datetime`` (data time): ``positive`` / ``negative`` (decided),
``unmentioned`` (a final report silent about the target: counted as the device's
``unmentioned`` policy says), ``uncertain`` (indeterminate). A quarantined outcome
row has no device: it counts for every device whose registry target is the row's
target (its ``target`` column, else its source's default target), in the month of
its outcome date-time when it could be read, else of the day it was quarantined.
Rows whose target is unknown, or the target of no device, are counted per month
without a device (``device_id`` None).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from monitor.linking import device_outcomes
from monitor.models import Device, QuarantinedRow

__all__ = ["OUTCOME_STATES", "OutcomeMonth", "outcome_months", "outcome_totals"]

OUTCOME_STATES = ("positive", "negative", "unmentioned", "uncertain", "quarantined")
"""The counts of an :class:`OutcomeMonth`, in the order they are shown."""

_STATE_OF = {
    "positive": "positive",
    "negative": "negative",
    "not_mentioned": "unmentioned",
    "indeterminate": "uncertain",
}


@dataclass(frozen=True)
class OutcomeMonth:
    """The outcomes of one device (None: quarantined rows of no device) dated in one
    local month (``month``: its first day)."""

    device_id: str | None
    month: date
    positive: int = 0
    negative: int = 0
    unmentioned: int = 0
    uncertain: int = 0
    quarantined: int = 0

    @property
    def decided(self) -> int:
        """Outcomes that state a truth (positive or negative)."""
        return self.positive + self.negative

    def record(self) -> dict[str, Any]:
        """The JSON shape (``status --outcomes --format json``)."""
        return {
            "device": self.device_id,
            "month": f"{self.month:%Y-%m}",
            "decided": self.decided,
            "positive": self.positive,
            "negative": self.negative,
            "unmentioned": self.unmentioned,
            "uncertain": self.uncertain,
            "quarantined": self.quarantined,
        }


def _month(moment: Any, tz: ZoneInfo) -> date:
    local: date = pd.Timestamp(moment).tz_convert(tz).date()
    return local.replace(day=1)


def _quarantined(
    session: Session, start: datetime | None, end: datetime
) -> list[tuple[str | None, datetime]]:
    """(target, date-time counted) of the quarantined outcome rows in ``[start, end]``."""

    def within(column: Any) -> Any:
        return and_(column <= end, column >= start) if start is not None else column <= end

    query = select(
        QuarantinedRow.target, QuarantinedRow.data_datetime, QuarantinedRow.created_at
    ).where(
        QuarantinedRow.kind == "outcomes",
        or_(
            within(QuarantinedRow.data_datetime),
            and_(QuarantinedRow.data_datetime.is_(None), within(QuarantinedRow.created_at)),
        ),
    )
    return [(target, data or created) for target, data, created in session.execute(query)]


def outcome_months(
    session: Session,
    start: datetime | None,
    end: datetime,
    tz: ZoneInfo,
    *,
    device_id: str | None = None,
) -> list[OutcomeMonth]:
    """Per device and local month, the outcomes dated in ``[start, end]`` (``start``
    None: from the first), by device then month; months without any outcome are
    left out. ``device_id`` restricts to one device (and leaves out the rows
    without a device)."""
    counts: dict[tuple[str | None, date], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(OUTCOME_STATES, 0)
    )
    linked = device_outcomes(session, start, end, device_id=device_id)
    if not linked.empty:
        linked["month"] = [_month(m, tz) for m in linked["outcome_datetime"]]
        linked["state"] = linked["outcome"].map(_STATE_OF)
        grouped = linked.dropna(subset=["state"]).groupby(["device_id", "month", "state"]).size()
        for (device, month, state), n in grouped.items():
            counts[device, month][state] += int(n)
    devices = select(Device.id, Device.target)
    if device_id is not None:
        devices = devices.where(Device.id == device_id)
    by_target: dict[str, list[str]] = defaultdict(list)
    for owner, owned in session.execute(devices):
        by_target[owned].append(owner)
    for target, moment in _quarantined(session, start, end):
        when = _month(moment, tz)
        owners = by_target.get(target or "")
        if owners:
            for owner in owners:
                counts[owner, when]["quarantined"] += 1
        elif device_id is None:
            counts[None, when]["quarantined"] += 1
    return [
        OutcomeMonth(device, month, **values)
        for (device, month), values in sorted(
            counts.items(), key=lambda item: (item[0][0] is None, item[0][0] or "", item[0][1])
        )
    ]


def outcome_totals(months: list[OutcomeMonth], device_id: str | None) -> dict[str, int]:
    """The counts of one device summed over ``months`` (decided first)."""
    mine = [m for m in months if m.device_id == device_id]
    totals = {state: sum(getattr(m, state) for m in mine) for state in OUTCOME_STATES}
    return {"decided": totals["positive"] + totals["negative"], **totals}
