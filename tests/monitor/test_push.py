"""Push ingestion keeps the guarantees of file ingestion, on SQLite and PostgreSQL.

Record ``i`` of a pushed list is line ``i + 2`` of its canonical CSV, so a refused
record is named by its index; pushing the same list again adds nothing; the spool
file never outlives the run, and a run that failed resumes when the same payload is
pushed again.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.config import Config, load_config
from monitor.errors import IngestError, MissingKeyError, MonitorError
from monitor.models import IngestionRun, Prediction
from monitor.push import ingest_payload, records_csv
from monitor.registry import import_registry, parse_registry
from monitor.storage import Database
from tests.connectors import message_samples as samples

KEY = b"push-test-key-0123456789abcdef"


@pytest.fixture
def registered(database: Database) -> Database:
    with database.session.begin() as session:
        import_registry(session, parse_registry(samples.REGISTRY), actor="test")
    return database


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "dmn-monitor.toml"
    path.write_text("", encoding="utf-8")
    return load_config(path)


def _prediction(accession: str, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "device_id": "fracture-xr",
        "device_version": "2.1",
        "exam_datetime": "2025-03-04T09:15:00",
        "ai_result": "positive",
        "accession_number": accession,
    }
    record.update(changes)
    return record


def _predictions(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Prediction)) or 0)


def test_the_csv_of_records_says_where_each_record_starts() -> None:
    records = [
        {
            "accession_number": "A1",
            "outcome": "positive",
            "report_text": "line 1\r\nline 2\rline 3",
        },
        42,
        {"accession_number": "A2", "outcome": 0.5, "source": None, "ignored": "x"},
    ]
    text, lines, errors = records_csv(records, "outcomes")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "accession_number",
        "outcome",
        "source",
        "outcome_datetime",
        "report_text",
    ]
    assert rows[1][4] == "line 1\nline 2\nline 3"
    assert rows[2] == ["A2", "0.5", "", "", ""]
    assert lines == {2: 0, 5: 2}
    assert [(e.index, e.line) for e in errors] == [(1, None)]


def test_good_records_land_bad_ones_are_indexed_and_twice_adds_nothing(
    registered: Database, config: Config
) -> None:
    payload = json.dumps(
        [
            _prediction("P-1", patient_id="IPP-123456"),
            _prediction("P-2", ai_result="unsure"),
            _prediction("P-3", exam_datetime="yesterday"),
            _prediction("P-4", device_version="2.1", ai_score=0.4),
        ]
    ).encode()
    result = ingest_payload(
        registered, config, "predictions", "records", payload, name="bridge", pseudonym_key=KEY
    )
    assert (result.read, result.accepted, result.quarantined) == (4, 2, 2)
    assert [(e.index, e.line) for e in result.errors] == [(1, 3), (2, 4)]
    assert "IPP-123456" not in json.dumps(result.to_dict())
    again = ingest_payload(
        registered, config, "predictions", "records", payload, name="bridge", pseudonym_key=KEY
    )
    assert (again.accepted, again.duplicate, again.quarantined) == (0, 2, 2)
    assert [e.index for e in again.errors] == [1, 2]
    assert _predictions(registered) == 2
    with registered.session() as session:
        sources = set(session.scalars(select(IngestionRun.source_name)))
    assert sources == {"api:bridge"}
    assert list((config.base_dir / "spool").iterdir()) == []


def test_a_failed_run_leaves_no_spool_file_and_resumes_when_pushed_again(
    registered: Database, config: Config
) -> None:
    payload = json.dumps([_prediction("R-1"), _prediction("R-2", patient_id="IPP-999")]).encode()
    with pytest.raises(MissingKeyError, match="pseudonymisation key") as caught:
        ingest_payload(
            registered, config, "predictions", "records", payload, name="b", pseudonym_key=None
        )
    assert "spool" not in str(caught.value)
    assert list((config.base_dir / "spool").iterdir()) == []
    with registered.session() as session:
        failed = session.scalars(select(IngestionRun)).one()
    assert failed.status == "failed"
    result = ingest_payload(
        registered, config, "predictions", "records", payload, name="b", pseudonym_key=KEY
    )
    assert result.run_id == failed.id and result.status == "completed"
    assert _predictions(registered) == 2


def test_messages_are_read_as_files_are(registered: Database, config: Config) -> None:
    sr = ingest_payload(
        registered,
        config,
        "predictions",
        "dicom-sr",
        samples.dicom_sr(),
        name="pacs",
        pseudonym_key=KEY,
    )
    assert (sr.accepted, sr.errors) == (1, [])
    reports = ingest_payload(
        registered, config, "outcomes", "hl7", samples.HL7_REPORTS, name="ris", pseudonym_key=KEY
    )
    assert (reports.accepted, reports.quarantined) == (2, 2)
    assert sorted(e.index for e in reports.errors) == sorted(e.line - 1 for e in reports.errors)  # type: ignore[operator]


def test_unreadable_payloads_and_unknown_formats_are_errors(
    registered: Database, config: Config
) -> None:
    for payload in (b"{", b'{"a": 1}', b"\xff\xfe"):
        with pytest.raises(IngestError):
            ingest_payload(
                registered, config, "predictions", "records", payload, name="x", pseudonym_key=KEY
            )
    with pytest.raises(MonitorError, match="push format"):
        ingest_payload(registered, config, "predictions", "csv", b"a", name="x", pseudonym_key=KEY)
    with pytest.raises(MonitorError, match="source"):
        ingest_payload(
            registered,
            config,
            "predictions",
            "hl7",
            samples.HL7_AI,
            name="x",
            pseudonym_key=KEY,
            source="nope",
        )
