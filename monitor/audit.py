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
    session: Session,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    action_prefix: str | None = None,
    limit: int | None = 100,
) -> list[AuditEntry]:
    """The newest entries first, optionally for one kind of entity, one entity or
    actions starting with ``action_prefix``; ``limit=None`` for all of them."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if action_prefix is not None:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
