"""Push ingestion: a payload received over HTTP -> the same ingestion as a file.

The payload is written to a spool file and ingested by :func:`monitor.ingest.ingest_file`,
so every guarantee of file ingestion holds: bad records are quarantined with their
reason and the good ones land, chunks commit whole, and the same payload twice adds
nothing (natural keys; its quarantined records are not stored twice either, as the
quarantine is keyed on the content's checksum and line).

Formats: ``records`` (a JSON list of canonical records, the columns of the canonical
CSV files; written as a canonical CSV whose header is the required columns and every
known column a record uses, line 2 = record 0), ``dicom-sr`` (one DICOM file), ``hl7``
(HL7 v2 messages) and ``fhir`` (a FHIR JSON resource or Bundle).

Spool files live in ``<configuration folder>/spool`` (only the owner may read it) under
a name of their own per request, and are removed when the run ends, whether it
completed or failed: a failed run is resumed by pushing the same payload again (the
run is found by the content's checksum, and resumes after its last committed line),
so no copy of a payload, which may carry patient identifiers, stays on disk.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import select

from connectors import (
    OUTCOME_COLUMNS,
    OUTCOME_REQUIRED,
    PREDICTION_COLUMNS,
    PREDICTION_REQUIRED,
)
from monitor.config import Config
from monitor.errors import IngestError, MonitorError
from monitor.ingest import Kind, ingest_file
from monitor.models import QuarantinedRow
from monitor.sources import find_source, mapping_for, read_limits
from monitor.storage import Database

__all__ = [
    "PUSH_FORMATS",
    "PushResult",
    "RecordError",
    "ingest_payload",
    "records_csv",
    "spool_dir",
]

PushFormat = Literal["records", "dicom-sr", "hl7", "fhir"]
PUSH_FORMATS: Final = ("records", "dicom-sr", "hl7", "fhir")
_SUFFIX: Final = {"records": ".csv", "dicom-sr": ".dcm", "hl7": ".hl7", "fhir": ".json"}
_FMT: Final = {"records": "csv", "dicom-sr": "dicom-sr", "hl7": "hl7", "fhir": "fhir"}


@dataclass(frozen=True)
class RecordError:
    """Why one record (or message) was not stored. ``index``: 0-based position in the
    payload (records) or message number - 1 (messages); ``line``: the line of the spool
    file (records: index + 2) or the message number; None when the record never
    reached the reader (not a JSON object)."""

    index: int
    line: int | None
    reason: str


@dataclass(frozen=True)
class PushResult:
    """What one push did (counts as :class:`monitor.ingest.IngestReport`)."""

    run_id: int
    kind: str
    format: str
    status: str
    read: int
    accepted: int
    duplicate: int
    quarantined: int
    errors: list[RecordError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API returns."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "format": self.format,
            "status": self.status,
            "read": self.read,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "quarantined": self.quarantined,
            "errors": [{"index": e.index, "line": e.line, "reason": e.reason} for e in self.errors],
        }


def spool_dir(config: Config) -> Path:
    """``spool`` in the configuration file's folder (created owner-only when missing)."""
    folder = config.base_dir / "spool"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _cell(value: Any) -> str:
    """A JSON value as a CSV cell: null -> empty, numbers as JSON writes them,
    line breaks normalised to ``\\n`` (so the line of each record is known)."""
    if type(value) is str:
        return value if "\r" not in value else value.replace("\r\n", "\n").replace("\r", "\n")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def records_csv(records: list[Any], kind: Kind) -> tuple[str, dict[int, int], list[RecordError]]:
    """A canonical CSV of ``records``; the line each written record starts on -> its
    index; and the errors of the items that are not records (not a JSON object, or
    without any canonical column), which are not written.

    The header is the required columns, ``accession_number``, ``ai_result`` (of
    predictions; a record may give only ``ai_score``) and every other known column a
    record uses; unknown keys are ignored, as the CSV reader ignores unknown columns.
    """
    known = PREDICTION_COLUMNS if kind == "predictions" else OUTCOME_COLUMNS
    required = PREDICTION_REQUIRED if kind == "predictions" else OUTCOME_REQUIRED
    used = {key for item in records if isinstance(item, dict) for key in item}
    always = {*required, "accession_number", "ai_result"}
    header = [c for c in known if c in always or c in used]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    line = 2
    lines: dict[int, int] = {}
    errors: list[RecordError] = []
    for index, item in enumerate(records):
        if not isinstance(item, dict):
            errors.append(RecordError(index, None, "the record is not a JSON object"))
            continue
        cells = [_cell(item.get(column)) for column in header]
        if not any(cell.strip() for cell in cells):
            names = ", ".join(required)
            errors.append(RecordError(index, None, f"the record has none of the columns {names}"))
            continue
        start = buffer.tell()
        writer.writerow(cells)
        lines[line] = index
        line += buffer.getvalue()[start:].count("\n")
    return buffer.getvalue(), lines, errors


