"""The append-only audit log: who did what, when, to which entity.

The database refuses UPDATE and DELETE on ``audit_log`` (triggers created by the
initial migration); this module only appends and reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import AuditEntry
from monitor.timeutil import utc_now

__all__ = ["list_entries", "record"]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits with the change it records)."""
    entry = AuditEntry(
        at=at or utc_now(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details or {},
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session, *, entity: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest entries first, optionally for one kind of entity."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    return list(session.scalars(query))
