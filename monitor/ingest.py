"""Ingestion: source files -> predictions and outcomes, with quarantine and resumable runs.

A run reads one file in chunks (``ingest.chunk_size`` rows). Each chunk is one
transaction holding its accepted rows, its quarantined rows and the run's
progress, so a crash leaves whole chunks only, and running the same command again
resumes after the last committed line. Rows are idempotent on their natural key:
re-ingesting a file, or a row that another file already brought, adds nothing.

Natural keys: predictions ``device_id + (accession_number or study_instance_uid)
+ target``; outcomes ``link key + target + source + outcome_datetime``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors import (
    OutcomeRecord,
    PredictionRecord,
    RecordKind,
    RowResult,
    SourceMapping,
    read_outcomes,
    read_predictions,
)
from monitor.errors import IngestError
from monitor.models import Device, IngestionRun, Outcome, Prediction, QuarantinedRow
from monitor.pseudonym import pseudonymise
from monitor.storage import Database
from monitor.timeutil import utc_now

__all__ = [
    "IngestReport",
    "Kind",
    "completed_run",
    "file_checksum",
    "ingest_file",
    "redact_raw_row",
]

Kind = RecordKind


@dataclass(frozen=True)
class IngestReport:
    """What one run did. ``resumed_from`` is the last line already committed (0: fresh)."""

    run_id: int
    path: str
    kind: Kind
    rows_read: int
    accepted: int
    duplicate: int
    quarantined: int
    status: str
    resumed_from: int = 0

    def summary(self) -> str:
        """``read N, accepted N, duplicate N, quarantined N`` (what the CLI prints)."""
        return (
            f"read {self.rows_read}, accepted {self.accepted}, "
            f"duplicate {self.duplicate}, quarantined {self.quarantined}"
        )


def file_checksum(path: Path) -> str:
    """SHA-256 of the file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _natural_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _text_hash(text: str) -> str:
    """What is kept of a report text: its SHA-256, never the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _link_key(accession: str | None, uid: str | None) -> str:
    return f"acc:{accession}" if accession else f"uid:{uid}"


def redact_raw_row(
    raw: dict[str, Any], mapping: SourceMapping, key: bytes | None
) -> dict[str, Any]:
    """The raw row as it may be stored in quarantine: no clear patient id, no report text."""
    row = dict(raw)
    patient_column = mapping.columns.get("patient_id", "patient_id")
    value = row.get(patient_column)
    if value:
        row[patient_column] = f"hmac:{pseudonymise(str(value), key)}" if key else "<redacted>"
    text_column = mapping.columns.get("report_text", "report_text")
    text = row.get(text_column)
    if text:
        row[text_column] = f"sha256:{_text_hash(str(text))}"
    return row


def _insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose natural key is not stored yet; returns how many were new.

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per batch: the
    unique index decides, so no lookup query (whose plan degrades while a fresh
    table grows faster than its statistics) and no race with a concurrent ingester.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(table).on_conflict_do_nothing().returning(table.c.natural_key)
    return len(session.execute(statement, rows).all())


class _Chunk:
    """Rows of one chunk sorted into accepted, duplicate and quarantined."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.quarantine: list[tuple[RowResult, str]] = []
        self.read = 0
        self.last_line = 0


def _prediction_row(
    record: PredictionRecord, device_targets: dict[str, str], key: bytes | None, run_id: int
) -> tuple[str, dict[str, Any]]:
    target = record.target or device_targets[record.device_id]
    natural = _natural_key(
        record.device_id, _link_key(record.accession_number, record.study_instance_uid), target
    )
    return natural, {
        "natural_key": natural,
        "device_id": record.device_id,
        "device_version": record.device_version,
        "target": target,
        "accession_number": record.accession_number,
        "study_instance_uid": record.study_instance_uid,
        "exam_datetime": record.exam_datetime,
        "ai_result": record.ai_result,
        "ai_score": record.ai_score,
        "ai_datetime": record.ai_datetime,
        "patient_pseudonym": pseudonymise(record.patient_id, key)
        if record.patient_id and key
        else None,
        "site": record.site,
        "modality": record.modality,
        "body_part": record.body_part,
        "scanner_manufacturer": record.scanner_manufacturer,
        "scanner_model": record.scanner_model,
        "patient_age": record.patient_age,
        "patient_sex": record.patient_sex,
        "run_id": run_id,
    }


