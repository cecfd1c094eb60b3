"""Cell parsers: a raw value (text from CSV, or a native Parquet value) -> canonical value.

A parser gets a non-empty value (text already stripped) and returns the canonical
value, or raises :class:`CellError` whose message is the row's reason: it names the
column and the bad value's shape (:func:`connectors.shapes.value_shape`), never the
value itself, which could be an identifier in a row whose columns slid. Parsers are
built once per file, never per row.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from connectors.canonical import AI_RESULTS, OUTCOME_SOURCES, OUTCOMES, PATIENT_SEXES
from connectors.shapes import value_shape

__all__ = ["CellError", "Parser", "compile_strptime", "parser_for", "zone"]

Parser = Callable[[Any], Any]

_NUMBER_RANGES = {
    "ai_score": (-sys.float_info.max, sys.float_info.max),
    "patient_age": (0.0, 130.0),
}
"""``ai_score`` is any finite number here: its range is that of its device's score scale
(0..1, 0..100, logit), which the registry knows and ingestion checks."""
_CHOICES = {
    "ai_result": (AI_RESULTS, False),
    "outcome": (OUTCOMES, False),
    "source": (OUTCOME_SOURCES, False),
    "patient_sex": (PATIENT_SEXES, True),
}


class CellError(ValueError):
    """One cell's value is not acceptable; the message is the row's reason."""


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name`` (cached: ZoneInfo lookups are not free)."""
    return ZoneInfo(name)


def parser_for(column: str, datetime_format: str | None, timezone: str) -> Parser | None:
    """The parser of a canonical column; None for free text (kept as stripped text)."""
    if column.endswith("_datetime"):
        return _datetime(column, datetime_format, zone(timezone))
    if column in _CHOICES:
        allowed, upper = _CHOICES[column]
        return _choice(column, allowed, upper)
    if column in _NUMBER_RANGES:
        low, high = _NUMBER_RANGES[column]
        return _number(column, low, high)
    return None


def _choice(column: str, allowed: tuple[str, ...], upper: bool) -> Parser:
    # Lower- or upper-cased spelling -> canonical spelling, so a row costs one lookup.
    table = {(value.upper() if upper else value.lower()): value for value in allowed}
    listed = ", ".join(allowed)

    def parse(value: Any) -> str:
        text = value if value.__class__ is str else str(value).strip()
        found = table.get(text.upper() if upper else text.lower())
        if found is None:
            raise CellError(
                f"{column}: a value shaped {value_shape(text)!r} is not one of {listed}"
            )
        return found

    return parse


def _number(column: str, low: float, high: float) -> Parser:
    span = f"{low:g}..{high:g}"

    def parse(value: Any) -> float:
        if value.__class__ is str:
            if "," in value:  # a decimal comma, tested first: a failed float() is slow
                number = _decimal_comma(column, value)
            else:
                try:
                    number = float(value)
                except ValueError:
                    raise CellError(
                        f"{column}: a value shaped {value_shape(value)!r} is not a number"
                    ) from None
            if "_" in value:  # float() accepts "1_0"; no export means 10 by it
                raise CellError(f"{column}: a value shaped {value_shape(value)!r} is not a number")
        elif isinstance(value, bool):
            raise CellError(f"{column}: a value shaped {value_shape(value)!r} is not a number")
        elif isinstance(value, int | float):
            number = float(value)
        else:  # Decimal, numpy scalars: through their text
            return parse(str(value).strip())
        if not low <= number <= high:
            if math.isnan(number):
                raise CellError(
                    f"{column}: a value shaped {value_shape(value)!r} is not a number (NaN)"
                )
            if math.isinf(number):
                raise CellError(
                    f"{column}: a value shaped {value_shape(value)!r} is not a finite number"
                )
            raise CellError(f"{column}: a value shaped {value_shape(value)!r} is outside {span}")
        return number

    return parse


def _decimal_comma(column: str, text: str) -> float:
    """Read "0,73" as 0.73; a thousands separator ("1,000.5", "1.000,5") is refused."""
    if text.count(",") == 1 and "." not in text:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            pass
    raise CellError(f"{column}: a value shaped {value_shape(text)!r} is not a number")


