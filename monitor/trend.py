"""Trend summary of a device (EU MDR article 88 style), for the dialogue with the manufacturer.

Per period (calendar month, quarter or year, in the establishment's timezone): the
exams, the verified cases with the misses and false positives (as known now), and
the findings raised, confirmed and dismissed (by detection date: data time). The
last period is compared with the previous ones pooled: confirmed findings per
exams by the exact conditional Poisson test, miss and false-positive proportions
by Fisher's exact test, all one-sided (an increase).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from metrics.proportions import proportion_ci
from metrics.trend import RateComparison, compare_counts, compare_proportions
from monitor.errors import MonitorError
from monitor.models import CaseCountMonthly, Device, Finding

__all__ = ["PERIODS", "Period", "periods_ending", "trend_summary", "trend_text"]

Period = Literal["month", "quarter", "year"]
PERIODS: tuple[Period, ...] = ("month", "quarter", "year")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
ALPHA = 0.05


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _period_start(day: date, period: Period) -> date:
    if period == "month":
        return date(day.year, day.month, 1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _label(start: date, period: Period) -> str:
    if period == "month":
        return f"{start:%Y-%m}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def periods_ending(last: date, period: Period, count: int) -> list[tuple[str, date, date]]:
    """``count`` consecutive periods, the last one holding ``last``, oldest first:
    (label, first day, first day of the next period)."""
    if period not in PERIODS:
        raise MonitorError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    if count < 1:
        raise MonitorError("a trend needs at least one period")
    step = _MONTHS[period]
    end_start = _period_start(last, period)
    starts = [_add_months(end_start, -step * k) for k in range(count - 1, -1, -1)]
    return [(_label(s, period), s, _add_months(s, step)) for s in starts]


def _counts(session: Session, device_id: str, start: date, end: date) -> dict[str, int]:
    columns = ("tp", "fp", "tn", "fn", "pending_positive", "pending_negative", "excluded")
    query = select(*(func.coalesce(func.sum(getattr(CaseCountMonthly, c)), 0) for c in columns))
    query = query.where(
        CaseCountMonthly.device_id == device_id,
        CaseCountMonthly.exam_month >= start,
        CaseCountMonthly.exam_month < end,
    )
    row = session.execute(query).one()
    return {c: int(v) for c, v in zip(columns, row, strict=True)}


def _findings(
    session: Session, device_id: str, start: date, end: date, tz: ZoneInfo
) -> dict[str, int]:
    low = datetime.combine(start, time(), tz)
    high = datetime.combine(end, time(), tz)
    rows = session.scalars(
        select(Finding).where(
            Finding.device_id == device_id,
            Finding.detected_at >= low,
            Finding.detected_at < high,
            Finding.severity != "info",
        )
    ).all()
    return {
        "findings_raised": len(rows),
        "findings_confirmed": sum(f.confirmed_at is not None for f in rows),
        "findings_dismissed": sum(f.dismissal_reason is not None for f in rows),
    }


def _share(events: int, trials: int) -> dict[str, float | None]:
    if trials == 0:
        return {"rate": None, "low": None, "high": None}
    low, high = proportion_ci(events, trials, method="wilson")
    return {"rate": events / trials, "low": float(low), "high": float(high)}


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else value


def _comparison(result: RateComparison) -> dict[str, Any]:
    plain = {k: _plain(v) if isinstance(v, float) else v for k, v in asdict(result).items()}
    if plain["ratio"] is not None and math.isinf(plain["ratio"]):
        plain["ratio"] = "inf"
    plain["significant_increase"] = result.increased(ALPHA)
    return plain


def trend_summary(
    session: Session,
    device_id: str,
    *,
    last: date,
    period: Period = "quarter",
    previous: int = 4,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The trend of a device over ``previous`` periods and the one holding ``last``.

    Returns ``device``, ``period``, ``periods`` (each: label, start, end exclusive,
    exams, verified positives / negatives, fn, fp, miss and false-positive rates
    with 95 % Wilson intervals, findings raised / confirmed / dismissed, confirmed
    findings per 1,000 exams) and ``comparison`` of the last period with the others
    pooled (``confirmed_findings``, ``miss_rate``, ``false_positive_rate``; rates,
    ratio, one-sided p-value, ``significant_increase`` at 5 %).
    """
    device = session.get(Device, device_id)
    if device is None:
        raise MonitorError(f"unknown device {device_id!r}: `dmn-monitor devices list` shows them")
    rows: list[dict[str, Any]] = []
    for label, start, end in periods_ending(last, period, previous + 1):
        counts = _counts(session, device_id, start, end)
        found = _findings(session, device_id, start, end, tz)
        exams = sum(counts.values())
        positives = counts["tp"] + counts["fn"]
        negatives = counts["tn"] + counts["fp"]
        rows.append(
            {
                "period": label,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "exams": exams,
                "verified_positives": positives,
                "fn": counts["fn"],
                "miss_rate": _share(counts["fn"], positives),
                "verified_negatives": negatives,
                "fp": counts["fp"],
                "false_positive_rate": _share(counts["fp"], negatives),
                **found,
                "confirmed_per_1000_exams": (
                    1000.0 * found["findings_confirmed"] / exams if exams else None
                ),
            }
        )
    current, before = rows[-1], rows[:-1]

    def pooled(key: str) -> int:
        return sum(int(r[key]) for r in before)

    comparison = {
        "previous_periods": len(before),
        "confirmed_findings": _comparison(
            compare_counts(
                current["findings_confirmed"],
                current["exams"],
                pooled("findings_confirmed"),
                pooled("exams"),
            )
        ),
        "miss_rate": _comparison(
            compare_proportions(
                current["fn"],
                current["verified_positives"],
                pooled("fn"),
                pooled("verified_positives"),
            )
        ),
        "false_positive_rate": _comparison(
            compare_proportions(
                current["fp"],
                current["verified_negatives"],
                pooled("fp"),
                pooled("verified_negatives"),
            )
        ),
    }
    return {
        "device": {"id": device.id, "name": device.name, "manufacturer": device.manufacturer},
        "period": period,
        "periods": rows,
        "comparison": comparison,
    }


