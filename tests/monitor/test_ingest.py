"""Ingestion: bad rows quarantined, good rows land, idempotent, resumable, pseudonymised."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import monitor.ingest as ingest_module
from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS, SourceMapping
from monitor.errors import IngestError
from monitor.ingest import ingest_file
from monitor.models import IngestionRun, Outcome, Prediction, QuarantinedRow
from monitor.pseudonym import pseudonymise
from monitor.storage import Database
from tests.monitor.synthetic import write_rows


def _prediction(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "device_id": "frac",
        "device_version": "1.0",
        "exam_datetime": f"2025-03-{1 + i % 28:02d}T10:{i % 60:02d}:00+01:00",
        "ai_result": ("positive", "negative", "indeterminate")[i % 3],
        "accession_number": f"ACC{i:06d}",
        "study_instance_uid": f"1.2.826.0.1.3680043.10.1.{i}",
        "patient_id": f"PAT{i % 400:05d}",
        "site": "A" if i % 2 else "B",
        "patient_age": str(20 + i % 70),
        "patient_sex": "F" if i % 2 else "M",
        "ai_score": f"{(i % 100) / 100:.2f}",
    }
    row.update(overrides)
    return row


def _thousand_with_three_broken(tmp_path: Path) -> Path:
    rows = [_prediction(i) for i in range(1000)]
    rows[10]["ai_score"] = "1.3"
    rows[500]["exam_datetime"] = "not a date"
    rows[999]["device_id"] = "unknown-device"
    return write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)


def _count(db: Database, model: type) -> int:  # type: ignore[type-arg]
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_three_broken_rows_among_a_thousand(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    path = _thousand_with_three_broken(tmp_path)
    report = ingest_file(
        registered, path, "predictions", pseudonym_key=pseudonym_key, chunk_size=128
    )
    assert (report.rows_read, report.accepted, report.duplicate, report.quarantined) == (
        1000,
        997,
        0,
        3,
    )
    assert _count(registered, Prediction) == 997
    with registered.session() as session:
        quarantined = session.scalars(
            select(QuarantinedRow).order_by(QuarantinedRow.line_number)
        ).all()
    # Line numbers are the file's: header is line 1, row i is line i + 2.
    assert [(q.line_number, q.source_path) for q in quarantined] == [
        (12, str(path.resolve())),
        (502, str(path.resolve())),
        (1001, str(path.resolve())),
    ]
    reasons = [q.reason for q in quarantined]
    assert "ai_score shaped '9.9' is outside 0..1" in reasons[0]
    assert "exam_datetime: a value shaped 'aaa a aaaa'" in reasons[1]
    assert "unknown device_id shaped 'aaaaaaa-aaaaaa'" in reasons[2]
    # An exam id is shown by its shape; the patient id is pseudonymised.
    assert quarantined[0].raw_row["accession_number"] == "AAA999999"
    assert quarantined[0].raw_row["patient_id"].startswith("hmac:")


def test_an_over_long_value_quarantines_its_row_alone_on_every_engine(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """Failed before on PostgreSQL: an 80-character version or a 70-character accession
    failed the whole chunk (the file never completed) and the database error, with the
    value, was stored for viewers; SQLite stored the same values."""
    rows = [_prediction(i) for i in range(300)]
    rows[7]["device_version"] = "v" * 80
    rows[150]["accession_number"] = "A" * 70
    path = write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)
    report = ingest_file(
        registered, path, "predictions", pseudonym_key=pseudonym_key, chunk_size=128
    )
    assert (report.accepted, report.quarantined) == (298, 2)
    with registered.session() as session:
        run = session.scalars(select(IngestionRun)).one()
        reasons = dict(
            session.execute(select(QuarantinedRow.line_number, QuarantinedRow.reason)).all()
        )
    assert run.status == "completed" and run.error is None
    assert reasons == {
        9: "device_version: a value of 80 characters is longer than 64",
        152: "accession_number: a value of 70 characters is longer than 64",
    }


def test_a_quarantined_row_keeps_at_most_200_characters_of_a_cell(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """Failed before: 5,000-character values went whole into the quarantine's raw rows
    (200,000 such rows grew the database twenty-fold)."""
    rows = [_prediction(i, device_version="v" * 5000, site="s" * 5000) for i in range(50)]
    path = write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)
    report = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    assert (report.accepted, report.quarantined) == (0, 50)
    with registered.session() as session:
        raw = session.scalars(select(QuarantinedRow.raw_row)).all()
    assert all(len(json.dumps(r)) < 1500 for r in raw)
    assert raw[0]["site"] == "s" * 200 + "... (5,000 characters)"


def test_ingesting_a_file_twice_adds_nothing(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    path = _thousand_with_three_broken(tmp_path)
    first = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    counts = (_count(registered, Prediction), _count(registered, QuarantinedRow))
    second = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    assert (_count(registered, Prediction), _count(registered, QuarantinedRow)) == counts
    assert (first.accepted, first.duplicate, first.quarantined) == (997, 0, 3)
    assert (second.rows_read, second.accepted, second.duplicate, second.quarantined) == (
        1000,
        0,
        997,
        3,
    )


def test_duplicates_within_a_file_and_across_files_count_once(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    rows = [_prediction(i) for i in range(20)]
    a = write_rows(tmp_path / "a.csv", PREDICTION_COLUMNS, rows + rows[:5])
    b = write_rows(tmp_path / "b.csv", PREDICTION_COLUMNS, [*rows[10:], _prediction(20)])
    ra = ingest_file(registered, a, "predictions", pseudonym_key=pseudonym_key)
    rb = ingest_file(registered, b, "predictions", pseudonym_key=pseudonym_key)
    assert (ra.accepted, ra.duplicate) == (20, 5)
    assert (rb.accepted, rb.duplicate) == (1, 10)
    assert _count(registered, Prediction) == 21


def test_a_crash_mid_file_keeps_whole_chunks_and_resumes(
    registered: Database, tmp_path: Path, pseudonym_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _thousand_with_three_broken(tmp_path)
    real_commit = ingest_module._commit_chunk
    calls = {"n": 0}

    def failing_commit(session, chunk, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            real_commit(session, chunk, *args, **kwargs)  # half-written, then the crash
            raise OSError("disk full")
        return real_commit(session, chunk, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "_commit_chunk", failing_commit)
    with pytest.raises(IngestError, match=r"disk full.*run the same command again"):
        ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key, chunk_size=100)
    # Three whole chunks (lines 2..301, minus the broken line 12) and nothing of the fourth.
    assert _count(registered, Prediction) == 299
    with registered.session() as session:
        run = session.scalars(select(IngestionRun)).one()
    assert (run.status, run.last_line, run.rows_read) == ("failed", 301, 300)

    monkeypatch.setattr(ingest_module, "_commit_chunk", real_commit)
    resumed = ingest_file(
        registered, path, "predictions", pseudonym_key=pseudonym_key, chunk_size=100
    )
    assert resumed.resumed_from == 301
    assert resumed.run_id == run.id
    assert (resumed.rows_read, resumed.accepted, resumed.duplicate, resumed.quarantined) == (
        1000,
        997,
        0,
        3,
    )
    assert _count(registered, Prediction) == 997
    assert _count(registered, QuarantinedRow) == 3


def test_patient_ids_are_pseudonymised_and_never_stored_raw(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    rows = [_prediction(i) for i in range(30)]
    rows[3]["ai_result"] = "perhaps"  # quarantined: its raw row must not keep the id either
    path = write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, rows)
    ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    with registered.session() as session:
        stored = session.scalar(
            select(Prediction.patient_pseudonym).where(Prediction.accession_number == "ACC000000")
        )
        quarantined = session.scalars(select(QuarantinedRow)).one()
    assert stored == pseudonymise("PAT00000", pseudonym_key)
    assert quarantined.raw_row["patient_id"] == f"hmac:{pseudonymise('PAT00003', pseudonym_key)}"
    with registered.engine.connect() as conn:
        for table in ("predictions", "quarantine", "ingestion_runs", "audit_log"):
            dump = json.dumps(
                [list(r) for r in conn.execute(text(f"SELECT * FROM {table}"))], default=str
            )
            assert "PAT000" not in dump, f"raw patient id found in {table}"


def test_patient_ids_without_a_key_are_refused(registered: Database, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, [_prediction(i) for i in range(5)])
    with pytest.raises(IngestError, match="DMN_MONITOR_PSEUDONYM_KEY"):
        ingest_file(registered, path, "predictions")
    assert _count(registered, Prediction) == 0


def test_files_without_patient_ids_need_no_key(registered: Database, tmp_path: Path) -> None:
    rows = [_prediction(i, patient_id="") for i in range(5)]
    path = write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, rows)
    assert ingest_file(registered, path, "predictions").accepted == 5


def test_the_target_defaults_to_the_device_target(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    rows = [_prediction(0), _prediction(1, device_id="nod", target="lung_nodule")]
    path = write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, rows)
    ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    with registered.session() as session:
        targets = session.execute(
            select(Prediction.device_id, Prediction.target).order_by(Prediction.device_id)
        ).all()
    assert [tuple(t) for t in targets] == [("frac", "fracture"), ("nod", "lung_nodule")]


def test_outcomes_are_idempotent_and_report_text_is_only_hashed(
    registered: Database, tmp_path: Path
) -> None:
    rows = [
        {
            "accession_number": "ACC1",
            "outcome": "positive",
            "source": "report",
            "outcome_datetime": "2025-03-02T09:00:00+01:00",
            "report_text": "Fracture du radius.",
        },
        {
            "accession_number": "ACC1",
            "outcome": "negative",
            "source": "follow_up",
            "outcome_datetime": "2025-04-02T09:00:00+02:00",
        },
        {
            "study_instance_uid": "1.2.3",
            "outcome": "negative",
            "source": "pathology",
            "outcome_datetime": "2025-03-05",
        },
        {
            "accession_number": "ACC2",
            "outcome": "positive",
            "source": "hearsay",
            "outcome_datetime": "2025-03-05",
        },
    ]
    path = write_rows(tmp_path / "o.csv", OUTCOME_COLUMNS, rows)
    first = ingest_file(registered, path, "outcomes")
    second = ingest_file(registered, path, "outcomes")
    assert (first.accepted, first.quarantined) == (3, 1)
    assert (second.accepted, second.duplicate, second.quarantined) == (0, 3, 1)
    with registered.session() as session:
        hashes = session.scalars(select(Outcome.report_text_sha256)).all()
        reason = session.scalars(select(QuarantinedRow.reason)).one()
    assert sum(h is not None for h in hashes) == 1
    assert "source: a value shaped 'aaaaaaa' is not one of" in reason  # not the value
    with registered.engine.connect() as conn:
        dump = str(conn.execute(text("SELECT * FROM outcomes")).all())
    assert "radius" not in dump


def test_a_vendor_file_is_read_through_its_mapping(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "Accession;ExamDate;Result;AlgoVersion\n"
        "X1;03/02/2025 14:05;DOUBT;1.1\n"
        "X2;03/07/2025 14:05;POSITIVE;1.1\n",
        encoding="utf-8",
    )
    mapping = SourceMapping(
        columns={
            "accession_number": "Accession",
            "exam_datetime": "ExamDate",
            "ai_result": "Result",
            "device_version": "AlgoVersion",
        },
        values={"ai_result": {"DOUBT": "indeterminate", "POSITIVE": "positive"}},
        defaults={"device_id": "frac"},
        datetime_format="%d/%m/%Y %H:%M",
        delimiter=";",
    )
    report = ingest_file(registered, path, "predictions", mapping=mapping)
    assert report.accepted == 2
    with registered.session() as session:
        stored = session.execute(
            select(Prediction.ai_result, Prediction.exam_datetime).order_by(Prediction.id)
        ).all()
    assert stored[0][0] == "indeterminate"
    assert stored[0][1].isoformat() == "2025-02-03T13:05:00+00:00"  # winter, UTC+1
    assert stored[1][1].isoformat() == "2025-07-03T12:05:00+00:00"  # summer, UTC+2


def test_file_level_problems_fail_the_run_with_a_clear_message(
    registered: Database, tmp_path: Path
) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(registered, tmp_path / "missing.csv", "predictions")
    bad = tmp_path / "bad.csv"
    bad.write_text("accession_number,ai_result\nA,positive\n", encoding="utf-8")
    with pytest.raises(IngestError, match="device_id"):
        ingest_file(registered, bad, "predictions")
    with registered.session() as session:
        run = session.scalars(select(IngestionRun)).one()
    assert run.status == "failed" and "device_id" in (run.error or "")


def test_look_alike_spellings_of_a_value_are_one_subgroup(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """Failed before: a zero-width space, a non-breaking space or hyphen, or NFD made a
    subgroup of their own."""
    spellings = [
        "Fujifilm Santé",
        "Fuji\u200bfilm Santé",
        "Fujifilm\u00a0Santé",
        " Fujifilm  Santé ",
        "Fujifilm Sante\u0301",
    ]
    rows = [_prediction(i, site=spellings[i % 5], device_version="1.0") for i in range(10)]
    rows[3]["device_version"] = "1\u20110"  # a non-breaking hyphen: "1-0"
    rows[4]["device_version"] = "\u200b"
    path = write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)
    report = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    assert (report.accepted, report.quarantined) == (9, 1)
    with registered.session() as session:
        sites = set(session.scalars(select(Prediction.site)))
        versions = set(session.scalars(select(Prediction.device_version)))
        reason = session.scalars(select(QuarantinedRow.reason)).one()
    assert sites == {"Fujifilm Santé"}
    assert versions == {"1.0", "1-0"}
    assert reason == "device_version: the value holds no visible character"


_HOLD = """
import sys
from pathlib import Path
from monitor.ingest import file_checksum
from monitor.ingest_lock import file_ingestion_lock
from monitor.storage import open_database
db = open_database(sys.argv[1])
with file_ingestion_lock(db, file_checksum(Path(sys.argv[2])), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # until the test lets go (or kills this process)
"""


def test_a_file_is_ingested_by_one_process_at_a_time(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """Failed before: a second `ingest` of the same file joined the first one's run and
    both reported every row (as accepted and as duplicate). A process killed while it
    holds the file lets the next ingestion go on at once."""
    path = _thousand_with_three_broken(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, db_url, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(IngestError, match="being ingested by another process"):
                ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
            assert _count(registered, IngestionRun) == 0  # no run was made or shared
        finally:
            holder.kill()
            holder.wait(timeout=30)
    report = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    assert (report.accepted, report.quarantined) == (997, 3)


def test_values_that_look_alike_but_differ_are_kept_and_said(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """A Cyrillic letter or another case is not folded away (they may be different
    things) but the ingestion says so, naming the character."""
    sites = ["Fujifilm", "Fuj\u0456film", "FUJIFILM", "Siemens"]
    rows = [_prediction(i, site=sites[i % 4]) for i in range(8)]
    path = write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)
    report = ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    assert report.accepted == 8
    [warning] = report.warnings
    assert warning.startswith("site: 'FUJIFILM' and 'Fujifilm' and 'Fujіfilm' look alike")
    assert "U+0456 cyrillic small letter" in warning
    again = write_rows(tmp_path / "other.csv", PREDICTION_COLUMNS, [_prediction(99)])
    assert ingest_file(registered, again, "predictions", pseudonym_key=pseudonym_key).warnings == ()


def test_a_raw_row_shows_a_wrong_date_but_not_digits_in_a_date_column(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    rows = [_prediction(0, exam_datetime="2025-13-45T10:00:00"), _prediction(1)]
    rows[1]["exam_datetime"] = "1247707"  # a patient number slid into the date
    path = write_rows(tmp_path / "predictions.csv", PREDICTION_COLUMNS, rows)
    ingest_file(registered, path, "predictions", pseudonym_key=pseudonym_key)
    with registered.session() as session:
        raw = session.scalars(select(QuarantinedRow.raw_row).order_by(QuarantinedRow.id)).all()
    assert [r["exam_datetime"] for r in raw] == ["2025-13-45T10:00:00", "9999999"]
