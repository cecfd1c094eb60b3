"""The review of a finding in the database: each step by a named user, audited.

``acknowledge -> confirm | dismiss -> act -> close`` and ``reopen``, as
:mod:`alerts.workflow` allows them. Every step needs a user name and a comment
and writes ``finding.<step>`` to the append-only audit log (who, when, from which
status to which, the comment); corrective actions write ``finding.action_add``
and ``finding.action_done``. Steps are taken in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incident_texts import LANGS, finding_text, incident_text
from alerts.incidents import Incident, group_incidents
from alerts.workflow import (
    ACTION_KINDS,
    ACTIVE_STATUSES,
    DISMISSAL_REASONS,
    IllegalTransition,
    next_status,
)
from monitor.audit import list_entries
from monitor.errors import MonitorError
from monitor.findings import audit_finding, finding_record, get_finding
from monitor.models import Device, Finding, FindingAction
from monitor.timeutil import local_iso, utc_now

_UTC = ZoneInfo("UTC")

__all__ = [
    "ActionInput",
    "acknowledge",
    "action_record",
    "add_action",
    "close",
    "complete_action",
    "confirm",
    "covered_findings",
    "dismiss",
    "finding_detail",
    "finding_history",
    "finding_incident",
    "list_actions",
    "related_findings",
    "reopen",
]


def _require(user: str, comment: str, step: str) -> tuple[str, str]:
    if not user or not user.strip():
        raise MonitorError(f"{step} needs the name of the user taking it (--user)")
    if not comment or not comment.strip():
        raise MonitorError(f"{step} needs a comment saying why (--comment)")
    return user.strip(), comment.strip()


def _move(
    session: Session, finding_id: int, verb: str, user: str, comment: str, **details: Any
) -> tuple[Finding, str]:
    """Apply ``verb`` to the finding: check it is legal, set the status, audit it."""
    user, comment = _require(user, comment, f"{verb} finding {finding_id}")
    finding = get_finding(session, finding_id)
    before = finding.status
    try:
        after = next_status(before, verb)
    except IllegalTransition as exc:
        raise MonitorError(f"finding {finding_id}: {exc}") from exc
    finding.status = after
    finding.status_changed_at = utc_now()
    audit_finding(
        session,
        finding_id,
        verb,
        actor=user,
        **{"from": before, "to": after, "comment": comment, **details},
    )
    return finding, user


def acknowledge(session: Session, finding_id: int, *, user: str, comment: str) -> Finding:
    """Someone has seen the open finding and reviews it; its chart restarts after it."""
    finding, user = _move(session, finding_id, "acknowledge", user, comment)
    finding.acknowledged_at = finding.status_changed_at
    finding.acknowledged_by = user
    return finding


def confirm(
    session: Session,
    finding_id: int,
    *,
    user: str,
    comment: str,
    with_related: bool = False,
    tz: ZoneInfo = _UTC,
) -> Finding:
    """The reviewer confirms the malfunction (it may lead to a vigilance declaration).

    ``with_related``: the open or acknowledged findings of the same incident
    (:func:`related_findings`) are dismissed as ``same_root_cause``, covered by this
    one - one incident, one confirmed finding.
    """
    finding, user = _move(session, finding_id, "confirm", user, comment)
    finding.confirmed_at = finding.status_changed_at
    finding.confirmed_by = user
    if with_related:
        _cover(session, finding, "same_root_cause", user, comment, tz)
    return finding


def dismiss(
    session: Session,
    finding_id: int,
    *,
    reason: str,
    user: str,
    comment: str,
    with_related: bool = False,
    tz: ZoneInfo = _UTC,
) -> Finding:
    """The reviewer dismisses the finding for one of :data:`DISMISSAL_REASONS`;
    ``with_related``: the open or acknowledged findings of its incident too."""
    if reason not in DISMISSAL_REASONS:
        raise MonitorError(
            f"dismissal reason {reason!r} is not one of {', '.join(DISMISSAL_REASONS)}"
        )
    finding, user = _move(session, finding_id, "dismiss", user, comment, reason=reason)
    finding.dismissal_reason = reason
    if with_related:
        _cover(session, finding, reason, user, comment, tz)
    return finding


def _incident(
    session: Session, finding: Finding, tz: ZoneInfo
) -> tuple[Incident, dict[int, Finding]]:
    """The incident of ``finding`` among the active findings of its device (with it)."""
    active = {
        f.id: f
        for f in session.scalars(
            select(Finding).where(
                Finding.device_id == finding.device_id,
                Finding.status.in_(ACTIVE_STATUSES),
            )
        )
    }
    active.setdefault(finding.id, finding)
    grouped = group_incidents(finding_record(f, tz) for f in active.values())
    mine = next(i for i in grouped if finding.id in i.finding_ids)
    return mine, active


def finding_incident(session: Session, finding: Finding, tz: ZoneInfo = _UTC) -> Incident:
    """The incident of ``finding`` among the active findings of its device (with it,
    whatever its status): its root and supporting finding records."""
    return _incident(session, finding, tz)[0]


def related_findings(session: Session, finding: Finding, tz: ZoneInfo = _UTC) -> list[Finding]:
    """The other active findings of the finding's incident (:mod:`alerts.incidents`):
    the same degradation seen in other slices or by other rules."""
    incident, active = _incident(session, finding, tz)
    return sorted(
        (active[fid] for fid in incident.finding_ids if fid != finding.id), key=lambda f: f.id
    )


def covered_findings(session: Session, finding_id: int) -> list[Finding]:
    """The findings dismissed as covered by ``finding_id`` (``--with-related``), by id."""
    entries = list_entries(session, entity="finding", action_prefix="finding.dismiss", limit=None)
    ids = sorted(
        {
            int(str(e.entity_id))
            for e in entries
            if e.details.get("covered_by") == finding_id and e.entity_id is not None
        }
    )
    if not ids:
        return []
    query = select(Finding).where(Finding.id.in_(ids)).order_by(Finding.id)
    return [f for f in session.scalars(query) if f.status in ("dismissed", "closed")]


def _cover(
    session: Session, finding: Finding, reason: str, user: str, comment: str, tz: ZoneInfo
) -> list[int]:
    """Dismiss the open or acknowledged findings of ``finding``'s incident for ``reason``."""
    covered = []
    note = f"with finding {finding.id}: {comment}"
    for other in related_findings(session, finding, tz):
        if other.status == "open":
            acknowledge(session, other.id, user=user, comment=note)
        if other.status == "acknowledged":
            _move(session, other.id, "dismiss", user, note, reason=reason, covered_by=finding.id)
            other.dismissal_reason = reason
            covered.append(other.id)
    return covered