def _datetime(column: str, fmt: str | None, tz: tzinfo) -> Parser:
    expected = f"does not match format {fmt!r}" if fmt else "is not an ISO 8601 date-time"
    from_text = compile_strptime(fmt, tz) if fmt else datetime.fromisoformat

    def parse(value: Any) -> datetime:
        if value.__class__ is str:
            try:
                moment = from_text(value)
            except ValueError as exc:
                raise CellError(
                    f"{column}: a value shaped {value_shape(value)!r} {expected}"
                ) from exc
        elif isinstance(value, datetime):
            # pandas.Timestamp (pyarrow's nanosecond timestamps) -> a plain datetime.
            moment = value if value.__class__ is datetime else _plain(value)
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            raise CellError(f"{column}: a value shaped {value_shape(value)!r} is not a date-time")
        if moment.tzinfo is not None:
            return moment
        # The constructor: several times faster than moment.replace(tzinfo=tz).
        return datetime(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tz,
        )

    return parse


def _plain(value: datetime) -> datetime:
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        value.tzinfo,
        fold=value.fold,
    )


# strptime's own patterns for the numeric directives (see CPython's _strptime.TimeRE).
_DIRECTIVES = {
    "d": r"(3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
    "m": r"(1[0-2]|0[1-9]|[1-9])",
    "Y": r"(\d\d\d\d)",
    "y": r"(\d\d)",
    "H": r"(2[0-3]|[0-1]\d|\d)",
    "M": r"([0-5]\d|\d)",
    "S": r"(6[0-1]|[0-5]\d|\d)",
    "f": r"([0-9]{1,6})",
}
_TOKEN = re.compile(r"%(.)|([^%]+)", re.DOTALL)
_SPACES = re.compile(r"\s+")


def compile_strptime(fmt: str, tz: tzinfo | None = None) -> Callable[[str], datetime]:
    """``datetime.strptime(text, fmt)`` as a function of ``text``, faster when possible.

    On the fast path a result without a UTC offset gets ``tz`` at once (naive if None).

    ``strptime`` costs several microseconds a call. When ``fmt`` uses only the numeric
    directives %d %m %Y %y %H %M %S %f (each at most once), the same regular
    expression ``strptime`` would build is compiled once and the fields converted
    directly. Any other format, and any text the fast path rejects, goes through
    ``strptime`` itself, so results and errors are strptime's.
    """
    parts: list[str] = []
    order: list[str] = []
    tokens = _TOKEN.findall(fmt)
    if sum(len(literal) or 2 for _, literal in tokens) != len(fmt):
        tokens = []  # a stray '%': let strptime say so
        order.append("%")
    for directive, literal in tokens:
        if literal:
            parts.append(r"\s+".join(re.escape(p) for p in _SPACES.split(literal)))
        elif directive == "%":
            parts.append("%")
        elif directive in _DIRECTIVES and directive not in order:
            parts.append(_DIRECTIVES[directive])
            order.append(directive)
        else:
            order.append("%")
            break
    if "%" in order:
        return lambda text: datetime.strptime(text, fmt)
    pattern = re.compile("".join(parts), re.IGNORECASE)
    i_year, i_short, i_month, i_day, i_hour, i_minute, i_second, i_micro = (
        order.index(d) if d in order else -1 for d in "YymdHMSf"
    )
    slow = datetime.strptime

    def parse(text: str) -> datetime:
        found = pattern.match(text)
        if found is None or found.end() != len(text):
            return slow(text, fmt)  # raises strptime's ValueError
        g = found.groups()
        if i_year >= 0:
            year = int(g[i_year])
        elif i_short >= 0:
            short = int(g[i_short])
            year = short + (2000 if short <= 68 else 1900)  # strptime's pivot
        else:
            year = 1900
        return datetime(
            year,
            int(g[i_month]) if i_month >= 0 else 1,
            int(g[i_day]) if i_day >= 0 else 1,
            int(g[i_hour]) if i_hour >= 0 else 0,
            int(g[i_minute]) if i_minute >= 0 else 0,
            int(g[i_second]) if i_second >= 0 else 0,
            int(g[i_micro].ljust(6, "0")) if i_micro >= 0 else 0,
            tz,
        )

    return parse