def _outcome_row(record: OutcomeRecord, run_id: int) -> tuple[str, dict[str, Any]]:
    natural = _natural_key(
        _link_key(record.accession_number, record.study_instance_uid),
        record.target or "",
        record.source,
        record.outcome_datetime.astimezone(UTC).isoformat(),
    )
    text_hash = _text_hash(record.report_text) if record.report_text else None
    return natural, {
        "natural_key": natural,
        "accession_number": record.accession_number,
        "study_instance_uid": record.study_instance_uid,
        "target": record.target,
        "site": record.site,
        "outcome": record.outcome,
        "source": record.source,
        "outcome_datetime": record.outcome_datetime,
        "report_text_sha256": text_hash,
        "run_id": run_id,
    }


def _sort_chunk(
    results: list[RowResult],
    device_targets: dict[str, str],
    key: bytes | None,
    run_id: int,
    path: Path,
) -> _Chunk:
    chunk = _Chunk()
    for result in results:
        chunk.read += 1
        chunk.last_line = result.line
        record = result.record
        if record is None:
            chunk.quarantine.append((result, result.error or "unreadable row"))
            continue
        if isinstance(record, PredictionRecord):
            if record.device_id not in device_targets:
                chunk.quarantine.append(
                    (
                        result,
                        f"unknown device_id {record.device_id!r}: import it into the "
                        "registry first (dmn-monitor devices import)",
                    )
                )
                continue
            if record.patient_id and key is None:
                raise IngestError(
                    f"{path}: line {result.line} carries a patient identifier but no "
                    "pseudonymisation key is set; set the environment variable named by "
                    "pseudonymisation.key_env (default DMN_MONITOR_PSEUDONYM_KEY) and run again",
                    path=str(path),
                    line=result.line,
                )
            natural, row = _prediction_row(record, device_targets, key, run_id)
        else:
            assert isinstance(record, OutcomeRecord)
            natural, row = _outcome_row(record, run_id)
        if natural in chunk.rows:
            chunk.duplicates += 1
        else:
            chunk.rows[natural] = row
    return chunk


def _commit_chunk(
    session: Session,
    chunk: _Chunk,
    kind: Kind,
    run: IngestionRun,
    mapping: SourceMapping,
    key: bytes | None,
) -> None:
    model: type[Prediction] | type[Outcome] = Prediction if kind == "predictions" else Outcome
    accepted = _insert_new(session, model.__table__, list(chunk.rows.values()))  # type: ignore[arg-type]
    if chunk.quarantine:
        lines = [result.line for result, _ in chunk.quarantine]
        known = set(
            session.scalars(
                select(QuarantinedRow.line_number).where(
                    QuarantinedRow.checksum == run.checksum, QuarantinedRow.line_number.in_(lines)
                )
            )
        )
        now = utc_now()
        session.add_all(
            QuarantinedRow(
                run_id=run.id,
                kind=kind,
                source_path=run.source_path,
                checksum=run.checksum,
                line_number=result.line,
                raw_row=redact_raw_row(result.raw, mapping, key),
                reason=reason,
                created_at=now,
            )
            for result, reason in chunk.quarantine
            if result.line not in known
        )
    run.rows_read += chunk.read
    run.rows_accepted += accepted
    run.rows_duplicate += chunk.duplicates + len(chunk.rows) - accepted
    run.rows_quarantined += len(chunk.quarantine)
    run.last_line = chunk.last_line
    session.add(run)


