"""CSV and Parquet readers: records, reasons for bad rows, line numbers, chunks."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import (
    OUTCOME_COLUMNS,
    PREDICTION_COLUMNS,
    ConnectorError,
    OutcomeRecord,
    PredictionRecord,
    RowResult,
    SourceMapping,
    read_outcomes,
    read_predictions,
)

GOOD = {
    "device_id": "frac",
    "device_version": "2.1",
    "exam_datetime": "2025-01-15T10:30:00+01:00",
    "ai_result": "positive",
    "accession_number": "ACC1",
    "ai_score": "0.93",
    "patient_age": "64",
    "patient_sex": "f",
}


def _csv(path: Path, rows: list[dict[str, str]], columns=PREDICTION_COLUMNS, **kw) -> Path:  # type: ignore[no-untyped-def]
    with path.open("w", newline="", encoding=kw.pop("encoding", "utf-8")) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore", **kw)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _all(chunks) -> list[RowResult]:  # type: ignore[no-untyped-def]
    return [row for chunk in chunks for row in chunk]


def test_a_canonical_row_becomes_a_record(tmp_path: Path) -> None:
    (row,) = _all(read_predictions(_csv(tmp_path / "p.csv", [GOOD])))
    assert row.error is None and row.line == 2
    assert row.record == PredictionRecord(
        device_id="frac",
        device_version="2.1",
        exam_datetime=datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
        ai_result="positive",
        accession_number="ACC1",
        ai_score=0.93,
        patient_age=64.0,
        patient_sex="F",
    )
    assert row.raw["accession_number"] == "ACC1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ai_score": "1.3"}, "ai_score '1.3' is outside 0..1"),
        ({"ai_score": "high"}, "ai_score 'high' is not a number"),
        ({"ai_score": "nan"}, "ai_score"),
        ({"patient_age": "-2"}, "patient_age '-2' is outside 0..130"),
        ({"exam_datetime": "yesterday"}, "exam_datetime 'yesterday' is not an ISO 8601 date-time"),
        ({"device_version": ""}, "missing required field device_version"),
        (
            {"ai_result": "maybe"},
            "ai_result 'maybe' is not one of positive, negative, indeterminate",
        ),
        ({"patient_sex": "X"}, "patient_sex 'X' is not one of F, M, O, U"),
        ({"accession_number": ""}, "neither accession_number nor study_instance_uid is given"),
    ],
)
def test_each_bad_value_gets_a_readable_reason(tmp_path: Path, change: dict, reason: str) -> None:  # type: ignore[type-arg]
    (row,) = _all(read_predictions(_csv(tmp_path / "p.csv", [{**GOOD, **change}])))
    assert row.record is None
    assert row.error is not None and reason in row.error


def test_decimal_commas_and_case_are_tolerated(tmp_path: Path) -> None:
    rows = [{**GOOD, "ai_score": "0,5", "patient_age": "7,5", "ai_result": " Negative "}]
    (row,) = _all(read_predictions(_csv(tmp_path / "p.csv", rows)))
    assert row.record is not None
    assert (row.record.ai_score, row.record.patient_age, row.record.ai_result) == (
        0.5,
        7.5,
        "negative",
    )


def test_a_vendor_file_through_columns_values_defaults_and_a_date_format(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "Accession;ExamDate;Result;AlgoVersion\n"
        "X1;15/01/2025 10:30;DOUBT;2.1\n"
        "X2;15/07/2025 10:30;positive;2.1\n"
        "X3;31/02/2025 10:30;NEGATIVE;2.1\n",
        encoding="utf-8",
    )
    mapping = SourceMapping(
        columns={
            "accession_number": "Accession",
            "exam_datetime": "ExamDate",
            "ai_result": "Result",
            "device_version": "AlgoVersion",
        },
        values={"ai_result": {"doubt": "indeterminate"}},
        defaults={"device_id": "frac"},
        datetime_format="%d/%m/%Y %H:%M",
        delimiter=";",
    )
    rows = _all(read_predictions(path, mapping))
    winter, summer, bad = rows
    assert isinstance(winter.record, PredictionRecord)
    assert winter.record.ai_result == "indeterminate"
    assert winter.record.device_id == "frac"
    assert winter.record.exam_datetime.utcoffset() == timedelta(hours=1)
    assert isinstance(summer.record, PredictionRecord)
    assert summer.record.exam_datetime.utcoffset() == timedelta(hours=2)
    assert bad.error == "exam_datetime '31/02/2025 10:30' does not match format '%d/%m/%Y %H:%M'"
    assert bad.raw == {
        "Accession": "X3",
        "ExamDate": "31/02/2025 10:30",
        "Result": "NEGATIVE",
        "AlgoVersion": "2.1",
    }


def test_line_numbers_follow_the_file_with_multiline_cells_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "accession_number,outcome,source,outcome_datetime,report_text\n"
        'A1,positive,report,2025-01-02,"Fracture\nof the\nradius"\n'
        "\n"
        "A2,negative,report,not-a-date,\n"
        "A3,negative,report,2025-01-03,\n",
        encoding="utf-8",
    )
    rows = _all(read_outcomes(path))
    assert [(r.line, r.error is None) for r in rows] == [(2, True), (6, False), (7, True)]
    first = rows[0].record
    assert isinstance(first, OutcomeRecord)
    assert first.report_text == "Fracture\nof the\nradius"
    assert first.outcome_datetime == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)


def test_outcome_rows_need_outcome_source_date_and_a_link_key(tmp_path: Path) -> None:
    rows = [
        {
            "accession_number": "A",
            "outcome": "",
            "source": "report",
            "outcome_datetime": "2025-01-02",
            "report_text": "Pas de fracture.",
        },
        {
            "accession_number": "A",
            "outcome": "positive",
            "source": "rumour",
            "outcome_datetime": "2025-01-02",
        },
        {
            "study_instance_uid": "1.2.3",
            "outcome": "positive",
            "source": "pathology",
            "outcome_datetime": "2025-01-02T00:00:00Z",
            "target": "fracture",
        },
    ]
    missing, bad_source, good = _all(read_outcomes(_csv(tmp_path / "o.csv", rows, OUTCOME_COLUMNS)))
    assert missing.error is not None and "outcome is missing" in missing.error
    assert bad_source.error is not None and "source 'rumour'" in bad_source.error
    assert good.record == OutcomeRecord(
        outcome="positive",
        source="pathology",
        outcome_datetime=datetime(2025, 1, 2, tzinfo=UTC),
        study_instance_uid="1.2.3",
        target="fracture",
    )


def test_thousand_rows_with_three_broken_in_chunks(tmp_path: Path) -> None:
    rows = [{**GOOD, "accession_number": f"A{i}"} for i in range(1000)]
    for i in (3, 400, 998):
        rows[i]["ai_result"] = "?"
    chunks = list(read_predictions(_csv(tmp_path / "p.csv", rows), chunk_size=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    results = _all(chunks)
    assert sum(r.record is not None for r in results) == 997
    assert [r.line for r in results if r.error] == [5, 402, 1000]


def test_a_bom_and_another_encoding(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bom.csv", [GOOD], encoding="utf-8-sig")
    assert _all(read_predictions(path))[0].record is not None
    latin = _csv(tmp_path / "latin.csv", [{**GOOD, "site": "Hôpital"}], encoding="cp1252")
    with pytest.raises(ConnectorError, match="not valid utf-8"):
        _all(read_predictions(latin))
    row = _all(read_predictions(latin, SourceMapping(encoding="cp1252")))[0]
    assert row.record is not None and row.record.site == "Hôpital"


def test_too_many_fields_suggests_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "device_id,device_version,exam_datetime,ai_result,accession_number\n"
        "frac,1,2025-01-01,positive,A,extra\n",
        encoding="utf-8",
    )
    (row,) = _all(read_predictions(path))
    assert row.error is not None and "delimiter" in row.error


def test_file_level_problems_raise(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="no such file"):
        _all(read_predictions(tmp_path / "missing.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConnectorError, match="empty"):
        _all(read_predictions(empty))
    header_only = tmp_path / "h.csv"
    header_only.write_text("device_id,exam_datetime,ai_result,accession_number\n")
    with pytest.raises(ConnectorError) as caught:
        _all(read_predictions(header_only))
    message = str(caught.value)
    assert "device_version (column 'device_version')" in message and str(header_only) in message
    assert "The file has: device_id, exam_datetime, ai_result, accession_number" in message
    no_key = tmp_path / "k.csv"
    no_key.write_text("device_id,device_version,exam_datetime,ai_result\n")
    with pytest.raises(ConnectorError, match="accession_number or study_instance_uid"):
        _all(read_predictions(no_key))
    with pytest.raises(ConnectorError, match="format"):
        _all(read_predictions(tmp_path / "file.xlsx"))
    with pytest.raises(ConnectorError, match="'colour', which is not a canonical"):
        _all(
            read_predictions(
                _csv(tmp_path / "p.csv", [GOOD]), SourceMapping(columns={"colour": "c"})
            )
        )


def test_parquet_with_native_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "device_id": ["frac", "frac", "frac"],
            "device_version": ["2.1", "2.1", "2.1"],
            "exam_datetime": pa.array(
                [datetime(2025, 1, 15, 10, 30), datetime(2025, 7, 15, 10, 30), None],
                type=pa.timestamp("us"),
            ),
            "ai_result": ["positive", "negative", "negative"],
            "accession_number": ["P1", "P2", "P3"],
            "ai_score": [0.9, None, 0.1],
            "patient_age": pa.array([70, 12, 30], type=pa.int32()),
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path)
    first, second, third = _all(read_predictions(path, chunk_size=2))
    assert isinstance(first.record, PredictionRecord)
    assert first.record.exam_datetime.utcoffset() == timedelta(hours=1)
    assert first.record.patient_age == 70.0
    assert isinstance(second.record, PredictionRecord) and second.record.ai_score is None
    assert (third.line, third.error) == (3, "missing required field exam_datetime")
    assert first.raw["exam_datetime"] == "2025-01-15T10:30:00"
