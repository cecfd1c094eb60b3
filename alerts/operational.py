"""Operational rules: a device that went silent, ground truth that does not arrive, and
AI results that contradict their scores at the registry's threshold."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alerts.cases import NS_PER_DAY, CaseView
from alerts.findings import FindingDraft, case_refs

__all__ = [
    "LEARN_WEEKS",
    "backlog_finding",
    "cadence_slots",
    "expected_predictions",
    "outage_finding",
    "threshold_mismatch_finding",
]

LEARN_WEEKS = 8
"""Weeks of history the usual cadence is learned from."""
_MIN_HISTORY_DAYS = 14
_NS_PER_HOUR = 3600 * 10**9
_MAX_SILENCE_HOURS = 24 * 366


_QUARTER_NS = 900 * 10**9
"""Every UTC offset in use is a whole number of quarter hours, and so is each change of
offset: local weekday and hour are the same for every instant of a UTC quarter hour."""


def cadence_slots(hours_ns: np.ndarray, tz: ZoneInfo, holidays: Collection[date]) -> np.ndarray:
    """Weekday x hour slot (0..167) of each instant, in local time; a holiday is a Sunday.

    Each distinct UTC quarter hour is converted once (pandas converts to a ``ZoneInfo``
    zone one instant at a time): weeks of exams cost a few thousand conversions."""
    quarters, inverse = np.unique(
        np.asarray(hours_ns, dtype=np.int64) // _QUARTER_NS, return_inverse=True
    )
    local = pd.DatetimeIndex(pd.to_datetime(quarters * _QUARTER_NS, utc=True)).tz_convert(tz)
    weekday = local.dayofweek.to_numpy().copy()
    if holidays:
        day_number = local.year.to_numpy() * 1000 + local.dayofyear.to_numpy()
        holiday_numbers = [d.year * 1000 + d.timetuple().tm_yday for d in holidays]
        weekday[np.isin(day_number, holiday_numbers)] = 6
    slots = np.asarray(weekday * 24 + local.hour.to_numpy(), dtype=np.int64)
    return slots[inverse.reshape(-1)]


def expected_predictions(
    exam_ns: np.ndarray,
    exam_slots: np.ndarray,
    start_ns: int,
    end_ns: int,
    tz: ZoneInfo,
    holidays: Collection[date],
    learn_weeks: int = LEARN_WEEKS,
) -> tuple[float, int]:
    """Predictions the usual cadence expects from ``start_ns`` to ``end_ns`` (UTC ns).

    The cadence is the mean count per local weekday x hour over the ``learn_weeks``
    weeks before ``start_ns`` (``exam_ns``: sorted exam times, ``exam_slots`` their
    :func:`cadence_slots`). Returns the expected
    count and the days of history it was learned from (0 when none).
    """
    first = int(exam_ns[0]) if exam_ns.size else start_ns
    learn_start = max(first, start_ns - learn_weeks * 7 * NS_PER_DAY)
    learn_start -= learn_start % _NS_PER_HOUR
    if start_ns - learn_start < _MIN_HISTORY_DAYS * NS_PER_DAY:
        return 0.0, 0
    learn_hours = np.arange(learn_start, start_ns - _NS_PER_HOUR + 1, _NS_PER_HOUR)
    occurrences = np.bincount(cadence_slots(learn_hours, tz, holidays), minlength=168)
    learned = (exam_ns >= learn_start) & (exam_ns < learn_hours[-1] + _NS_PER_HOUR)
    counts = np.bincount(exam_slots[learned], minlength=168)
    rate = np.divide(counts, occurrences, out=np.zeros(168), where=occurrences > 0)
    end_ns = min(end_ns, start_ns + _MAX_SILENCE_HOURS * _NS_PER_HOUR)
    edges = np.arange(start_ns - start_ns % _NS_PER_HOUR, end_ns + _NS_PER_HOUR, _NS_PER_HOUR)
    lows = np.maximum(edges[:-1], start_ns)
    highs = np.minimum(edges[1:], end_ns)
    fraction = np.clip((highs - lows) / _NS_PER_HOUR, 0.0, 1.0)
    expected = float((rate[cadence_slots(edges[:-1], tz, holidays)] * fraction).sum())
    return expected, int((start_ns - learn_start) // NS_PER_DAY)


def outage_finding(
    exam_ns: np.ndarray,
    exam_slots: np.ndarray,
    as_of_ns: int,
    device_id: str,
    tz: ZoneInfo,
    holidays: Collection[date],
    expected_threshold: float,
) -> FindingDraft | None:
    """An outage when the silence since the last prediction should have held predictions.

    *warning* when the usual cadence expected at least ``expected_threshold``
    predictions since the last one (the chance of such a silence in normal running is
    then below exp(-threshold)), *critical* at three times that. None otherwise, or
    with less than two weeks of history.
    """
    known = exam_ns <= as_of_ns
    exams = exam_ns[known]
    if exams.size == 0:
        return None
    last = int(exams[-1])
    expected, learned_days = expected_predictions(
        exams, exam_slots[known], last, as_of_ns, tz, holidays
    )
    if learned_days == 0 or expected < expected_threshold:
        return None
    silence_hours = (as_of_ns - last) / _NS_PER_HOUR
    return FindingDraft(
        device_id=device_id,
        rule="outage",
        severity="critical" if expected >= 3 * expected_threshold else "warning",
        window_start_ns=last,
        window_end_ns=as_of_ns,
        value=silence_hours,
        threshold=expected_threshold,
        evidence={
            "last_prediction_ns": last,
            "silence_hours": silence_hours,
            "expected_predictions": expected,
            "chance_of_silence": float(np.exp(-expected)),
            "cadence_learned_days": learned_days,
        },
    )


def _share_severity(share: float, threshold: float) -> str:
    """*critical* at twice ``threshold`` (capped at 1), else *warning* (share >= threshold)."""
    return "critical" if share >= min(1.0, 2 * threshold) else "warning"


def backlog_finding(
    view: CaseView,
    device_id: str,
    backlog_days: int,
    share_threshold: float,
    lookback_days: int = 90,
    min_exams: int = 30,
) -> FindingDraft | None:
    """Share of exams from ``backlog_days + lookback_days`` to ``backlog_days`` ago unverified.

    *warning* at ``share_threshold`` or more, *critical* at twice it (capped at 1);
    None below, or with fewer than ``min_exams`` exams in that period.
    """
    cutoff = view.as_of_ns - backlog_days * NS_PER_DAY
    start = cutoff - lookback_days * NS_PER_DAY
    exam = view.cases["exam_ns"].to_numpy()
    period = (exam >= start) & (exam < cutoff)
    n = int(period.sum())
    if n < min_exams:
        return None
    unverified = int((period & (view.truth < 0)).sum())
    share = unverified / n
    if share < share_threshold:
        return None
    return FindingDraft(
        device_id=device_id,
        rule="verification_backlog",
        severity=_share_severity(share, share_threshold),
        window_start_ns=start,
        window_end_ns=cutoff,
        value=share,
        threshold=share_threshold,
        evidence={"exams": n, "unverified": unverified, "older_than_days": backlog_days},
    )


def threshold_mismatch_finding(
    view: CaseView,
    device_id: str,
    share_threshold: float,
    window_days: int = 30,
    min_results: int = 30,
) -> FindingDraft | None:
    """Share of the AI results of the last ``window_days`` days (exam time) that
    contradict their score at the registry's threshold.

    Among the given results checked at ingestion (``ai_result_check`` ``agrees`` or
    ``contradicts``: a score, a threshold, a positive or negative result), a positive
    below the threshold or a negative at or above it contradicts. A device applies its
    own threshold to its own score, so a high share means the registry's threshold
    (or score scale) is not the one the device runs. *warning* at ``share_threshold``
    or more, *critical* at twice it (capped at 1); None below, or with fewer than
    ``min_results`` checked results.
    """
    if "ai_result_check" not in view.cases.columns:
        return None
    start = view.as_of_ns - window_days * NS_PER_DAY
    exam = view.cases["exam_ns"].to_numpy()
    check = view.cases["ai_result_check"].to_numpy()
    recent = exam > start
    contradicts = recent & (check == "contradicts")
    checked = int((recent & (check == "agrees")).sum()) + int(contradicts.sum())
    if checked < min_results:
        return None
    share = int(contradicts.sum()) / checked
    if share < share_threshold:
        return None
    return FindingDraft(
        device_id=device_id,
        rule="threshold_mismatch",
        severity=_share_severity(share, share_threshold),
        window_start_ns=start,
        window_end_ns=view.as_of_ns,
        value=share,
        threshold=share_threshold,
        evidence={
            "checked_results": checked,
            "contradicting_results": int(contradicts.sum()),
            "window_days": window_days,
            "affected_cases": case_refs(view.cases["prediction_id"].to_numpy()[contradicts]),
        },
    )
