"""Time is data time: aware datetimes, as-of parsing and calendar windows.

Storage keeps aware UTC; days, weeks (Monday first) and months are cut in the
establishment's timezone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from monitor.errors import MonitorError

__all__ = ["as_utc", "end_of_day", "local_iso", "parse_as_of", "utc_now"]


def utc_now() -> datetime:
    """The current time, aware, in UTC (the one clock of the application)."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` if aware, else the naive UTC time a database aggregate returned, made
    aware (UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """An aware moment as ISO 8601 local time in ``tz`` to the second; None stays None."""
    return None if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last microsecond of ``day`` in ``tz``, aware (DST-safe)."""
    return datetime.combine(day, time.max, tzinfo=tz)


def parse_as_of(text: str | None, tz: ZoneInfo, *, now: datetime | None = None) -> datetime:
    """Parse an ``--as-of`` value into an aware datetime.

    ``None`` means now. A date (``2025-06-30``) means the end of that day in ``tz``;
    a date-time without offset is local time in ``tz``. Raises :class:`MonitorError`
    on anything else.
    """
    if text is None:
        return now or utc_now()
    value = text.strip()
    try:
        if len(value) == 10:
            return end_of_day(date.fromisoformat(value), tz)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MonitorError(
            f"--as-of {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