@dataclass(frozen=True)
class ActionInput:
    """A corrective action as a user records it."""

    kind: str
    description: str
    owner: str
    due_date: date | None = None
    done_date: date | None = None

    def checked(self) -> ActionInput:
        """The action, or MonitorError naming what is missing or wrong."""
        if self.kind not in ACTION_KINDS:
            raise MonitorError(f"action kind {self.kind!r} is not one of {', '.join(ACTION_KINDS)}")
        if not self.description.strip():
            raise MonitorError("a corrective action needs a description (--description)")
        if not self.owner.strip():
            raise MonitorError("a corrective action needs an owner (--owner)")
        return self


def add_action(
    session: Session, finding_id: int, action: ActionInput, *, user: str, comment: str
) -> FindingAction:
    """Record a corrective action on a confirmed finding (it becomes ``action_taken``)."""
    action = action.checked()
    finding, user = _move(session, finding_id, "act", user, comment, kind=action.kind)
    row = FindingAction(
        finding_id=finding.id,
        kind=action.kind,
        description=action.description.strip(),
        owner=action.owner.strip(),
        due_date=action.due_date,
        done_date=action.done_date,
        created_by=user,
        created_at=utc_now(),
        completed_by=user if action.done_date else None,
    )
    session.add(row)
    session.flush()
    audit_finding(
        session,
        finding.id,
        "action_add",
        actor=user,
        action_id=row.id,
        kind=row.kind,
        description=row.description,
        owner=row.owner,
        due_date=row.due_date.isoformat() if row.due_date else None,
        done_date=row.done_date.isoformat() if row.done_date else None,
    )
    return row