_TEXT = {
    "en": {
        "title": "Trend summary - {name} ({manufacturer}), by {period}",
        "row": (
            "{period}: {exams} exams, {findings_confirmed} confirmed finding(s) "
            "({findings_raised} raised, {findings_dismissed} dismissed); misses {fn}/{pos}"
            "{miss}; false positives {fp}/{neg}{fpr}"
        ),
        "up": "significant increase",
        "flat": "no significant increase",
        "cmp": "{what} in {period} against the {n} previous period(s): {verdict} (p = {p})",
        "what": {
            "confirmed_findings": "Confirmed findings per exam",
            "miss_rate": "Miss rate",
            "false_positive_rate": "False-positive rate",
        },
        "period": {"month": "month", "quarter": "quarter", "year": "year"},
    },
    "fr": {
        "title": "Synthèse de tendance - {name} ({manufacturer}), par {period}",
        "row": (
            "{period} : {exams} examens, {findings_confirmed} constat(s) confirmé(s) "
            "({findings_raised} levé(s), {findings_dismissed} écarté(s)) ; faux négatifs "
            "{fn}/{pos}{miss} ; faux positifs {fp}/{neg}{fpr}"
        ),
        "up": "hausse significative",
        "flat": "pas de hausse significative",
        "cmp": "{what} en {period} par rapport aux {n} période(s) précédente(s) : {verdict} "
        "(p = {p})",
        "what": {
            "confirmed_findings": "Constats confirmés par examen",
            "miss_rate": "Taux de faux négatifs",
            "false_positive_rate": "Taux de faux positifs",
        },
        "period": {"month": "mois", "quarter": "trimestre", "year": "année"},
    },
}


def _pct(share: dict[str, float | None], lang: str) -> str:
    if share["rate"] is None:
        return ""
    text = f" ({100 * share['rate']:.1f} %)"
    return text.replace(".", ",") if lang == "fr" else text


def trend_text(summary: dict[str, Any], lang: str = "en") -> str:
    """The summary as plain text in French or English (numbers as in the summary)."""
    if lang not in _TEXT:
        raise MonitorError(f"language {lang!r} is not fr or en")
    words = _TEXT[lang]
    device = summary["device"]
    lines = [
        str(words["title"]).format(
            name=device["name"],
            manufacturer=device["manufacturer"],
            period=words["period"][summary["period"]],  # type: ignore[index]
        )
    ]
    for row in summary["periods"]:
        lines.append(
            str(words["row"]).format(
                **row,
                pos=row["verified_positives"],
                neg=row["verified_negatives"],
                miss=_pct(row["miss_rate"], lang),
                fpr=_pct(row["false_positive_rate"], lang),
            )
        )
    comparison = summary["comparison"]
    for key in ("confirmed_findings", "miss_rate", "false_positive_rate"):
        result = comparison[key]
        lines.append(
            str(words["cmp"]).format(
                what=words["what"][key],  # type: ignore[index]
                period=summary["periods"][-1]["period"],
                n=comparison["previous_periods"],
                verdict=words["up"] if result["significant_increase"] else words["flat"],
                p=f"{result['p_value']:.3g}",
            )
        )
    return "\n".join(lines)
