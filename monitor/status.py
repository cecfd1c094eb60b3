"""Per-device status: volumes, verification, label delay and the AI results checked
against score and threshold, as of a date."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.input_checks import ResultChecks, result_checks
from monitor.linking import linked_cases
from monitor.models import Device

__all__ = ["DeviceStatus", "device_status", "status_record"]


@dataclass(frozen=True)
class DeviceStatus:
    """One device's state. ``linked``: cases with a determinate outcome; ``pending``:
    awaiting ground truth; ``excluded``: indeterminate outputs under an exclude policy;
    ``median_label_delay_days`` is NaN without linked cases; ``results``: the AI results
    derived from the score, and the given ones agreeing with or contradicting it."""

    device_id: str
    name: str
    predictions: int
    linked: int
    pending: int
    excluded: int
    median_label_delay_days: float
    last_prediction: datetime | None
    results: ResultChecks = field(default_factory=ResultChecks)

    @property
    def verification_rate(self) -> float:
        """Share of counted cases with a known outcome (NaN without cases)."""
        counted = self.linked + self.pending
        return self.linked / counted if counted else math.nan


def device_status(
    session: Session, as_of: datetime, *, since: datetime | None = None
) -> list[DeviceStatus]:
    """Status of every registered device as of ``as_of`` (devices without data included),
    over the exams from ``since`` (aware; None: from the first) up to ``as_of``."""
    cases = linked_cases(session, as_of)
    if since is not None:
        cases = cases[cases["exam_datetime"] >= since]
    checks = result_checks(session, as_of, since=since)
    result = []
    for device_id, name in session.execute(select(Device.id, Device.name).order_by(Device.id)):
        mine = cases[cases["device_id"] == device_id]
        linked = mine[mine["status"].isin(["tp", "fp", "tn", "fn"])]
        with_outcome = mine[mine["outcome"].notna()]
        last = mine["exam_datetime"].max() if not mine.empty else None
        result.append(
            DeviceStatus(
                device_id=device_id,
                name=name,
                predictions=len(mine),
                linked=len(linked),
                pending=int((mine["status"] == "pending").sum()),
                excluded=int((mine["status"] == "excluded").sum()),
                median_label_delay_days=float(with_outcome["label_delay_days"].median())
                if not with_outcome.empty
                else math.nan,
                last_prediction=pd.Timestamp(last).to_pydatetime() if last is not None else None,
                results=checks.get(device_id, ResultChecks()),
            )
        )
    return result


def status_record(state: DeviceStatus, tz: ZoneInfo) -> dict[str, Any]:
    """The JSON shape of a device's status (``status --format json``, the API): the last
    prediction as a local time to the minute; ``results_derived`` (AI results derived
    from the score), ``results_checked`` (given results checked against score and
    threshold) and ``results_contradicting`` (of those, the ones on the other side of
    the threshold)."""
    last = state.last_prediction
    return {
        "device": state.device_id,
        "predictions": state.predictions,
        "linked": state.linked,
        "awaiting_truth": state.pending,
        "excluded": state.excluded,
        "median_label_delay_days": state.median_label_delay_days,
        "last_prediction": last.astimezone(tz).isoformat(timespec="minutes") if last else None,
        "results_derived": state.results.derived,
        "results_checked": state.results.checked,
        "results_contradicting": state.results.contradicts,
    }