def complete_action(
    session: Session, action_id: int, *, done: date, user: str, comment: str
) -> FindingAction:
    """Mark a corrective action done on ``done`` (a local calendar date)."""
    user, comment = _require(user, comment, f"completing action {action_id}")
    row = session.get(FindingAction, action_id)
    if row is None:
        raise MonitorError(f"no corrective action {action_id}: `findings show` lists them")
    if row.done_date is not None:
        raise MonitorError(f"action {action_id} was already done on {row.done_date}")
    row.done_date = done
    row.completed_by = user
    audit_finding(
        session,
        row.finding_id,
        "action_done",
        actor=user,
        action_id=row.id,
        done_date=done.isoformat(),
        comment=comment,
    )
    return row


def close(session: Session, finding_id: int, *, user: str, comment: str) -> Finding:
    """Close a dismissed finding, or a confirmed one whose corrective actions are all done."""
    finding = get_finding(session, finding_id)
    if finding.status == "action_taken":
        pending = [a for a in list_actions(session, finding_id) if a.done_date is None]
        if pending:
            names = ", ".join(f"{a.id} ({a.kind}, owner {a.owner})" for a in pending)
            raise MonitorError(
                f"finding {finding_id} still has corrective actions not done: {names}; "
                "mark them done first (findings action-done ACTION_ID)"
            )
    finding, _ = _move(session, finding_id, "close", user, comment)
    finding.closed_at = finding.status_changed_at
    return finding


def reopen(session: Session, finding_id: int, *, user: str, comment: str) -> Finding:
    """Reopen a dismissed or closed finding, unless the rule has opened a newer one."""
    finding = get_finding(session, finding_id)
    newer = session.scalars(
        select(Finding.id).where(
            Finding.dedup_key == finding.dedup_key,
            Finding.status.in_(ACTIVE_STATUSES),
            Finding.id != finding.id,
        )
    ).first()
    if newer is not None:
        raise MonitorError(
            f"finding {newer} about the same device, slice, rule and metric is active; "
            "continue the review on it instead of reopening finding "
            f"{finding_id}"
        )
    finding, _ = _move(session, finding_id, "reopen", user, comment)
    finding.closed_at = None
    return finding


def list_actions(session: Session, finding_id: int) -> list[FindingAction]:
    """The corrective actions of a finding, in the order recorded."""
    query = (
        select(FindingAction)
        .where(FindingAction.finding_id == finding_id)
        .order_by(FindingAction.id)
    )
    return list(session.scalars(query))


def action_record(action: FindingAction) -> dict[str, Any]:
    """The JSON shape of a corrective action."""
    return {
        "id": action.id,
        "kind": action.kind,
        "description": action.description,
        "owner": action.owner,
        "due_date": action.due_date.isoformat() if action.due_date else None,
        "done_date": action.done_date.isoformat() if action.done_date else None,
        "created_by": action.created_by,
        "completed_by": action.completed_by,
    }


def finding_history(session: Session, finding_id: int, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The audit entries of a finding, oldest first (at, actor, action, details)."""
    entries = list_entries(session, entity="finding", entity_id=str(finding_id), limit=None)
    return [
        {
            "at": local_iso(entry.at, tz),
            "actor": entry.actor,
            "action": entry.action,
            "details": entry.details,
        }
        for entry in reversed(entries)
    ]


def finding_detail(session: Session, finding_id: int, tz: ZoneInfo) -> dict[str, Any]:
    """A finding with its corrective actions and its audit history (``findings show``),
    its plain ``text`` (fr, en), its ``incident`` among the active findings (the root's
    id), ``incident_root``, ``incident_summary`` (fr, en) and ``related`` (the other
    findings' ids)."""
    finding = get_finding(session, finding_id)
    record = finding_record(finding, tz)
    device = session.get(Device, finding.device_id)
    spec = dict(device.spec or {}) if device is not None else {}
    incident, _ = _incident(session, finding, tz)
    record["text"] = {lang: finding_text(record, lang, spec) for lang in LANGS}
    record["incident"] = incident.id
    record["incident_root"] = incident.id == finding.id
    record["incident_summary"] = {lang: incident_text(incident, lang, spec) for lang in LANGS}
    record["related"] = [fid for fid in incident.finding_ids if fid != finding.id]
    record["actions"] = [action_record(a) for a in list_actions(session, finding_id)]
    record["history"] = finding_history(session, finding_id, tz)
    return record
