"""How the materiovigilance draft writes numbers, percentages and dates, in fr and en.

A missing value is written :data:`alerts.vigilance_texts.TO_COMPLETE` (a blank a
human must fill), except a missing interval, which is written ''.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.vigilance_texts import TO_COMPLETE

__all__ = ["format_date", "format_interval", "format_number", "format_percent"]


def format_percent(value: float | None, lang: str) -> str:
    """A 0..1 proportion as a percentage with one decimal: ``62,3 %`` (fr), ``62.3%`` (en)."""
    if value is None:
        return TO_COMPLETE[lang]
    text = f"{value * 100:.1f}"
    return f"{text.replace('.', ',')} %" if lang == "fr" else f"{text}%"


def format_interval(interval: Sequence[float] | None, confidence: float, lang: str) -> str:
    """``IC à 95 % : 55,1 % - 69,0 %`` (fr) / ``95% CI 55.1%-69.0%`` (en); '' without one."""
    if not interval:
        return ""
    low, high = format_percent(interval[0], lang), format_percent(interval[1], lang)
    level = format_percent(confidence, lang).replace(",0", "").replace(".0", "")
    if lang == "fr":
        return f"IC à {level} : {low} - {high}"
    return f"{level} CI {low}-{high}"


def format_number(value: float | None, lang: str, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, decimal comma in French."""
    if value is None:
        return TO_COMPLETE[lang]
    text = f"{value:.{digits}g}"
    return text.replace(".", ",") if lang == "fr" else text


def format_date(iso: str | None, lang: str) -> str:
    """The calendar date of a local ISO date-time: ``14/03/2025`` (fr), ``2025-03-14`` (en)."""
    if not iso:
        return TO_COMPLETE[lang]
    day = iso[:10]
    if lang == "fr":
        year, month, dd = day.split("-")
        return f"{dd}/{month}/{year}"
    return day
