"""Cell parsers: the fast date-time path agrees with strptime, numbers and choices."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.parsing import CellError, compile_strptime, parser_for

FORMATS = [
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y  %Hh%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%d.%m.%y",
    "%Y%m%d%H%M",
    "[%d](%m)+%Y %%",
    "%d-%b-%Y",  # not numeric: strptime itself
    "%Y-%m-%dT%H:%M:%S%z",  # likewise
]
TEXTS = [
    "15/01/2025 10:30",
    "1/2/2025 3:05",
    " 1/01/2025 10:30",
    "15/01/2025  10:30",
    "15/01/2025\t10:30",
    "31/02/2025 10:30",
    "15/13/2025 10:30",
    "00/01/2025 10:30",
    "29/02/2024 23:59",
    "15/01/2025 10:30:00",
    "15/01/2025 10H30",
    "2025-01-15 10:30:05.12",
    "2025-01-15 10:30:60",
    "15.01.25",
    "15.01.69",
    "202501151030",
    "[1](2)+2025 %",
    "[1](2)2025 %",
    "15-Jan-2025",
    "2025-01-15T10:30:00+0100",
    "",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_compiled_formats_give_strptimes_results_and_errors(fmt: str) -> None:
    parse = compile_strptime(fmt)
    for text in TEXTS:
        try:
            expected: object = datetime.strptime(text, fmt)
        except ValueError as exc:
            expected = ("ValueError", str(exc))
        try:
            got: object = parse(text)
        except ValueError as exc:
            got = ("ValueError", str(exc))
        assert got == expected, (fmt, text)


def test_the_fast_path_attaches_the_timezone() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert compile_strptime("%d/%m/%Y", paris)("01/07/2025").isoformat() == (
        "2025-07-01T00:00:00+02:00"
    )


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("ai_score", "0,73", 0.73),
        ("ai_score", "1", 1.0),
        ("ai_score", 0, 0.0),
        ("ai_score", "1.39", 1.39),  # its device's scale decides (0..1, 0..100, logit)
        ("ai_score", "-2,5", -2.5),
        ("patient_age", "130", 130.0),
        ("patient_age", "4.5e1", 45.0),
        ("ai_result", "INDETERMINATE", "indeterminate"),
        ("patient_sex", "u", "U"),
        ("source", "Follow_up", "follow_up"),
    ],
)
def test_good_values(column: str, value: object, expected: object) -> None:
    parse = parser_for(column, None, "Europe/Paris")
    assert parse is not None and parse(value) == expected


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("ai_score", "1_0", "ai_score: a value shaped '9_9' is not a number"),
        ("ai_score", "inf", "ai_score: a value shaped 'aaa' is not a finite number"),
        ("ai_score", "1.000,5", "ai_score: a value shaped '9.999,9' is not a number"),
        ("patient_age", float("nan"), "patient_age: a value shaped 'aaa' is not a number (NaN)"),
        (
            "outcome",
            "pos",
            "outcome: a value shaped 'aaa' is not one of "
            "positive, negative, indeterminate, not_mentioned",
        ),
    ],
)
def test_bad_values(column: str, value: object, reason: str) -> None:
    parse = parser_for(column, None, "Europe/Paris")
    assert parse is not None
    with pytest.raises(CellError) as caught:
        parse(value)
    assert str(caught.value) == reason


def test_free_text_columns_have_no_parser() -> None:
    assert parser_for("accession_number", None, "UTC") is None