def _skip_committed(
    chunks: Iterable[list[RowResult]], after_line: int
) -> Iterator[list[RowResult]]:
    for chunk in chunks:
        remaining = [r for r in chunk if r.line > after_line] if after_line else chunk
        if remaining:
            yield remaining


def completed_run(db: Database, checksum: str, kind: Kind) -> int | None:
    """Id of a completed run of a file with this checksum and kind, if any."""
    with db.session() as session:
        return session.scalar(
            select(IngestionRun.id)
            .where(
                IngestionRun.checksum == checksum,
                IngestionRun.kind == kind,
                IngestionRun.status == "completed",
            )
            .limit(1)
        )


def _find_unfinished_run(session: Session, checksum: str, kind: Kind) -> IngestionRun | None:
    return session.scalars(
        select(IngestionRun)
        .where(
            IngestionRun.checksum == checksum,
            IngestionRun.kind == kind,
            IngestionRun.status != "completed",
        )
        .order_by(IngestionRun.id.desc())
        .limit(1)
    ).first()


def ingest_file(
    db: Database,
    path: str | Path,
    kind: Kind,
    *,
    mapping: SourceMapping | None = None,
    source_name: str | None = None,
    chunk_size: int = 5000,
    pseudonym_key: bytes | None = None,
    fmt: str | None = None,
    on_chunk: Callable[[IngestionRun], None] | None = None,
) -> IngestReport:
    """Ingest one file of ``kind``; resume its unfinished run if there is one.

    Bad rows are quarantined with their line and reason; the good rows land.
    A file-level problem (missing file, missing required column, undecodable text)
    or a failure mid-file raises :class:`IngestError`; chunks committed before it
    stay, the run is marked ``failed`` and the same call resumes it.
    ``on_chunk`` is called after each committed chunk (progress display).
    """
    file = Path(path)
    mapping = mapping or SourceMapping()
    if not file.is_file():
        raise IngestError(f"{file}: no such file", path=str(file))
    checksum = file_checksum(file)
    reader = read_predictions if kind == "predictions" else read_outcomes

    with db.session.begin() as session:
        device_targets = {
            row[0]: row[1] for row in session.execute(select(Device.id, Device.target))
        }
        run = _find_unfinished_run(session, checksum, kind)
        resumed_from = run.last_line if run is not None else 0
        if run is None:
            run = IngestionRun(
                kind=kind,
                source_name=source_name,
                source_path=str(file.resolve()),
                checksum=checksum,
                status="running",
                started_at=utc_now(),
            )
            session.add(run)
            session.flush()
        else:
            run.status = "running"
            run.error = None
        run_id = run.id

    try:
        chunks = reader(file, mapping, chunk_size=chunk_size, fmt=fmt)
        for results in _skip_committed(chunks, resumed_from):
            with db.session.begin() as session:
                run = session.get_one(IngestionRun, run_id)
                chunk = _sort_chunk(results, device_targets, pseudonym_key, run_id, file)
                _commit_chunk(session, chunk, kind, run, mapping, pseudonym_key)
            if on_chunk is not None:
                on_chunk(run)
    except Exception as exc:
        message = str(exc)
        with db.session.begin() as session:
            run = session.get_one(IngestionRun, run_id)
            run.status = "failed"
            run.error = message
            run.finished_at = utc_now()
        if isinstance(exc, IngestError):
            raise
        hint = f" (run {run_id}; fix the cause and run the same command again to resume)"
        line = getattr(exc, "line", None)
        raise IngestError(f"{message}{hint}", path=str(file), line=line) from exc

    with db.session.begin() as session:
        run = session.get_one(IngestionRun, run_id)
        run.status = "completed"
        run.finished_at = utc_now()
        return IngestReport(
            run_id=run_id,
            path=str(file),
            kind=kind,
            rows_read=run.rows_read,
            accepted=run.rows_accepted,
            duplicate=run.rows_duplicate,
            quarantined=run.rows_quarantined,
            status=run.status,
            resumed_from=resumed_from,
        )
