"""Findings that share a root cause: one degradation seen in many overlapping slices.

A degradation of a device raises findings in every slice that holds the affected
cases (the version, the site, the age band, the manufacturer of the images...) and
by several rules (charts, monthly below-claim, version comparison). Reviewing them
one by one buries the incident; they are grouped around a *primary* finding: the
performance findings of the same device and metric, on the same version or on all
versions, whose exam window overlaps the primary's while the primary was being
seen (from its window start to the later of its window end and its last sighting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from alerts.findings import PERFORMANCE_RULES

__all__ = ["incidents", "same_incident"]


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _span(record: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    start = _moment(record.get("window_start"))
    ends = [
        m for m in (_moment(record.get("window_end")), _moment(record.get("last_seen_at"))) if m
    ]
    if start is None or not ends:
        return None
    return start, max(ends)


def same_incident(primary: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether ``other`` is most likely the primary's degradation seen in another slice.

    Both are performance findings (:data:`PERFORMANCE_RULES`) of the same device and
    metric, their versions agree (equal, or one of them is all versions), and the
    other's window overlaps the primary's span. Records carry ``device_id``,
    ``rule``, ``metric``, ``device_version``, ``window_start``, ``window_end`` and
    ``last_seen_at`` (aware datetimes or ISO 8601 texts); a finding without a window
    is related to nothing.
    """
    if primary.get("id") is not None and primary.get("id") == other.get("id"):
        return False
    if primary["rule"] not in PERFORMANCE_RULES or other["rule"] not in PERFORMANCE_RULES:
        return False
    if primary["device_id"] != other["device_id"] or primary.get("metric") != other.get("metric"):
        return False
    versions = (primary.get("device_version"), other.get("device_version"))
    if None not in versions and versions[0] != versions[1]:
        return False
    span = _span(primary)
    start, end = _moment(other.get("window_start")), _moment(other.get("window_end"))
    if span is None or start is None or end is None:
        return False
    return start <= span[1] and span[0] <= end


def incidents(records: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Finding id -> id of the primary finding of its incident (itself when alone).

    Findings are taken by detection time: each joins the first open incident it is
    :func:`same_incident` with - its primary's device, metric and version, and a
    window overlapping the incident's span, which grows with every finding that
    joins (an incident lasts while its slices keep alarming) - otherwise it starts
    an incident of its own.
    """
    ordered = sorted(records, key=lambda r: (_moment(r["detected_at"]), r["id"]))
    groups: list[dict[str, Any]] = []  # the primary's record with the incident's span
    group: dict[int, int] = {}
    for record in ordered:
        owner = next((g for g in groups if same_incident(g, record)), None)
        if owner is None:
            span = _span(record)
            groups.append({**record, "window_start": span[0] if span else None, "span": span})
            if span is not None:
                groups[-1]["window_end"] = span[1]
                groups[-1]["last_seen_at"] = span[1]
            group[int(record["id"])] = int(record["id"])
            continue
        group[int(record["id"])] = int(owner["id"])
        joined = _span(record)
        if joined is not None:
            owner["window_start"] = min(owner["window_start"], joined[0])
            owner["window_end"] = owner["last_seen_at"] = max(owner["window_end"], joined[1])
    return group
