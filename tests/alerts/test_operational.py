"""Outage against the learned cadence; verification backlog."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from alerts.operational import (
    backlog_finding,
    cadence_slots,
    expected_predictions,
    outage_finding,
    threshold_mismatch_finding,
)
from tests.alerts.views import view_of

PARIS = ZoneInfo("Europe/Paris")


def _office_hours_exams(
    days: int, per_hour: int = 4, start: str = "2025-03-03", holidays: frozenset[date] = frozenset()
) -> np.ndarray:
    """``per_hour`` exams each hour 8:00-18:00 on working days (local time), none otherwise."""
    moments = []
    for day in pd.date_range(start, periods=days, freq="D", tz=PARIS):
        if day.dayofweek >= 5 or day.date() in holidays:
            continue
        for hour in range(8, 18):
            for k in range(per_hour):
                moments.append(day + pd.Timedelta(hours=hour, minutes=60 * k / per_hour))
    return np.array([m.value for m in moments], dtype=np.int64)


def _ns(text: str) -> int:
    return int(pd.Timestamp(text, tz=PARIS).value)


def test_the_cadence_expects_exams_in_office_hours_only() -> None:
    exams = _office_hours_exams(56)
    slots = cadence_slots(exams, PARIS, set())
    # a Monday 10:00-12:00 expects 2 hours x 4 exams; a Saturday expects nothing
    monday, _ = expected_predictions(
        exams, slots, _ns("2025-04-28 10:00"), _ns("2025-04-28 12:00"), PARIS, set()
    )
    assert abs(monday - 8.0) < 1e-9
    saturday, _ = expected_predictions(
        exams, slots, _ns("2025-04-26 00:00"), _ns("2025-04-27 00:00"), PARIS, set()
    )
    assert saturday == 0.0


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu"])
def test_each_instant_gets_its_local_weekday_and_hour_across_offset_changes(zone: str) -> None:
    # Random instants (to the nanosecond) around both DST changes of 2025 and a
    # holiday, against datetime's own conversion one instant at a time.
    tz = ZoneInfo(zone)
    rng = np.random.default_rng(7)
    spans = [
        ("2025-03-28", "2025-04-03"),
        ("2025-10-24", "2025-10-29"),
        ("2025-07-13", "2025-07-16"),
    ]
    instants = np.concatenate(
        [
            rng.integers(pd.Timestamp(a, tz="UTC").value, pd.Timestamp(b, tz="UTC").value, 4000)
            for a, b in spans
        ]
    )
    holiday = {date(2025, 7, 14)}
    expected = []
    for ns in instants:
        local = datetime.fromtimestamp(int(ns) // 10**9, tz)  # (whole seconds: the same hour)
        weekday = 6 if local.date() in holiday else local.weekday()
        expected.append(weekday * 24 + local.hour)
    assert cadence_slots(instants, tz, holiday).tolist() == expected


def test_a_silent_working_day_is_an_outage_and_a_night_is_not() -> None:
    exams = _office_hours_exams(56)  # last exam Friday 2025-04-25 17:45
    slots = cadence_slots(exams, PARIS, set())
    assert outage_finding(exams, slots, _ns("2025-04-25 23:59"), "d", PARIS, set(), 10) is None
    weekend = outage_finding(exams, slots, _ns("2025-04-27 23:59"), "d", PARIS, set(), 10)
    assert weekend is None
    monday = outage_finding(exams, slots, _ns("2025-04-28 11:00"), "d", PARIS, set(), 10)
    assert monday is not None and monday.severity == "warning"
    # the last quarter of Friday 17:00-18:00 (1 exam) and Monday 8:00-11:00 (12 exams)
    assert abs(monday.evidence["expected_predictions"] - 13.0) < 1e-9
    tuesday = outage_finding(exams, slots, _ns("2025-04-29 12:00"), "d", PARIS, set(), 10)
    assert tuesday is not None and tuesday.severity == "critical"


def test_a_public_holiday_runs_as_a_sunday() -> None:
    may = frozenset({date(2025, 5, 1), date(2025, 5, 8)})
    exams = _office_hours_exams(60, start="2025-03-10", holidays=may)
    exams = exams[exams < _ns("2025-05-07 18:00")]  # last exam Wednesday 17:45
    thursday = _ns("2025-05-08 18:00")  # Victory Day: a silent holiday is normal
    with_holidays = cadence_slots(exams, PARIS, may)
    assert outage_finding(exams, with_holidays, thursday, "d", PARIS, may, 10) is None
    as_weekdays = cadence_slots(exams, PARIS, set())
    found = outage_finding(exams, as_weekdays, thursday, "d", PARIS, set(), 10)
    assert found is not None and found.evidence["expected_predictions"] > 30


def test_no_outage_is_judged_on_less_than_two_weeks_of_history() -> None:
    exams = _office_hours_exams(7)
    slots = cadence_slots(exams, PARIS, set())
    assert outage_finding(exams, slots, _ns("2025-03-20 12:00"), "d", PARIS, set(), 3) is None


def test_the_backlog_counts_old_exams_still_without_truth() -> None:
    n = 1000
    truth = np.zeros(n, dtype=np.int8)
    days = np.linspace(0, 200, n)
    verified = np.random.default_rng(0).random(n) < 0.7
    view = view_of(truth, truth, exam_day=days, verified=verified, as_of_day=200)
    found = backlog_finding(view, "d", backlog_days=30, share_threshold=0.2)
    assert found is not None and found.severity == "warning"
    period = (days >= 200 - 120) & (days < 200 - 30)
    expected = float((~verified[period]).mean())
    assert abs(found.value - expected) < 1e-12
    assert backlog_finding(view, "d", backlog_days=30, share_threshold=0.5) is None


def _checked(contradicting: int, agreeing: int) -> np.ndarray:
    """``ai_result_check`` of 100 exams: the last ones checked, the others not."""
    checks = np.full(100, None, dtype=object)
    checks[:contradicting] = "contradicts"
    checks[contradicting : contradicting + agreeing] = "agrees"
    return checks


def _mismatch_view(checks: np.ndarray, days_ago: float = 5.0):  # type: ignore[no-untyped-def]
    n = checks.size
    view = view_of(
        np.zeros(n, dtype=np.int8),
        np.zeros(n, dtype=np.int8),
        exam_day=np.full(n, 100.0),
        as_of_day=100.0 + days_ago,
    )
    view.cases["ai_result_check"] = checks
    return view


def test_results_contradicting_their_score_at_the_threshold_raise_a_finding() -> None:
    view = _mismatch_view(_checked(contradicting=4, agreeing=56))
    finding = threshold_mismatch_finding(view, "nod", share_threshold=0.05)
    assert finding is not None
    assert (finding.rule, finding.severity) == ("threshold_mismatch", "warning")
    assert finding.value == pytest.approx(4 / 60) and finding.threshold == 0.05
    assert finding.evidence["checked_results"] == 60
    assert finding.evidence["contradicting_results"] == 4
    assert finding.evidence["affected_cases"] == [f"case-{i}" for i in range(1, 5)]
    many = _mismatch_view(_checked(contradicting=30, agreeing=30))
    assert threshold_mismatch_finding(many, "nod", 0.05).severity == "critical"  # type: ignore[union-attr]


def test_few_or_old_contradictions_raise_nothing() -> None:
    rare = _mismatch_view(_checked(contradicting=1, agreeing=59))
    assert threshold_mismatch_finding(rare, "nod", 0.05) is None
    few = _mismatch_view(_checked(contradicting=10, agreeing=10))
    assert threshold_mismatch_finding(few, "nod", 0.05) is None  # 20 < 30 checked
    old = _mismatch_view(_checked(contradicting=30, agreeing=30), days_ago=45)
    assert threshold_mismatch_finding(old, "nod", 0.05) is None  # outside the 30 days
