"""Whole report texts, kept only when configured, for a limited time.

By default an outcome keeps of its report the SHA-256 of the text, the deciding
words, the whole deciding sentence, its section and its qualifiers - what a
reviewer needs. ``[ingest] keep_report_text = true`` also keeps the whole text
(table ``report_texts``, one row per outcome, written by ingestion in the chunk's
transaction); :func:`purge_report_texts` deletes those stored more than
``[ingest] report_text_retention_days`` ago (the scheduler's daily ``purge`` job,
``dmn-monitor db purge-report-texts``). A text is patient data: it is never
logged, never put in an error message, and shown to the quality and admin roles
only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.models import Outcome, ReportText
from monitor.timeutil import utc_now

__all__ = ["purge_report_texts", "report_text", "store_report_texts"]


def store_report_texts(
    session: Session, outcome_ids: list[int], texts: Mapping[str, str], now: datetime
) -> int:
    """Keep the texts of these new outcomes; ``texts`` maps an outcome's natural key
    to its report text. Returns how many were stored."""
    if not outcome_ids or not texts:
        return 0
    rows = session.execute(
        select(Outcome.id, Outcome.natural_key).where(Outcome.id.in_(sorted(outcome_ids)))
    ).all()
    kept = [
        {"outcome_id": outcome_id, "text": texts[key], "stored_at": now}
        for outcome_id, key in rows
        if texts.get(key)
    ]
    if kept:
        try:
            session.execute(insert(ReportText), kept)
        except SQLAlchemyError as exc:
            # SQLAlchemy's message lists the statement's parameters: the texts. Not here.
            cause = type(getattr(exc, "orig", None) or exc).__name__
            raise RuntimeError(f"the report texts could not be stored ({cause})") from None
    return len(kept)


def purge_report_texts(
    session: Session, retention_days: int, *, now: datetime | None = None
) -> int:
    """Delete the texts stored more than ``retention_days`` before ``now``; how many."""
    limit = (now or utc_now()) - timedelta(days=retention_days)
    result = session.execute(delete(ReportText).where(ReportText.stored_at < limit))
    return int(getattr(result, "rowcount", 0) or 0)


def report_text(session: Session, outcome_id: int) -> str | None:
    """The kept text of an outcome's report, None when not kept (or purged)."""
    return session.scalar(select(ReportText.text).where(ReportText.outcome_id == outcome_id))