def _spool(folder: Path, data: bytes, kind: str, fmt: str) -> Path:
    path = folder / f"{kind}-{uuid.uuid4().hex}{_SUFFIX[fmt]}"
    with path.open("xb") as handle:
        handle.write(data)
    return path


def _errors_of_run(
    db: Database, checksum: str, kind: str, fmt: str, lines: dict[int, int]
) -> list[RecordError]:
    """The quarantined records of the content with ``checksum`` (this run's, or the
    first run's of the same content: a quarantined line is stored once per checksum)."""
    with db.session() as session:
        rows = session.execute(
            select(QuarantinedRow.line_number, QuarantinedRow.reason)
            .where(QuarantinedRow.checksum == checksum, QuarantinedRow.kind == kind)
            .order_by(QuarantinedRow.line_number, QuarantinedRow.id)
        ).all()
    errors: list[RecordError] = []
    seen: set[tuple[int, str]] = set()
    for line, reason in rows:
        if (line, reason) in seen:
            continue
        seen.add((line, reason))
        index = lines.get(line, line - 2) if fmt == "records" else line - 1
        errors.append(RecordError(index, line, reason))
    return errors


def ingest_payload(
    db: Database,
    config: Config,
    kind: Kind,
    fmt: str,
    payload: bytes,
    *,
    name: str,
    pseudonym_key: bytes | None,
    source: str | None = None,
    into_run: int | None = None,
) -> PushResult:
    """Ingest a pushed payload of ``kind`` in ``fmt`` (:data:`PUSH_FORMATS`) as the
    token ``name`` (the run's source is ``api:<name>``).

    ``source``: a configured source whose mapping reads the payload (vendor codes of
    HL7 / FHIR AI results); default the canonical layout in ``time.timezone``.
    ``pseudonym_key``: as the command line's (patient ids need it). ``into_run``: add
    the payload to that run (a feed's batch) instead of a run of its own.
    Raises :class:`IngestError` when the payload cannot be read at all (not JSON, not
    a list, an unreadable message), its subclass :class:`MissingKeyError` when records
    carry patient ids and no key is set, and :class:`MonitorError` for an unknown
    format or source. Record-level problems are in :attr:`PushResult.errors`.
    """
    if kind not in ("predictions", "outcomes"):
        raise MonitorError(f"unknown kind {kind!r}: use predictions or outcomes")
    if fmt not in PUSH_FORMATS:
        raise MonitorError(f"unknown push format {fmt!r}: use one of {', '.join(PUSH_FORMATS)}")
    lines: dict[int, int] = {}
    early: list[RecordError] = []
    data = payload
    if fmt == "records":
        try:
            records = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IngestError(f"the body is not UTF-8 JSON: {exc}") from exc
        if not isinstance(records, list):
            raise IngestError("the body must be a JSON list of records (objects)")
        text, lines, early = records_csv(records, kind)
        data = text.encode("utf-8")
    folder = spool_dir(config)
    path = _spool(folder, data, kind, fmt)
    try:
        configured = find_source(config, path, kind, source) if source else None
        mapping = mapping_for(
            configured, config.time.timezone, config.base_dir, read_limits(config)
        )
        report = ingest_file(
            db,
            path,
            kind,
            mapping=mapping,
            fmt=_FMT[fmt],
            pseudonym_key=pseudonym_key,
            chunk_size=config.ingest.chunk_size,
            keep_report_text=config.ingest.keep_report_text,
            source_name=f"api:{name}",
            into_run=into_run,
            look_alikes=False,
        )
    except IngestError as exc:
        # The message names the spool file; say "the payload" instead (same class:
        # callers tell a missing key, MissingKeyError, from an unreadable payload).
        message = str(exc).replace(str(path), "the payload")
        raise type(exc)(message, line=exc.line) from exc
    finally:
        path.unlink(missing_ok=True)
    errors = sorted(
        [*early, *_errors_of_run(db, report.checksum, kind, fmt, lines)],
        key=lambda e: (e.index, e.line or 0),
    )
    return PushResult(
        run_id=report.run_id,
        kind=kind,
        format=fmt,
        status=report.status,
        read=report.rows_read + len(early),
        accepted=report.accepted,
        duplicate=report.duplicate,
        quarantined=report.quarantined + len(early),
        errors=errors,
    )
