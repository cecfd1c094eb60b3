"""A finding's review in the database: each step by a named user with a comment,
corrective actions, closing and reopening, all in the append-only audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from alerts.findings import FindingDraft
from monitor.errors import MonitorError
from monitor.findings import store_findings
from monitor.models import AuditEntry, Finding
from monitor.storage import Database
from monitor.workflow import (
    ActionInput,
    acknowledge,
    add_action,
    close,
    complete_action,
    confirm,
    dismiss,
    finding_detail,
    reopen,
)

PARIS = ZoneInfo("Europe/Paris")
DAY1 = datetime(2025, 3, 1, 23, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 9, 23, 0, tzinfo=UTC)


def _draft(**changes: object) -> FindingDraft:
    fields: dict[str, object] = {
        "device_id": "frac",
        "rule": "cusum",
        "severity": "critical",
        "metric": "sensitivity",
        "device_version": "1.1",
        "subgroup": {"scanner_manufacturer": "Fujifilm"},
        "window_start_ns": 1_740_000_000 * 10**9,
        "window_end_ns": 1_740_800_000 * 10**9,
        "value": 0.62,
        "threshold": 9.1,
    }
    fields.update(changes)
    return FindingDraft(**fields)  # type: ignore[arg-type]


def _new_finding(db: Database, **changes: object) -> int:
    with db.session.begin() as session:
        (finding,) = store_findings(session, [_draft(**changes)], DAY1, PARIS)
        return finding.id


def _trail(db: Database, finding_id: int) -> list[tuple[str, str, str, str]]:
    with db.session() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "finding", AuditEntry.entity_id == str(finding_id))
            .order_by(AuditEntry.id)
        ).all()
        return [
            (e.action, e.actor, str(e.details.get("from")), str(e.details.get("to")))
            for e in entries
        ]


def test_a_confirmed_finding_is_acted_on_and_closed_every_step_audited(
    registered: Database,
) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.quality", comment="looking at the cases")
        confirm(session, finding_id, user="dr.referent", comment="8 missed fractures reviewed")
        first = add_action(
            session,
            finding_id,
            ActionInput(
                "restrict_use",
                "Not used on Fujifilm images until the vendor answers",
                "dr.referent",
                due_date=date(2025, 3, 15),
            ),
            user="dr.referent",
            comment="interim measure",
        )
        add_action(
            session,
            finding_id,
            ActionInput(
                "contact_manufacturer",
                "Vendor informed",
                "m.vigilance",
                done_date=date(2025, 3, 10),
            ),
            user="m.vigilance",
            comment="ticket opened",
        )
        with pytest.raises(MonitorError, match=f"actions not done: {first.id} \\(restrict_use"):
            close(session, finding_id, user="dr.quality", comment="done")
        complete_action(
            session, first.id, done=date(2025, 3, 14), user="dr.referent", comment="in place"
        )
        closed = close(session, finding_id, user="dr.quality", comment="vendor fix validated")
        assert closed.status == "closed" and closed.closed_at is not None
        assert closed.confirmed_by == "dr.referent" and closed.acknowledged_by == "dr.quality"
    assert _trail(registered, finding_id) == [
        ("finding.create", "dmn-monitor check", "None", "None"),
        ("finding.acknowledge", "dr.quality", "open", "acknowledged"),
        ("finding.confirm", "dr.referent", "acknowledged", "confirmed"),
        ("finding.act", "dr.referent", "confirmed", "action_taken"),
        ("finding.action_add", "dr.referent", "None", "None"),
        ("finding.act", "m.vigilance", "action_taken", "action_taken"),
        ("finding.action_add", "m.vigilance", "None", "None"),
        ("finding.action_done", "dr.referent", "None", "None"),
        ("finding.close", "dr.quality", "action_taken", "closed"),
    ]
    with registered.session() as session:
        detail = finding_detail(session, finding_id, PARIS)
    assert [a["done_date"] for a in detail["actions"]] == ["2025-03-14", "2025-03-10"]
    assert detail["history"][2]["details"]["comment"] == "8 missed fractures reviewed"
    assert detail["status"] == "closed"


def test_closing_an_open_finding_is_refused_and_changes_nothing(registered: Database) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session, pytest.raises(MonitorError) as caught:
        close(session, finding_id, user="dr.quality", comment="nothing to see")
    assert str(caught.value).startswith(
        f"finding {finding_id}: cannot close a finding that is open"
    )
    assert "from open: acknowledge" in str(caught.value)
    with registered.session() as session:
        assert session.get(Finding, finding_id).status == "open"  # type: ignore[union-attr]
    assert [t[0] for t in _trail(registered, finding_id)] == ["finding.create"]


def test_every_step_needs_a_named_user_and_a_comment(registered: Database) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        with pytest.raises(MonitorError, match="needs the name of the user"):
            acknowledge(session, finding_id, user=" ", comment="x")
        with pytest.raises(MonitorError, match="needs a comment"):
            acknowledge(session, finding_id, user="dr.q", comment="")


def test_dismissal_takes_a_reason_from_the_list(registered: Database) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.q", comment="seen")
        with pytest.raises(MonitorError, match="not one of expected_variation, data_error"):
            dismiss(session, finding_id, reason="bored", user="dr.q", comment="x")
        dismissed = dismiss(
            session, finding_id, reason="data_error", user="dr.q", comment="duplicate feed"
        )
        assert dismissed.dismissal_reason == "data_error"
        close(session, finding_id, user="dr.q", comment="nothing to act on")
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "finding.dismiss")
        ).one()
        assert entry.details["reason"] == "data_error"


def test_corrective_actions_name_a_known_kind_an_owner_and_what_is_done(
    registered: Database,
) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.q", comment="seen")
        with pytest.raises(
            MonitorError,
            match="cannot record a corrective action on a finding that is acknowledged",
        ):
            add_action(session, finding_id, ActionInput("other", "x", "me"), user="a", comment="b")
        confirm(session, finding_id, user="dr.q", comment="real")
        with pytest.raises(MonitorError, match="action kind 'pray'"):
            add_action(session, finding_id, ActionInput("pray", "x", "me"), user="a", comment="b")
        with pytest.raises(MonitorError, match="needs an owner"):
            add_action(session, finding_id, ActionInput("other", "x", " "), user="a", comment="b")
        with pytest.raises(MonitorError, match="no corrective action 999"):
            complete_action(session, 999, done=date(2025, 1, 1), user="a", comment="b")


def test_a_rule_firing_again_counts_on_the_finding_under_review_until_it_is_closed(
    registered: Database,
) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.q", comment="seen")
        confirm(session, finding_id, user="dr.q", comment="real")
        (again,) = store_findings(session, [_draft()], DAY2, PARIS)
        assert again.id == finding_id and again.occurrences == 2
        add_action(
            session,
            finding_id,
            ActionInput("raise_threshold", "threshold 0.4", "dr.q", done_date=date(2025, 3, 9)),
            user="dr.q",
            comment="fixed",
        )
        close(session, finding_id, user="dr.q", comment="fixed")
        (renewed,) = store_findings(session, [_draft()], DAY2, PARIS)
        assert renewed.id != finding_id and renewed.status == "open"
        # The old finding cannot be reopened beside the new one on the same subject.
        with pytest.raises(MonitorError, match=f"finding {renewed.id} about the same device"):
            reopen(session, finding_id, user="dr.q", comment="it came back")


def test_a_closed_finding_is_reopened_with_its_history_kept(registered: Database) -> None:
    finding_id = _new_finding(registered)
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.q", comment="seen")
        dismiss(session, finding_id, reason="expected_variation", user="dr.q", comment="noise")
        close(session, finding_id, user="dr.q", comment="closing")
        reopened = reopen(session, finding_id, user="dr.referent", comment="more misses since")
        assert reopened.status == "open" and reopened.closed_at is None
        assert reopened.acknowledged_by == "dr.q"
    assert [t[0] for t in _trail(registered, finding_id)][-1] == "finding.reopen"


def test_confirming_with_related_covers_the_same_incident_in_other_slices(
    registered: Database,
) -> None:
    primary = _new_finding(registered)
    same = _new_finding(registered, subgroup={"site": "A"})
    all_versions = _new_finding(registered, device_version=None, rule="below_claim")
    other_metric = _new_finding(registered, metric="specificity")
    later = _new_finding(
        registered,
        subgroup={"site": "B"},
        window_start_ns=1_760_000_000 * 10**9,
        window_end_ns=1_761_000_000 * 10**9,
    )
    with registered.session.begin() as session:
        acknowledge(session, primary, user="dr.q", comment="seen")
        confirm(
            session, primary, user="dr.q", comment="Fujifilm misses", with_related=True, tz=PARIS
        )
        status = {f.id: (f.status, f.dismissal_reason) for f in session.scalars(select(Finding))}
    assert status == {
        primary: ("confirmed", None),
        same: ("dismissed", "same_root_cause"),
        all_versions: ("dismissed", "same_root_cause"),
        other_metric: ("open", None),
        later: ("open", None),
    }
    trail = _trail(registered, same)
    assert [t[0] for t in trail] == ["finding.create", "finding.acknowledge", "finding.dismiss"]
    with registered.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == str(same), AuditEntry.action == "finding.dismiss"
            )
        ).one()
    assert entry.details["covered_by"] == primary
    assert entry.details["comment"] == f"with finding {primary}: Fujifilm misses"
