"""Reading Parquet exports: native cell types, row numbers, batches, file-level problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import (
    ConnectorError,
    OutcomeRecord,
    PredictionRecord,
    RowResult,
    SourceMapping,
    read_outcomes,
    read_predictions,
)


def rows_of(chunks: Iterator[list[RowResult]]) -> list[RowResult]:
    return [row for chunk in chunks for row in chunk]


def write_parquet(path: Path, columns: dict[str, Any], **options: Any) -> Path:
    pq.write_table(pa.table(columns), path, **options)
    return path


def predictions_table(n: int = 3) -> dict[str, Any]:
    return {
        "device_id": ["frac"] * n,
        "device_version": ["2.1"] * n,
        "exam_datetime": pa.array(
            [datetime(2025, 1, 15, 10, 30) + timedelta(days=i) for i in range(n)],
            type=pa.timestamp("us"),
        ),
        "ai_result": ["positive"] * n,
        "accession_number": [f"SYN{i}" for i in range(n)],
    }


def test_native_types_are_parsed_and_raw_is_text(tmp_path: Path) -> None:
    columns = {
        "device_id": ["frac", "frac", "frac", "frac"],
        "device_version": ["2.1", "2.1", "2.1", "2.1"],
        "exam_datetime": pa.array(
            [datetime(2025, 1, 15, 10, 30), datetime(2025, 7, 15, 10, 30), None, None],
            type=pa.timestamp("us"),
        ),
        "ai_datetime": pa.array(
            [datetime(2025, 1, 15, 9, 31, tzinfo=UTC), None, None, None],
            type=pa.timestamp("ms", tz="UTC"),
        ),
        "ai_result": ["positive", "NEGATIVE", "negative", "negative"],
        "accession_number": ["P1", "P2", "P3", None],
        "study_instance_uid": [None, None, None, "1.2.3"],
        "ai_score": [0.9, None, 0.1, 0.2],
        "patient_age": pa.array([70, 12, 30, None], type=pa.int32()),
    }
    path = write_parquet(tmp_path / "p.parquet", columns)
    first, second, third, fourth = rows_of(read_predictions(path, chunk_size=2))
    assert first.record == PredictionRecord(
        device_id="frac",
        device_version="2.1",
        exam_datetime=datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
        ai_result="positive",
        accession_number="P1",
        patient_age=70.0,
        ai_score=0.9,
        ai_datetime=datetime(2025, 1, 15, 9, 31, tzinfo=UTC),
    )
    assert isinstance(first.record, PredictionRecord)
    assert first.record.exam_datetime.utcoffset() == timedelta(hours=1)  # naive: Paris time
    assert isinstance(second.record, PredictionRecord)
    assert second.record.exam_datetime.utcoffset() == timedelta(hours=2)
    assert (second.record.ai_result, second.record.ai_score) == ("negative", None)
    assert (third.line, third.error) == (3, "missing required field exam_datetime")
    assert fourth.line == 4
    assert first.raw == {
        "device_id": "frac",
        "device_version": "2.1",
        "exam_datetime": "2025-01-15T10:30:00",
        "ai_datetime": "2025-01-15T09:31:00+00:00",
        "ai_result": "positive",
        "accession_number": "P1",
        "study_instance_uid": None,
        "ai_score": "0.9",
        "patient_age": "70",
    }


def test_dates_decimals_nanoseconds_and_coded_values(tmp_path: Path) -> None:
    columns = {
        "Device": ["frac", "frac"],
        "Version": pa.array([2, 3], type=pa.int64()),
        "ExamDay": pa.array([date(2025, 3, 1), date(2025, 8, 1)], type=pa.date32()),
        "Coded": pa.array([1, 0], type=pa.int8()),
        "Acc": ["A1", "A2"],
        "Score": pa.array([Decimal("0.75"), Decimal("0.05")], type=pa.decimal128(4, 2)),
        "Processed": pa.array(
            [1_740_823_200_123_456_789, None], type=pa.timestamp("ns", tz="Europe/Paris")
        ),
    }
    mapping = SourceMapping(
        columns={
            "device_id": "Device",
            "device_version": "Version",
            "exam_datetime": "ExamDay",
            "ai_result": "Coded",
            "accession_number": "Acc",
            "ai_score": "Score",
            "ai_datetime": "Processed",
        },
        values={"ai_result": {"1": "positive", "0": "negative"}},
    )
    path = write_parquet(tmp_path / "vendor.pq", columns)
    first, second = rows_of(read_predictions(path, mapping))
    assert isinstance(first.record, PredictionRecord)
    assert isinstance(second.record, PredictionRecord)
    assert (first.record.device_version, first.record.ai_result) == ("2", "positive")
    assert first.record.exam_datetime.isoformat() == "2025-03-01T00:00:00+01:00"
    assert second.record.exam_datetime.isoformat() == "2025-08-01T00:00:00+02:00"
    assert (first.record.ai_score, second.record.ai_result) == (0.75, "negative")
    processed = first.record.ai_datetime
    assert processed is not None and type(processed) is datetime  # not a pandas Timestamp
    assert processed == datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.raw["ExamDay"] == "2025-03-01" and first.raw["Score"] == "0.75"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("ai_score", float("nan"), "ai_score: a value shaped 'aaa' is not a number (NaN)"),
        ("ai_score", float("inf"), "ai_score: a value shaped 'aaa' is not a finite number"),
        ("ai_score", True, "ai_score: a value shaped 'Aaaa' is not a number"),
        ("patient_age", 200, "patient_age: a value shaped '999' is outside 0..130"),
        (
            "ai_result",
            "maybe",
            "ai_result: a value shaped 'aaaaa' is not one of positive, negative, indeterminate",
        ),
        (
            "exam_datetime",
            "yesterday",
            "exam_datetime: a value shaped 'aaaaaaaaa' is not an ISO 8601 date-time",
        ),
        ("exam_datetime", 12, "exam_datetime: a value shaped '99' is not a date-time"),
        ("device_version", None, "missing required field device_version"),
    ],
)
def test_bad_native_values_get_a_reason(
    tmp_path: Path, column: str, value: object, reason: str
) -> None:
    columns = predictions_table(1)
    columns[column] = [value]
    (row,) = rows_of(read_predictions(write_parquet(tmp_path / "p.parquet", columns)))
    assert (row.record, row.error) == (None, reason)


def test_outcomes_from_parquet(tmp_path: Path) -> None:
    columns = {
        "accession_number": ["A1", "A2"],
        "outcome": ["positive", None],
        "source": ["pathology", "report"],
        "outcome_datetime": pa.array(
            [datetime(2025, 2, 1, 8, tzinfo=UTC)] * 2, type=pa.timestamp("s", tz="UTC")
        ),
        "report_text": [None, "Examen normal."],
    }
    good, missing = rows_of(read_outcomes(write_parquet(tmp_path / "o.parquet", columns)))
    assert good.record == OutcomeRecord(
        outcome="positive",
        source="pathology",
        outcome_datetime=datetime(2025, 2, 1, 8, tzinfo=UTC),
        accession_number="A1",
    )
    assert missing.error is not None and missing.error.startswith("outcome is missing")


def test_batches_respect_chunk_size_across_row_groups(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "p.parquet", predictions_table(25), row_group_size=10)
    chunks = list(read_predictions(path, chunk_size=4))
    assert all(0 < len(c) <= 4 for c in chunks)
    assert [r.line for c in chunks for r in c] == list(range(1, 26))
    assert all(r.error is None for c in chunks for r in c)


def test_a_missing_column_names_it_and_the_file(tmp_path: Path) -> None:
    columns = predictions_table(1)
    del columns["ai_result"]
    path = write_parquet(tmp_path / "p.parquet", columns)
    with pytest.raises(ConnectorError, match="ai_result \\(expected column 'ai_result'") as caught:
        list(read_predictions(path))
    assert caught.value.path == str(path) and str(path) in str(caught.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="no such file"):
        list(read_predictions(tmp_path / "missing.parquet"))
    fake = tmp_path / "fake.parquet"
    fake.write_text("device_id,device_version\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="not a readable Parquet file"):
        list(read_predictions(fake))
    with pytest.raises(ConnectorError, match="not a readable Parquet file"):
        list(read_predictions(fake.rename(tmp_path / "fake.csv"), fmt="parquet"))
