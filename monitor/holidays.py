"""Public holidays: days a hospital's scheduled activity runs as on a Sunday."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["HOLIDAY_CALENDARS", "french_public_holidays", "holidays_between"]

HOLIDAY_CALENDARS = ("france", "none")
"""Calendars :func:`holidays_between` knows."""


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def french_public_holidays(year: int) -> list[date]:
    """The eleven French public holidays (jours fériés, metropolitan France) of ``year``."""
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Monday, Ascension, Pentecost
    return sorted([date(year, m, d) for m, d in fixed] + movable)


def holidays_between(first: date, last: date, calendar: str) -> set[date]:
    """Holidays of ``calendar`` from ``first`` to ``last`` inclusive (``none``: no day)."""
    if calendar not in HOLIDAY_CALENDARS:
        raise ValueError(f"unknown holiday calendar {calendar!r}; use one of {HOLIDAY_CALENDARS}")
    if calendar == "none":
        return set()
    return {
        day
        for year in range(first.year, last.year + 1)
        for day in french_public_holidays(year)
        if first <= day <= last
    }
