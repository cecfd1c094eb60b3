"""Reading CSV exports: records, reasons for bad rows, line numbers, chunks, encodings."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

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
OUTCOME = {
    "accession_number": "ACC1",
    "outcome": "negative",
    "source": "report",
    "outcome_datetime": "2025-01-20T08:00:00Z",
}


def write_csv(
    path: Path,
    rows: Iterable[dict[str, str]],
    columns: Sequence[str] = PREDICTION_COLUMNS,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(columns), delimiter=delimiter, extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def rows_of(chunks: Iterator[list[RowResult]]) -> list[RowResult]:
    return [row for chunk in chunks for row in chunk]


def one_prediction(tmp_path: Path, **changes: str) -> RowResult:
    (row,) = rows_of(read_predictions(write_csv(tmp_path / "p.csv", [{**GOOD, **changes}])))
    return row


# -- good rows ---------------------------------------------------------------------------


def test_a_canonical_row_becomes_a_record_with_aware_datetimes(tmp_path: Path) -> None:
    row = one_prediction(tmp_path)
    assert (row.line, row.error) == (2, None)
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
    assert row.record.exam_datetime.utcoffset() == timedelta(hours=1)  # its offset is kept
    assert row.raw["patient_sex"] == "f" and row.raw["site"] == ""  # as read


def _canonical_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def test_canonical_csv_round_trip_of_every_column(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=2))
    predictions = [
        PredictionRecord(
            device_id="frac",
            device_version="2.1",
            exam_datetime=datetime(2025, 6, 1, 8, 15, 30, tzinfo=paris),
            ai_result="indeterminate",
            accession_number="ACC9",
            study_instance_uid="1.2.250.1.59.9",
            patient_id="SYN-0001",
            site="A",
            modality="DX",
            body_part="WRIST",
            scanner_manufacturer="Acme",
            scanner_model="X-1",
            patient_age=42.5,
            patient_sex="O",
            target="fracture",
            ai_score=0.5,
            ai_datetime=datetime(2025, 6, 1, 6, 16, tzinfo=UTC),
        ),
        PredictionRecord(
            device_id="nod",
            device_version="1",
            exam_datetime=datetime(2025, 6, 2, tzinfo=UTC),
            ai_result="negative",
            study_instance_uid="1.2.3",
        ),
    ]
    outcomes = [
        OutcomeRecord(
            outcome="positive",
            source="pathology",
            outcome_datetime=datetime(2025, 6, 9, 12, tzinfo=UTC),
            accession_number="ACC9",
            study_instance_uid="1.2.250.1.59.9",
            target="fracture",
            site="A",
            report_text='Fracture du radius distal.\nAvis: "certain".',
        )
    ]
    p_rows = [{c: _canonical_text(getattr(r, c)) for c in PREDICTION_COLUMNS} for r in predictions]
    o_rows = [{c: _canonical_text(getattr(r, c)) for c in OUTCOME_COLUMNS} for r in outcomes]
    read_p = rows_of(read_predictions(write_csv(tmp_path / "p.csv", p_rows)))
    read_o = rows_of(read_outcomes(write_csv(tmp_path / "o.csv", o_rows, OUTCOME_COLUMNS)))
    assert [r.record for r in read_p] == predictions
    assert [r.record for r in read_o] == outcomes


def test_whitespace_case_and_decimal_commas_are_tolerated(tmp_path: Path) -> None:
    row = one_prediction(
        tmp_path,
        ai_score=" 0,73 ",
        patient_age="7,5",
        ai_result=" Negative ",
        patient_sex="m",
        site="  A  ",
    )
    assert isinstance(row.record, PredictionRecord)
    record = row.record
    assert (record.ai_score, record.patient_age, record.ai_result) == (0.73, 7.5, "negative")
    assert (record.patient_sex, record.site) == ("M", "A")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-15T10:30:00Z", datetime(2025, 1, 15, 10, 30, tzinfo=UTC)),
        ("2025-01-15", datetime(2025, 1, 14, 23, 0, tzinfo=UTC)),  # midnight in Paris
        ("2025-07-15 10:30", datetime(2025, 7, 15, 8, 30, tzinfo=UTC)),  # summer: UTC+2
        ("2025-01-15T10:30:00-05:00", datetime(2025, 1, 15, 15, 30, tzinfo=UTC)),
    ],
)
def test_iso_datetimes_naive_ones_in_the_source_timezone(
    tmp_path: Path, text: str, expected: datetime
) -> None:
    record = one_prediction(tmp_path, exam_datetime=text).record
    assert isinstance(record, PredictionRecord)
    assert record.exam_datetime == expected
    assert record.exam_datetime.tzinfo is not None


def test_the_source_timezone_is_configurable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [{**GOOD, "exam_datetime": "2025-01-15T10:30"}])
    (row,) = rows_of(read_predictions(path, SourceMapping(timezone="America/New_York")))
    assert isinstance(row.record, PredictionRecord)
    assert row.record.exam_datetime.utcoffset() == timedelta(hours=-5)


def test_optional_columns_may_be_absent_from_the_file(tmp_path: Path) -> None:
    columns = ["device_id", "device_version", "exam_datetime", "ai_result", "study_instance_uid"]
    path = write_csv(tmp_path / "p.csv", [{**GOOD, "study_instance_uid": "1.2"}], columns)
    (row,) = rows_of(read_predictions(path))
    assert isinstance(row.record, PredictionRecord)
    assert (row.record.accession_number, row.record.ai_score, row.record.target) == (
        None,
        None,
        None,
    )


# -- a vendor's export ---------------------------------------------------------------------


def test_a_vendor_export_through_columns_values_defaults_and_a_date_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "Accession;ExamDate;Result;Score;AlgoVersion\n"
        "X1;15/01/2025 10:30;DOUBT;0,41;2.1\n"
        "X2;15/07/2025 10:30;Positif;0,97;2.1\n"
        "X3;31/02/2025 10:30;Négatif;0,02;2.1\n",
        encoding="utf-8",
    )
    mapping = SourceMapping(
        columns={
            "accession_number": "Accession",
            "exam_datetime": "ExamDate",
            "ai_result": "Result",
            "ai_score": "Score",
            "device_version": "AlgoVersion",
        },
        values={
            "ai_result": {"DOUBT": "indeterminate", "positif": "positive", "NÉGATIF": "negative"}
        },
        defaults={"device_id": "frac"},
        datetime_format="%d/%m/%Y %H:%M",
        delimiter=";",
    )
    winter, summer, bad = rows_of(read_predictions(path, mapping))
    assert isinstance(winter.record, PredictionRecord)
    assert winter.record.ai_result == "indeterminate"
    assert winter.record.device_id == "frac"
    assert winter.record.ai_score == 0.41
    assert winter.record.exam_datetime.isoformat() == "2025-01-15T10:30:00+01:00"
    assert isinstance(summer.record, PredictionRecord)
    assert summer.record.ai_result == "positive"
    assert summer.record.exam_datetime.isoformat() == "2025-07-15T10:30:00+02:00"
    assert (
        bad.error
        == "exam_datetime: a value shaped '99/99/9999 99:99' does not match format '%d/%m/%Y %H:%M'"
    )
    assert bad.raw == {
        "Accession": "X3",
        "ExamDate": "31/02/2025 10:30",
        "Result": "Négatif",
        "Score": "0,02",
        "AlgoVersion": "2.1",
    }


def test_a_default_fills_empty_cells_and_a_translation_to_empty_means_missing(
    tmp_path: Path,
) -> None:
    rows = [{**GOOD, "site": ""}, {**GOOD, "site": "B"}, {**GOOD, "site": "n/a"}]
    mapping = SourceMapping(defaults={"site": "A"}, values={"site": {"N/A": ""}})
    sites = [
        r.record.site if r.record else r.error
        for r in rows_of(read_predictions(write_csv(tmp_path / "p.csv", rows), mapping))
    ]
    assert sites == ["A", "B", "A"]


def test_a_tsv_file_is_tab_separated(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.tsv", [GOOD], delimiter="\t")
    (row,) = rows_of(read_predictions(path))
    assert row.error is None


def test_the_format_can_be_given_whatever_the_suffix(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.dat", [GOOD])
    with pytest.raises(ConnectorError, match=r"suffix '\.dat'"):
        read_predictions(path)
    (row,) = rows_of(read_predictions(path, fmt="csv"))
    assert row.error is None
    with pytest.raises(ConnectorError, match="format 'xlsx'"):
        read_predictions(path, fmt="xlsx")


# -- bad rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ai_score": "inf"}, "ai_score: a value shaped 'aaa' is not a finite number"),
        ({"ai_score": "high"}, "ai_score: a value shaped 'aaaa' is not a number"),
        ({"ai_score": "nan"}, "ai_score: a value shaped 'aaa' is not a number (NaN)"),
        ({"ai_score": "1,2,3"}, "ai_score: a value shaped '9,9,9' is not a number"),
        ({"patient_age": "-2"}, "patient_age: a value shaped '-9' is outside 0..130"),
        ({"patient_age": "131"}, "patient_age: a value shaped '999' is outside 0..130"),
        (
            {"exam_datetime": "yesterday"},
            "exam_datetime: a value shaped 'aaaaaaaaa' is not an ISO 8601 date-time",
        ),
        (
            {"ai_datetime": "2025-13-01"},
            "ai_datetime: a value shaped '9999-99-99' is not an ISO 8601 date-time",
        ),
        ({"device_id": " "}, "missing required field device_id"),
        ({"device_version": ""}, "missing required field device_version"),
        ({"exam_datetime": ""}, "missing required field exam_datetime"),
        (
            {"ai_result": "", "ai_score": ""},
            "ai_result is missing and there is no ai_score to derive it from",
        ),
        (
            {"ai_result": "maybe"},
            "ai_result: a value shaped 'aaaaa' is not one of positive, negative, indeterminate",
        ),
        ({"patient_sex": "X"}, "patient_sex: a value shaped 'A' is not one of F, M, O, U"),
        ({"accession_number": ""}, "neither accession_number nor study_instance_uid is given"),
    ],
)
def test_each_bad_prediction_value_gets_a_reason_naming_column_and_value(
    tmp_path: Path, changes: dict[str, str], reason: str
) -> None:
    row = one_prediction(tmp_path, **changes)
    assert (row.record, row.error) == (None, reason)


def test_every_problem_of_a_row_is_reported_at_once(tmp_path: Path) -> None:
    row = one_prediction(tmp_path, ai_score="high", device_version="", patient_sex="?")
    assert row.error == (
        "patient_sex: a value shaped '?' is not one of F, M, O, U; "
        "ai_score: a value shaped 'aaaa' is not a number; "
        "missing required field device_version"
    )


@pytest.mark.parametrize("score", ["1.39", "87", "-2.5"])
def test_a_score_is_read_as_given_its_range_is_the_device_scale(tmp_path: Path, score: str) -> None:
    row = one_prediction(tmp_path, ai_score=score)
    assert isinstance(row.record, PredictionRecord) and row.record.ai_score == float(score)


def test_a_row_with_a_score_and_no_result_is_a_record_to_derive(tmp_path: Path) -> None:
    row = one_prediction(tmp_path, ai_result="")
    assert isinstance(row.record, PredictionRecord)
    assert (row.record.ai_result, row.record.ai_score) == (None, 0.93)


def test_a_file_needs_a_result_or_a_score_column(tmp_path: Path) -> None:
    scores = [c for c in GOOD if c != "ai_result"]
    (row,) = rows_of(read_predictions(write_csv(tmp_path / "scores.csv", [GOOD], scores)))
    assert row.error is None
    neither = [c for c in scores if c != "ai_score"]
    with pytest.raises(ConnectorError, match=r"ai_result .* or ai_score .* \(at least one\)"):
        list(read_predictions(write_csv(tmp_path / "neither.csv", [GOOD], neither)))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"outcome": ""}, "outcome is missing"),
        (
            {"outcome": "probably"},
            "outcome: a value shaped 'aaaaaaaa' is not one of positive, negative",
        ),
        ({"source": "rumour"}, "source: a value shaped 'aaaaaa' is not one of report, pathology"),
        ({"source": ""}, "missing required field source"),
        ({"outcome_datetime": ""}, "missing required field outcome_datetime"),
        (
            {"outcome_datetime": "soon"},
            "outcome_datetime: a value shaped 'aaaa' is not an ISO 8601 date-time",
        ),
        ({"accession_number": ""}, "neither accession_number nor study_instance_uid is given"),
    ],
)
def test_each_bad_outcome_value_gets_a_reason(
    tmp_path: Path, changes: dict[str, str], reason: str
) -> None:
    path = write_csv(tmp_path / "o.csv", [{**OUTCOME, **changes}], OUTCOME_COLUMNS)
    (row,) = rows_of(read_outcomes(path))
    assert row.record is None
    assert row.error is not None and row.error.startswith(reason)


def test_an_outcome_is_read_from_the_report_text_only_when_it_decides(tmp_path: Path) -> None:
    """Without a target, a text that speaks of no target cannot say which one it is
    silent about: quarantined (with a target it is ``not_mentioned``)."""
    rows = [
        {**OUTCOME, "outcome": "", "report_text": "Pas de fracture visible."},
        {**OUTCOME, "outcome": "", "report_text": "Radiographie du poignet droit."},
    ]
    path = write_csv(tmp_path / "o.csv", rows, OUTCOME_COLUMNS)
    read, undecided = rows_of(read_outcomes(path))
    assert isinstance(read.record, OutcomeRecord)
    assert (read.record.outcome, read.record.target, read.record.evidence) == (
        "negative",
        "fracture",
        "Pas de fracture",
    )
    assert undecided.record is None and undecided.error is not None
    assert undecided.error.startswith("outcome is missing and report_text speaks of none of")
    assert undecided.raw["report_text"] == "Radiographie du poignet droit."


def test_an_outcome_linked_by_study_uid_with_its_report(tmp_path: Path) -> None:
    rows = [
        {
            "study_instance_uid": "1.2.3",
            "outcome": "POSITIVE",
            "source": "Follow_Up",
            "outcome_datetime": "2025-01-02",
            "target": "fracture",
            "report_text": "Cal osseux à J21.",
        }
    ]
    (row,) = rows_of(read_outcomes(write_csv(tmp_path / "o.csv", rows, OUTCOME_COLUMNS)))
    assert row.record == OutcomeRecord(
        outcome="positive",
        source="follow_up",
        outcome_datetime=datetime(2025, 1, 1, 23, tzinfo=UTC),
        study_instance_uid="1.2.3",
        target="fracture",
        report_text="Cal osseux à J21.",
    )


def test_a_row_with_too_many_cells_suggests_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "device_id,device_version,exam_datetime,ai_result,accession_number\n"
        "frac,1,2025-01-01,positive,A,0,93\n"
        "frac,1,2025-01-01,positive\n"
        "frac,1,2025-01-01,positive,B,,\n",
        encoding="utf-8",
    )
    extra, short, trailing = rows_of(read_predictions(path))
    assert extra.error is not None and "delimiter" in extra.error
    assert extra.raw["(column 6)"] == "0" and extra.raw["(column 7)"] == "93"
    assert short.error == "neither accession_number nor study_instance_uid is given"
    assert short.raw["accession_number"] is None  # missing cell: None, not ""
    assert trailing.error is None  # empty extra cells are harmless


def test_strange_values_never_raise(tmp_path: Path) -> None:
    weird = ["\x00", "∞", "1e999", "0x10", "--", "NaN", "9" * 400, "2025-02-30", "%d", '"']
    rows = [
        {**GOOD, column: value}
        for value in weird
        for column in ("ai_score", "patient_age", "exam_datetime", "ai_result", "patient_sex")
    ]
    results = rows_of(read_predictions(write_csv(tmp_path / "p.csv", rows)))
    assert len(results) == len(rows)
    assert all((r.record is None) != (r.error is None) for r in results)


# -- line numbers, chunks ---------------------------------------------------------------------


def test_line_numbers_are_the_file_lines_with_multiline_cells_and_blank_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "accession_number,outcome,source,outcome_datetime,report_text\n"  # line 1
        'A1,positive,report,2025-01-02,"Fracture\n'  # line 2
        "of the\n"
        'radius"\n'  # line 4
        "\n"  # line 5: blank, skipped
        ",,,,\n"  # line 6: delimiters only, skipped
        "A2,negative,report,not-a-date,\n"  # line 7
        'A3,negative,report,2025-01-03,"one\r\ntwo"\n'  # lines 8-9
        "A4,negative,report,2025-01-03,\n",  # line 10
        encoding="utf-8",
    )
    rows = rows_of(read_outcomes(path))
    assert [(r.line, r.error is None) for r in rows] == [
        (2, True),
        (7, False),
        (8, True),
        (10, True),
    ]
    assert isinstance(rows[0].record, OutcomeRecord)
    assert rows[0].record.report_text == "Fracture\nof the\nradius"
    assert (
        rows[1].error
        == "outcome_datetime: a value shaped 'aaa-a-aaaa' is not an ISO 8601 date-time"
    )


def test_a_thousand_rows_with_three_broken_in_chunks(tmp_path: Path) -> None:
    rows = [{**GOOD, "accession_number": f"SYN{i:04d}"} for i in range(1000)]
    rows[3]["ai_result"] = "?"
    rows[400]["ai_score"] = "1.5.0"
    rows[998]["exam_datetime"] = "31/12/2025"
    chunks = list(read_predictions(write_csv(tmp_path / "p.csv", rows), chunk_size=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    results = rows_of(iter(chunks))
    assert sum(r.record is not None for r in results) == 997
    assert [(r.line, r.raw["accession_number"]) for r in results if r.error] == [
        (5, "SYN0003"),
        (402, "SYN0400"),
        (1000, "SYN0998"),
    ]
    assert [r.line for r in results] == list(range(2, 1002))


@pytest.mark.parametrize("chunk_size", [1, 7, 5000])
def test_chunks_never_exceed_chunk_size(tmp_path: Path, chunk_size: int) -> None:
    path = write_csv(tmp_path / "p.csv", [GOOD] * 50)
    sizes = [len(c) for c in read_predictions(path, chunk_size=chunk_size)]
    assert sum(sizes) == 50 and max(sizes) <= chunk_size and all(sizes)


def test_a_header_only_file_yields_nothing(tmp_path: Path) -> None:
    assert list(read_predictions(write_csv(tmp_path / "p.csv", []))) == []


def test_a_bad_chunk_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        read_predictions(write_csv(tmp_path / "p.csv", [GOOD]), chunk_size=0)


# -- encodings ---------------------------------------------------------------------------------


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", [GOOD], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    (row,) = rows_of(read_predictions(path))
    assert row.error is None and "device_id" in row.raw


def test_another_encoding_and_a_clear_error_when_it_is_wrong(tmp_path: Path) -> None:
    rows = [GOOD] * 3 + [{**GOOD, "site": "Hôpital Nord"}]
    latin = write_csv(tmp_path / "latin.csv", rows, encoding="cp1252")
    with pytest.raises(ConnectorError, match="not valid utf-8") as caught:
        rows_of(read_predictions(latin))
    assert (caught.value.path, caught.value.line) == (str(latin), 5)
    assert str(caught.value).startswith(f"{latin}: line 5: ")
    assert "cp1252" in str(caught.value)
    *_, row = rows_of(read_predictions(latin, SourceMapping(encoding="cp1252")))
    assert isinstance(row.record, PredictionRecord) and row.record.site == "Hôpital Nord"


# -- file-level problems ------------------------------------------------------------------------


def test_a_missing_required_column_names_it_the_file_and_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("device_id,Device_Version,exam_datetime,ai_result,accession_number\n")
    with pytest.raises(ConnectorError) as caught:
        list(read_predictions(path))
    error = caught.value
    assert (error.path, error.line) == (str(path), 1)
    message = str(error)
    assert message.startswith(f"{path}: line 1: required predictions column(s) missing")
    assert "device_version (expected column 'device_version'; did you mean" in message
    assert "'Device_Version'" in message and "'accession_number'" in message


def test_a_mapped_column_missing_names_the_vendor_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [OUTCOME], OUTCOME_COLUMNS)
    mapping = SourceMapping(columns={"outcome": "Conclusion"})
    with pytest.raises(ConnectorError, match="outcome \\(expected column 'Conclusion'"):
        list(read_outcomes(path, mapping))


def test_a_default_stands_in_for_a_missing_required_column(tmp_path: Path) -> None:
    columns = [c for c in PREDICTION_COLUMNS if c != "device_id"]
    path = write_csv(tmp_path / "p.csv", [GOOD], columns)
    (row,) = rows_of(read_predictions(path, SourceMapping(defaults={"device_id": "frac"})))
    assert isinstance(row.record, PredictionRecord) and row.record.device_id == "frac"


@pytest.mark.parametrize(
    ("read", "header"),
    [
        (read_predictions, "device_id,device_version,exam_datetime,ai_result,patient_id"),
        (read_outcomes, "outcome,source,outcome_datetime"),
    ],
)
def test_a_file_without_any_link_key_column_is_refused(
    tmp_path: Path, read: Callable[[Path], Iterator[list[RowResult]]], header: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match=r"accession_number .* or study_instance_uid"):
        list(read(path))


def test_an_ambiguous_duplicated_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("device_id,device_version,exam_datetime,ai_result,ai_result,accession_number\n")
    with pytest.raises(ConnectorError, match=r"'ai_result' .* appears 2 times"):
        list(read_predictions(path))


def test_missing_empty_and_directory_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(ConnectorError, match="no such file") as caught:
        list(read_predictions(missing))
    assert caught.value.path == str(missing) and str(missing) in str(caught.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="the file is empty"):
        list(read_predictions(empty))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ConnectorError, match="directory"):
        list(read_predictions(folder))


def test_an_unclosed_quote_fails_with_a_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    huge = "x" * 200_000  # longer than the csv module's field limit
    path.write_text(
        "device_id,device_version,exam_datetime,ai_result,accession_number\n"
        f'frac,1,2025-01-01,positive,"A\n{huge}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConnectorError, match="quote") as caught:
        list(read_predictions(path))
    assert caught.value.line is not None and caught.value.line >= 2


def test_mapping_problems_are_raised_before_reading(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [GOOD])
    bad_mappings = {
        "'colour', which is not a canonical predictions column": SourceMapping(
            columns={"colour": "c"}
        ),
        "unknown timezone 'Mars/Olympus'": SourceMapping(timezone="Mars/Olympus"),
        "delimiter": SourceMapping(delimiter=";;"),
        "unknown encoding": SourceMapping(encoding="klingon"),
        "datetime_format '%d/%d'": SourceMapping(datetime_format="%d/%d"),
    }
    for message, mapping in bad_mappings.items():
        with pytest.raises(ConnectorError, match=message):
            read_predictions(path, mapping)


def test_a_reader_holds_only_one_chunk_at_a_time(tmp_path: Path) -> None:
    """Peak memory follows chunk_size, not the file size."""
    import tracemalloc

    def peak(rows: int) -> int:
        path = write_csv(tmp_path / f"p{rows}.csv", [GOOD] * rows)
        tracemalloc.start()
        try:
            for _chunk in read_predictions(path, chunk_size=200):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)
    assert large < small * 1.5


def test_records_are_the_canonical_frozen_dataclasses(tmp_path: Path) -> None:
    row = one_prediction(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.line = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("local", "offset"),
    [
        ("2025-03-30T02:30", "+01:00"),  # skipped by the spring change: the winter offset
        ("2025-10-26T02:30", "+02:00"),  # repeated in autumn: the first, summer, one
    ],
)
def test_clock_change_local_times_take_the_offset_before_the_change(
    tmp_path: Path, local: str, offset: str
) -> None:
    record = one_prediction(tmp_path, exam_datetime=local).record
    assert isinstance(record, PredictionRecord)
    assert record.exam_datetime.isoformat() == f"{local}:00{offset}"


def test_a_wrong_delimiter_is_suggested(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [GOOD], delimiter=";")
    with pytest.raises(ConnectorError, match="Is the delimiter right"):
        list(read_predictions(path))
    (row,) = rows_of(read_predictions(path, SourceMapping(delimiter=";")))
    assert row.error is None
