"""Findings are stored once per subject while open, acknowledged with an audit entry."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alerts.charts import chart_key
from alerts.findings import FindingDraft
from monitor.errors import MonitorError
from monitor.findings import (
    chart_restarts,
    dedup_key,
    finding_record,
    list_findings,
    store_findings,
)
from monitor.models import AuditEntry, Finding
from monitor.storage import Database
from monitor.workflow import acknowledge

PARIS = ZoneInfo("Europe/Paris")
DAY1 = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 2, 23, 0, tzinfo=UTC)


def _draft(severity: str = "warning", **changes: object) -> FindingDraft:
    fields: dict[str, object] = {
        "device_id": "frac",
        "rule": "cusum",
        "severity": severity,
        "metric": "sensitivity",
        "device_version": "1.1",
        "subgroup": {"scanner_manufacturer": "Fujifilm"},
        "window_start_ns": 1_740_000_000 * 10**9,
        "window_end_ns": 1_740_800_000 * 10**9,
        "value": 0.62,
        "threshold": 9.1,
        "evidence": {"change_point_exam_ns": 1_740_000_000 * 10**9, "events": 12},
    }
    fields.update(changes)
    return FindingDraft(**fields)  # type: ignore[arg-type]


def test_the_same_subject_is_one_open_finding_seen_again(registered: Database) -> None:
    with registered.session.begin() as session:
        first = store_findings(session, [_draft()], DAY1, PARIS)
        again = store_findings(session, [_draft(), _draft()], DAY2, PARIS)
        assert [f.id for f in again] == [first[0].id]
        other = store_findings(session, [_draft(subgroup={"site": "A"})], DAY2, PARIS)
        assert other[0].id != first[0].id
    with registered.session() as session:
        stored = list_findings(session)
        assert len(stored) == 2
        seen = next(f for f in stored if f.id == first[0].id)
        assert seen.occurrences == 2 and seen.last_seen_at == DAY2 and seen.detected_at == DAY1
        record = finding_record(seen, PARIS)
        assert record["evidence"]["change_point_exam"].startswith("2025-02-19T")
        assert record["subgroup"] == {"scanner_manufacturer": "Fujifilm"}
        created = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "finding.create")
        ).all()
        assert len(created) == 2


def test_a_more_severe_sighting_escalates_the_open_finding(registered: Database) -> None:
    with registered.session.begin() as session:
        (finding,) = store_findings(session, [_draft("info")], DAY1, PARIS)
        later = _draft("warning", value=0.5, window_start_ns=1_741_000_000 * 10**9)
        store_findings(session, [later], DAY2, PARIS)
        assert finding.severity == "warning" and finding.value == 0.5
        # The finding now states the escalating check: its window, and when it escalated.
        assert finding.detected_at == DAY1 and finding.escalated_at == DAY2
        assert finding.window_start == datetime.fromtimestamp(1_741_000_000, UTC)
        record = finding_record(finding, PARIS)
        assert record["escalated_at"] == "2025-03-03T00:00:00+01:00"
        store_findings(session, [_draft("info", value=0.9)], DAY2, PARIS)
        assert finding.severity == "warning" and finding.value == 0.5  # never de-escalated
        escalated = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "finding.escalate")
        ).one()
        assert escalated.details["from"] == "info" and escalated.details["to"] == "warning"


def test_the_database_refuses_a_second_active_finding_on_one_subject(
    registered: Database,
) -> None:
    with registered.session.begin() as session:
        store_findings(session, [_draft()], DAY1, PARIS)
    with pytest.raises(IntegrityError), registered.session.begin() as session:
        session.add(
            Finding(
                dedup_key=dedup_key(_draft()),
                device_id="frac",
                rule="cusum",
                severity="warning",
                status="confirmed",
                detected_at=DAY2,
                last_seen_at=DAY2,
                occurrences=1,
                evidence={},
                created_at=DAY2,
            )
        )


def test_acknowledging_is_audited_and_restarts_the_chart(registered: Database) -> None:
    with registered.session.begin() as session:
        (finding,) = store_findings(session, [_draft()], DAY1, PARIS)
        with pytest.raises(MonitorError, match="comment"):
            acknowledge(session, finding.id, user="dr.q", comment=" ")
        acknowledge(session, finding.id, user="dr.q", comment="under review")
        with pytest.raises(MonitorError, match="cannot acknowledge a finding that is acknowledged"):
            acknowledge(session, finding.id, user="dr.q", comment="again")
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "finding.acknowledge")
        ).one()
        assert entry.actor == "dr.q" and entry.details["comment"] == "under review"
        restarts = chart_restarts(session, "frac")
        key = chart_key("1.1", ("scanner_manufacturer", "Fujifilm"), "sensitivity")
        assert restarts == {key: int(DAY1.timestamp()) * 10**9}
        # while the finding is under review, a new signal on its subject counts on it
        (renewed,) = store_findings(session, [_draft()], DAY2, PARIS)
        assert renewed.id == finding.id and renewed.status == "acknowledged"
        assert renewed.occurrences == 2
    with registered.session() as session, pytest.raises(MonitorError, match="no finding 999"):
        acknowledge(session, 999, user="dr.q", comment="x")
