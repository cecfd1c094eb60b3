"""Incidents as every front end shows them: grouped, in plain words, with their findings.

The CLI (``check``, ``findings list``), the API, the console, the monthly report, the
notifications and the demo all read incidents through these functions, so that
they agree: the same grouping (:func:`alerts.incidents.group_incidents`), the same
plain texts (:mod:`alerts.incident_texts`) with each device's registry entry (its
target names the events, its claim the reference).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.findings import PERFORMANCE_RULES, SEVERITIES
from alerts.incident_texts import LANGS, finding_text, incident_text, slice_text, supporting_text
from alerts.incidents import Incident, group_incidents
from alerts.workflow import ACTIVE_STATUSES
from monitor.findings import finding_record, list_findings
from monitor.models import Device

__all__ = [
    "NewSince",
    "active_records",
    "annotate",
    "device_entries",
    "incident_json",
    "new_since",
]


def device_entries(session: Session, device_ids: Collection[str] | None = None) -> dict[str, Any]:
    """Each device's registry entry (``target``, ``claimed_performance``...) by id."""
    query = select(Device)
    if device_ids is not None:
        query = query.where(Device.id.in_(sorted(set(device_ids))))
    return {d.id: dict(d.spec or {}) for d in session.scalars(query)}


def active_records(
    session: Session, tz: ZoneInfo, device_id: str | None = None
) -> list[dict[str, Any]]:
    """The records of the active findings (open, acknowledged, confirmed, action_taken)."""
    found = list_findings(session, device_id=device_id, statuses=list(ACTIVE_STATUSES))
    return [finding_record(f, tz) for f in found]


def _both(make: Any) -> dict[str, Any]:
    return {lang: make(lang) for lang in LANGS}


def annotate(
    records: Sequence[dict[str, Any]],
    grouped: Sequence[Incident],
    devices: Mapping[str, Any],
) -> None:
    """Add to each record its ``incident`` (the root's id), ``incident_root`` (whether it
    is that root), ``text`` (its plain sentence) and ``incident_summary`` (its
    incident's), each text as ``{"fr": ..., "en": ...}``."""
    incident_of = {fid: incident for incident in grouped for fid in incident.finding_ids}
    summaries: dict[int, dict[str, Any]] = {}
    for record in records:
        fid = int(record["id"])
        device = devices.get(str(record["device_id"]))
        incident = incident_of.get(fid)
        record["incident"] = incident.id if incident is not None else fid
        record["incident_root"] = record["incident"] == fid
        record["text"] = _both(lambda lang, r=record, d=device: finding_text(r, lang, d))
        if incident is None:
            record["incident_summary"] = record["text"]
            continue
        if incident.id not in summaries:
            summaries[incident.id] = _both(
                lambda lang, i=incident, d=device: incident_text(i, lang, d)
            )
        record["incident_summary"] = summaries[incident.id]


def incident_json(incident: Incident, devices: Mapping[str, Any]) -> dict[str, Any]:
    """An incident as JSON: its root and supporting finding ids, severity, slice and
    plain texts in French and English (``summary``, ``evidence``)."""
    root = incident.root
    device = devices.get(incident.device_id)
    subgroup = root.get("subgroup")
    evidence = root.get("evidence") if isinstance(root.get("evidence"), Mapping) else {}
    since = (evidence or {}).get("change_point_exam") or root.get("window_start")
    return {
        "id": incident.id,
        "device_id": incident.device_id,
        "metric": incident.metric,
        "severity": incident.severity,
        "alarm": incident.alarm,
        "root": incident.id,
        "supporting": [int(r["id"]) for r in incident.supporting],
        "findings": len(incident.findings),
        "status": root.get("status"),
        "since": str(since)[:10] if since else None,
        "slice": _both(
            lambda lang: slice_text(
                root.get("device_version"),
                subgroup if isinstance(subgroup, Mapping) else None,
                lang,
            )
        ),
        "summary": _both(lambda lang: incident_text(incident, lang, device)),
        "evidence": _both(lambda lang: supporting_text(incident, lang)),
    }


@dataclass(frozen=True)
class NewSince:
    """What one ``check`` run brought (:func:`new_since`): the incidents of the active
    findings, the ids of the findings the run created or escalated (``fresh``) and of
    those that were warning or critical performance findings before it."""

    incidents: tuple[Incident, ...]
    fresh: frozenset[int]
    alarms_before: frozenset[int]

    def touched(self) -> list[Incident]:
        """The incidents holding a finding created or escalated by the run."""
        return [i for i in self.incidents if self.fresh.intersection(i.finding_ids)]

    def is_new(self, incident: Incident) -> bool:
        """A fresh finding in it and none of it alarming before the run (an incident of
        one other finding: that finding is fresh)."""
        ids = incident.finding_ids
        return bool(self.fresh.intersection(ids)) and not self.alarms_before.intersection(ids)

    def fresh_in(self, incident: Incident) -> list[int]:
        """The ids of its findings the run created or escalated."""
        return [fid for fid in incident.finding_ids if fid in self.fresh]


def new_since(
    before: Mapping[int, str],
    run: Iterable[Mapping[str, Any]],
    active: Iterable[Mapping[str, Any]],
) -> NewSince:
    """Compare a run's findings with the active findings before it.

    ``before`` maps the ids of the findings active before the run to their severity;
    ``run`` are the records the run raised or saw again, ``active`` every active
    record after it. A finding is *fresh* when the run created it or raised its
    severity; seen again as it was, it is not.
    """
    run_records = list(run)
    fresh = {
        int(r["id"])
        for r in run_records
        if int(r["id"]) not in before
        or SEVERITIES.index(str(r["severity"])) > SEVERITIES.index(before[int(r["id"])])
    }
    merged: dict[int, Mapping[str, Any]] = {int(r["id"]): r for r in active}
    for record in run_records:
        merged.setdefault(int(record["id"]), record)
    alarms_before = {
        fid
        for fid, severity in before.items()
        if severity != "info" and fid in merged and merged[fid].get("rule") in PERFORMANCE_RULES
    }
    return NewSince(
        tuple(group_incidents(merged.values())), frozenset(fresh), frozenset(alarms_before)
    )
