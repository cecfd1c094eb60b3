"""Findings in the database: stored once, deduplicated, listed.

At most one *active* finding (open, acknowledged, confirmed or action_taken) exists
per device, version, subgroup, rule and metric (:func:`dedup_key`); a rule that
raises it again only updates ``last_seen_at`` and ``occurrences``, unless the new
draft is more severe: the finding is then escalated (``escalated_at``), and its
severity, window, value, threshold and evidence become the new draft's. Once a
finding is dismissed or closed, the rule raising it again opens a new one. Every
finding created or escalated is written to the audit log; the review steps live in
:mod:`monitor.workflow`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.charts import chart_key
from alerts.findings import SEVERITIES, FindingDraft
from alerts.workflow import ACTIVE_STATUSES, STATUSES
from monitor import audit
from monitor.errors import MonitorError
from monitor.models import Finding
from monitor.timeutil import local_iso, utc_now

__all__ = [
    "FINDING_STATUSES",
    "audit_finding",
    "chart_restarts",
    "dedup_key",
    "finding_record",
    "get_finding",
    "list_findings",
    "store_findings",
]

FINDING_STATUSES = STATUSES
"""Every status of a finding (see :mod:`alerts.workflow`)."""

SYSTEM_ACTOR = "dmn-monitor check"


def dedup_key(draft: FindingDraft) -> str:
    """SHA-256 of what the finding is about: device, version, subgroup, rule, metric."""
    subgroup = sorted((draft.subgroup or {}).items())
    parts = [draft.device_id, draft.device_version or "", subgroup, draft.rule, draft.metric or ""]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def _utc(ns: int | None) -> datetime | None:
    return None if ns is None else pd.Timestamp(ns, tz="UTC").to_pydatetime()


def _local_text(ns: int, tz: ZoneInfo) -> str:
    return str(pd.Timestamp(ns, tz="UTC").tz_convert(tz).isoformat(timespec="seconds"))


def _plain_evidence(value: Any, tz: ZoneInfo) -> Any:
    """Evidence made JSON-ready; ``*_ns`` times become ISO local date-times (key without _ns)."""
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if key.endswith("_ns") and isinstance(item, int):
                plain[key[:-3]] = _local_text(item, tz)
            else:
                plain[key] = _plain_evidence(item, tz)
        return plain
    if isinstance(value, list | tuple):
        return [_plain_evidence(item, tz) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, float) and value != value:  # nan
        return None
    return value


def store_findings(
    session: Session, drafts: Iterable[FindingDraft], as_of: datetime, tz: ZoneInfo
) -> list[Finding]:
    """Store each draft once; returns the findings created or seen again, in draft order."""
    touched: dict[int, Finding] = {}
    now = utc_now()
    for draft in drafts:
        key = dedup_key(draft)
        evidence = _plain_evidence(draft.evidence, tz)
        existing = session.scalars(
            select(Finding).where(Finding.dedup_key == key, Finding.status.in_(ACTIVE_STATUSES))
        ).one_or_none()
        if existing is not None:
            if as_of > existing.last_seen_at:  # a re-run of the same dates counts nothing
                existing.last_seen_at = as_of
                existing.occurrences += 1
            if SEVERITIES.index(draft.severity) > SEVERITIES.index(existing.severity):
                _escalate(session, existing, draft, evidence, as_of)
            touched.setdefault(existing.id, existing)
            continue
        finding = Finding(
            dedup_key=key,
            device_id=draft.device_id,
            device_version=draft.device_version,
            subgroup=draft.subgroup,
            rule=draft.rule,
            metric=draft.metric,
            severity=draft.severity,
            status="open",
            window_start=_utc(draft.window_start_ns),
            window_end=_utc(draft.window_end_ns),
            detected_at=as_of,
            last_seen_at=as_of,
            occurrences=1,
            value=draft.value,
            threshold=draft.threshold,
            evidence=evidence,
            created_at=now,
            status_changed_at=now,
        )
        session.add(finding)
        session.flush()
        audit_finding(
            session,
            finding.id,
            "create",
            device_id=draft.device_id,
            rule=draft.rule,
            metric=draft.metric,
            severity=draft.severity,
            detected_at=as_of.isoformat(),
        )
        touched[finding.id] = finding
    return list(touched.values())


def audit_finding(
    session: Session, finding_id: int, verb: str, actor: str = SYSTEM_ACTOR, **details: Any
) -> None:
    """Write ``finding.<verb>`` about finding ``finding_id`` to the audit log."""
    audit.record(
        session,
        actor=actor,
        action=f"finding.{verb}",
        entity="finding",
        entity_id=str(finding_id),
        details=details,
    )


def _escalate(
    session: Session,
    finding: Finding,
    draft: FindingDraft,
    evidence: dict[str, Any],
    as_of: datetime,
) -> None:
    """A more severe draft of an open finding: the finding now states that draft."""
    audit_finding(
        session,
        finding.id,
        "escalate",
        **{"from": finding.severity, "to": draft.severity, "as_of": as_of.isoformat()},
    )
    finding.severity = draft.severity
    finding.escalated_at = as_of
    finding.window_start = _utc(draft.window_start_ns)
    finding.window_end = _utc(draft.window_end_ns)
    finding.value = draft.value
    finding.threshold = draft.threshold
    finding.evidence = evidence


def get_finding(session: Session, finding_id: int) -> Finding:
    """The finding ``finding_id``; MonitorError naming it when there is none."""
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise MonitorError(f"no finding {finding_id}: `dmn-monitor findings list` shows them")
    return finding


def list_findings(
    session: Session,
    *,
    device_id: str | None = None,
    statuses: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """Findings, newest detection first."""
    query = select(Finding).order_by(Finding.detected_at.desc(), Finding.id.desc())
    if device_id is not None:
        query = query.where(Finding.device_id == device_id)
    if statuses:
        query = query.where(Finding.status.in_(list(statuses)))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def chart_restarts(session: Session, device_id: str) -> dict[str, int]:
    """Per chart key, the detection time (UTC ns) of its latest acknowledged finding."""
    query = select(Finding).where(
        Finding.device_id == device_id,
        Finding.rule.in_(["cusum", "ewma"]),
        Finding.status != "open",
        Finding.acknowledged_at.is_not(None),
    )
    restarts: dict[str, int] = {}
    for finding in session.scalars(query):
        items = list((finding.subgroup or {}).items())
        subgroup = (str(items[0][0]), str(items[0][1])) if items else None
        key = chart_key(finding.device_version, subgroup, finding.metric or "")
        ns = int(pd.Timestamp(finding.detected_at).value)
        restarts[key] = max(restarts.get(key, ns), ns)
    return restarts


def finding_record(finding: Finding, tz: ZoneInfo) -> dict[str, Any]:
    """The JSON shape of a finding (``check --format json``, ``findings list``)."""
    return {
        "id": finding.id,
        "device_id": finding.device_id,
        "device_version": finding.device_version,
        "rule": finding.rule,
        "metric": finding.metric,
        "subgroup": finding.subgroup,
        "window_start": local_iso(finding.window_start, tz),
        "window_end": local_iso(finding.window_end, tz),
        "detected_at": local_iso(finding.detected_at, tz),
        "severity": finding.severity,
        "value": finding.value,
        "threshold": finding.threshold,
        "evidence": finding.evidence,
        "status": finding.status,
        "last_seen_at": local_iso(finding.last_seen_at, tz),
        "escalated_at": local_iso(finding.escalated_at, tz),
        "occurrences": finding.occurrences,
        "acknowledged_at": local_iso(finding.acknowledged_at, tz),
        "acknowledged_by": finding.acknowledged_by,
        "confirmed_at": local_iso(finding.confirmed_at, tz),
        "confirmed_by": finding.confirmed_by,
        "dismissal_reason": finding.dismissal_reason,
        "closed_at": local_iso(finding.closed_at, tz),
        "status_changed_at": local_iso(finding.status_changed_at, tz),
    }
