"""Cell parsers: a raw value (text from CSV, or a native Parquet value) -> canonical value.

Each parser returns the value or raises :class:`CellError` with a short reason
naming the column and the bad value; the reader turns that into the row's error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.canonical import AI_RESULTS, OUTCOME_SOURCES, OUTCOMES, PATIENT_SEXES
from connectors.errors import ConnectorError

__all__ = ["CellError", "Parser", "parsers_for", "zone"]

Parser = Callable[[Any], Any]


class CellError(ValueError):
    """One cell's value is not acceptable; the message is the quarantine reason."""


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """The timezone ``name``; :class:`ConnectorError` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConnectorError(f"unknown timezone {name!r} (use an IANA name)") from exc


def _text(column: str) -> Parser:
    def parse(value: Any) -> str:
        return str(value).strip()

    return parse


def _choice(column: str, allowed: tuple[str, ...], upper: bool = False) -> Parser:
    options = frozenset(allowed)
    listed = ", ".join(allowed)

    def parse(value: Any) -> str:
        text = str(value).strip()
        normalised = text.upper() if upper else text.lower()
        if normalised not in options:
            raise CellError(f"{column} {text!r} is not one of {listed}")
        return normalised

    return parse


def _number(column: str, low: float, high: float) -> Parser:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise CellError(f"{column} {value!r} is not a number")
        if isinstance(value, int | float):
            number = float(value)
        else:
            text = str(value).strip()
            try:
                number = float(text.replace(",", "."))
            except ValueError as exc:
                raise CellError(f"{column} {text!r} is not a number") from exc
        if not math.isfinite(number):
            raise CellError(f"{column} {value!r} is not a finite number")
        if not low <= number <= high:
            raise CellError(f"{column} '{value}' is outside {low:g}..{high:g}")
        return number

    return parse


def _datetime(column: str, fmt: str | None, tz: ZoneInfo) -> Parser:
    expected = f"does not match format {fmt!r}" if fmt else "is not an ISO 8601 date-time"

    def parse(value: Any) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            text = str(value).strip()
            try:
                moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
            except ValueError as exc:
                raise CellError(f"{column} {text!r} {expected}") from exc
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)

    return parse


def parsers_for(
    columns: tuple[str, ...], datetime_format: str | None, timezone: str
) -> Mapping[str, Parser]:
    """A parser per canonical column of a record kind."""
    tz = zone(timezone)
    table: dict[str, Parser] = {}
    for column in columns:
        if column.endswith("_datetime"):
            table[column] = _datetime(column, datetime_format, tz)
        elif column == "ai_result":
            table[column] = _choice(column, AI_RESULTS)
        elif column == "outcome":
            table[column] = _choice(column, OUTCOMES)
        elif column == "source":
            table[column] = _choice(column, OUTCOME_SOURCES)
        elif column == "patient_sex":
            table[column] = _choice(column, PATIENT_SEXES, upper=True)
        elif column == "ai_score":
            table[column] = _number(column, 0.0, 1.0)
        elif column == "patient_age":
            table[column] = _number(column, 0.0, 130.0)
        else:
            table[column] = _text(column)
    return table
