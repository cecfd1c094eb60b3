"""Ingestion: source files -> predictions and outcomes, with quarantine and resumable runs.

A run reads one file in chunks (``ingest.chunk_size`` rows). Each chunk is one
transaction holding its accepted rows, its quarantined rows and the run's
progress, so a crash leaves whole chunks only, and running the same command again
resumes after the last committed line. Rows are idempotent on their natural key:
re-ingesting a file, or a row that another file already brought, adds nothing.

Each chunk also updates the per-cell summaries the evaluation reads
(:mod:`monitor.cells`) in its transaction.

Natural keys: predictions ``device_id + (accession_number or study_instance_uid)
+ target``; outcomes ``link key + target + source + outcome_datetime``.

Of a report text, an outcome keeps its SHA-256, the deciding words, sentence,
section and qualifiers; the whole text only with ``keep_report_text``
(:mod:`monitor.kept_texts`). A quarantined row keeps its target and date-time
when they can be read, so that it counts per device and month.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import operator
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Dialect, String, Table, select
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
from connectors.parsing import parser_for
from connectors.shapes import safe_reason, value_shape
from connectors.text_values import normalise_text
from monitor.cells import refresh_cases, touched_by_outcomes
from monitor.device_inputs import CheckedPrediction, DeviceInputs, check_prediction
from monitor.errors import IngestError, MissingKeyError
from monitor.faults import fault_message, is_fault
from monitor.ingest_lock import file_ingestion_lock
from monitor.kept_texts import store_report_texts
from monitor.lookalikes import DIMENSIONS, look_alike_warnings
from monitor.models import (
    IngestionRun,
    Outcome,
    Prediction,
    QuarantinedRow,
    UTCDateTime,
)
from monitor.pseudonym import pseudonymise
from monitor.registry import device_resolver, list_devices
from monitor.storage import Database
from monitor.timeutil import utc_now

__all__ = [
    "IngestReport",
    "Kind",
    "completed_run",
    "file_checksum",
    "ingest_file",
    "natural_key",
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
    warnings: tuple[str, ...] = ()
    """Subgroup values stored that look alike (:mod:`monitor.lookalikes`)."""
    checksum: str = ""
    """SHA-256 of the file read (its quarantined rows are stored under it)."""

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


def natural_key(*parts: str) -> str:
    """The identity of a stored record: SHA-256 of its key parts (re-ingesting adds nothing)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _text_hash(text: str) -> str:
    """What is kept of a report text: its SHA-256, never the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pseudonym(identifier: str, key: bytes) -> str:
    """:func:`monitor.pseudonym.pseudonymise`, through the one-shot ``hmac.digest``
    (OpenSSL's HMAC in one call: several times faster than ``hmac.new(...).hexdigest()``,
    the same 64 hex digits; tests compare the two)."""
    return hmac.digest(key, identifier.strip().encode("utf-8"), "sha256").hex()


def _link_key(accession: str | None, uid: str | None) -> str:
    return f"acc:{accession}" if accession else f"uid:{uid}"


def redact_raw_row(
    raw: dict[str, Any], mapping: SourceMapping, key: bytes | None
) -> dict[str, Any]:
    """The raw row as it may be stored in quarantine: no clear patient id, no report
    text, and any other cell with four digits or more (an accession number, a UID, an
    identifier that slid into another column) as its shape - except a date-time that
    reads as one in a date-time column."""
    row = {
        column: value_shape(value) if _may_identify(column, value) else _bounded(value)
        for column, value in raw.items()
    }
    patient_column = mapping.columns.get("patient_id", "patient_id")
    value = raw.get(patient_column)
    if value:
        row[patient_column] = f"hmac:{pseudonymise(str(value), key)}" if key else "<redacted>"
    text_column = mapping.columns.get("report_text", "report_text")
    text = raw.get(text_column)
    if text:
        row[text_column] = f"sha256:{_text_hash(str(text))}"
    return row


RAW_CELL_CHARACTERS = 200
"""Characters of a cell a quarantined raw row keeps (a longer one is cut, with its
length): 200,000 rows of 5,000-character values would otherwise grow the quarantine
by a gigabyte."""


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > RAW_CELL_CHARACTERS:
        return f"{value[:RAW_CELL_CHARACTERS]}... ({len(value):,} characters)"
    return value


def _may_identify(column: str, value: Any) -> bool:
    text = "" if value is None else str(value).strip()
    if sum(c.isdigit() for c in text) < 4:
        return False
    if column.endswith("_datetime") or "date" in column.lower():
        # A date-time, even a wrong one ("2025-13-45T10:00"), is shown: it is what to
        # fix. Digits alone ("1247707": an identifier that slid there) are not one.
        return not (set(text) <= _DATE_CHARACTERS and any(c in "-/:." for c in text))
    return True


_DATE_CHARACTERS = frozenset("0123456789-/:.+ TZ")
"""What a date-time is written with (ISO 8601 and the usual day-first forms)."""


def _identifier_values(raw: dict[str, Any], mapping: SourceMapping) -> list[str]:
    """The row's cells a reason must never quote: its identifier columns' values and
    any cell with four digits or more (an identifier that slid into another column)."""
    columns = {mapping.columns.get(c, c) for c in ("patient_id", "accession_number")}
    columns.add(mapping.columns.get("study_instance_uid", "study_instance_uid"))
    found = []
    for column, value in raw.items():
        text = "" if value is None else str(value).strip()
        if text and (column in columns or sum(c.isdigit() for c in text) >= 4):
            found.append(text)
    return found


def _insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows whose natural key is not stored yet; returns the new rows' ids.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the unique index decides, so
    no lookup query (whose plan degrades while a fresh table grows faster than its
    statistics) and no race with a concurrent ingester. The rows go through the
    driver of the session's connection, in the session's transaction: each value
    converted once by its column type's bind processor (what the ORM would store),
    then on SQLite multi-row ``VALUES`` statements, on PostgreSQL a ``COPY`` into a
    temporary staging table and one ``INSERT ... SELECT`` from it (in the rows'
    order, so ids follow the file). SQLAlchemy's per-row statement machinery cost
    more than the database's own work (see benchmarks/README.md).
    """
    if not rows:
        return []
    connection = session.connection()
    dialect = connection.dialect
    columns = tuple(rows[0])
    values = _driver_values(rows, columns, _converters(table, dialect, columns))
    driver = connection.connection.driver_connection
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if dialect.name == "postgresql":
        return _copy_new(driver, quote(table.name), names, values)
    return _values_new(driver, quote(table.name), names, values)


_Converter = Callable[[Any], Any]
_SQLITE_ROWS_PER_STATEMENT = 500
"""Rows per multi-row VALUES statement on SQLite (fewer if the variable limit says so)."""


@functools.lru_cache(maxsize=32)
def _converters(
    table: Table, dialect: Dialect, columns: tuple[str, ...]
) -> tuple[tuple[int, _Converter], ...]:
    """(position, bind processor) of the columns whose type converts values."""
    found = []
    for position, name in enumerate(columns):
        kind = table.c[name].type
        processor = kind.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None and isinstance(kind, UTCDateTime) and dialect.name == "sqlite":
            found.append((position, _faster(processor, _sqlite_utc_text)))
        elif processor is not None:
            found.append((position, processor))
    return tuple(found)


def _sqlite_utc_text(value: datetime) -> str:
    """An aware datetime as SQLite stores a :class:`UTCDateTime`: naive UTC text with
    microseconds, ``2025-03-04 09:15:00.000000`` (a naive one is refused)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to the database; attach a timezone")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


_SAMPLES = (
    datetime(2025, 3, 30, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(1999, 12, 31, 23, 0, 0, 1, tzinfo=UTC),
    datetime(2030, 6, 1, 12, tzinfo=ZoneInfo("America/New_York")),
)


def _faster(processor: _Converter, fast: _Converter) -> _Converter:
    """``fast`` where it gives what ``processor`` (SQLAlchemy's, ~4 us a call) gives on
    sample values, else ``processor``: a later SQLAlchemy storing another format
    keeps the stored text right."""
    return fast if all(fast(v) == processor(v) for v in _SAMPLES) else processor


def _driver_values(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    converters: tuple[tuple[int, _Converter], ...],
) -> list[list[Any]]:
    """The rows as lists of driver values, in ``columns`` order."""
    pick = operator.itemgetter(*columns)
    values = [list(pick(row)) for row in rows] if len(columns) > 1 else [[pick(r)] for r in rows]
    for position, convert in converters:
        for row in values:
            value = row[position]
            if value is not None:
                row[position] = convert(value)
    return values


def _values_new(driver: Any, table: str, names: str, values: list[list[Any]]) -> list[int]:
    """SQLite: multi-row ``INSERT ... VALUES ... RETURNING id`` statements."""
    width = len(values[0])
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(_SQLITE_ROWS_PER_STATEMENT, limit // width))
    one = "(" + ", ".join("?" * width) + ")"
    ids: list[int] = []
    cursor = driver.cursor()
    try:
        for start in range(0, len(values), per):
            batch = values[start : start + per]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(batch))} "
                "ON CONFLICT DO NOTHING RETURNING id",
                [value for row in batch for value in row],
            )
            ids.extend(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()
    return ids


def _copy_new(driver: Any, table: str, names: str, values: list[list[Any]]) -> list[int]:
    """PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT ... SELECT``.

    The staging table (``dmn_stage_<table>``, same columns plus the row's order) lives
    as long as the connection and is emptied at each commit.
    """
    stage = f"dmn_stage_{table.strip(chr(34))}"
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {names}, 0 AS dmn_order FROM {table} WITH NO DATA"
        )
        cursor.execute(f"DELETE FROM {stage}")  # rows of an earlier call in this transaction
        with cursor.copy(f"COPY {stage} ({names}, dmn_order) FROM STDIN") as copy:
            for order, row in enumerate(values):
                row.append(order)
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ORDER BY dmn_order "
            "ON CONFLICT DO NOTHING RETURNING id"
        )
        return [row[0] for row in cursor.fetchall()]


class _Chunk:
    """Rows of one chunk sorted into accepted, duplicate and quarantined."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.texts: dict[str, str] = {}
        """Report texts by natural key, gathered only when they are kept."""
        self.duplicates = 0
        self.quarantine: list[tuple[RowResult, str]] = []
        self.read = 0
        self.last_line = 0


def _prediction_row(
    record: PredictionRecord, checked: CheckedPrediction, key: bytes | None, run_id: int
) -> tuple[str, dict[str, Any]]:
    target = checked.target
    natural = natural_key(
        record.device_id, _link_key(record.accession_number, record.study_instance_uid), target
    )
    return natural, {
        "natural_key": natural,
        "device_id": record.device_id,
        "device_version": _spelled(record.device_version),
        "target": target,
        "accession_number": record.accession_number,
        "study_instance_uid": record.study_instance_uid,
        "exam_datetime": record.exam_datetime,
        "ai_result": checked.ai_result,
        "ai_score": checked.ai_score,
        "ai_result_check": checked.ai_result_check,
        "ai_datetime": record.ai_datetime,
        "patient_pseudonym": _pseudonym(record.patient_id, key)
        if record.patient_id and key
        else None,
        "site": _spelled(record.site),
        "modality": _spelled(record.modality),
        "body_part": _spelled(record.body_part),
        "scanner_manufacturer": _spelled(record.scanner_manufacturer),
        "scanner_model": _spelled(record.scanner_model),
        "patient_age": record.patient_age,
        "patient_sex": record.patient_sex,
        "run_id": run_id,
    }


def _spelled(value: str | None) -> str | None:
    """A dimension value in its one stored spelling (:mod:`connectors.text_values`):
    look-alikes (NFD, zero-width or non-breaking characters) are one subgroup."""
    if value is None:
        return None
    return normalise_text(value) or None


def _outcome_row(record: OutcomeRecord, run_id: int) -> tuple[str, dict[str, Any]]:
    natural = natural_key(
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
        "site": _spelled(record.site),
        "outcome": record.outcome,
        "source": record.source,
        "outcome_datetime": record.outcome_datetime,
        "report_text_sha256": text_hash,
        "method": record.method,
        "evidence": record.evidence,
        "section": record.section,
        "sentence": record.sentence,
        "qualifiers": record.qualifiers,
        "reading": record.reading,
        "run_id": run_id,
    }


def _text_limits(table: Table) -> tuple[tuple[str, int], ...]:
    """The table's bounded text columns and their lengths (characters)."""
    return tuple(
        (column.name, int(column.type.length))
        for column in table.columns
        if isinstance(column.type, String) and column.type.length is not None
    )


_LIMITS = {
    True: _text_limits(Prediction.__table__),  # type: ignore[arg-type]
    False: _text_limits(Outcome.__table__),  # type: ignore[arg-type]
}
"""Per kind (prediction or not), what the schema bounds: checked before any row is
stored, so SQLite (which does not enforce a length) and PostgreSQL (which fails the
whole statement) treat an over-long value alike, as the one row's fault."""

_DERIVED = frozenset({"method", "evidence", "section", "sentence", "qualifiers", "reading"})
"""Outcome columns read from the report text by the product: cut to fit, not refused."""


def _too_long(row: dict[str, Any], limits: tuple[tuple[str, int], ...]) -> str | None:
    """Why ``row`` cannot be stored (a value longer than its column), or None; the
    product's own readings of a report are cut to fit instead (with an ellipsis)."""
    problems = []
    for name, limit in limits:
        value = row.get(name)
        if value.__class__ is not str or len(value) <= limit:
            continue
        if name in _DERIVED:
            row[name] = value[: limit - 1] + "\u2026"
            continue
        problems.append(f"{name}: a value of {len(value)} characters is longer than {limit}")
    return "; ".join(problems) if problems else None


def _sort_chunk(
    results: list[RowResult],
    devices: dict[str, DeviceInputs],
    key: bytes | None,
    run_id: int,
    path: Path,
    keep_texts: bool = False,
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
            device = devices.get(record.device_id)
            if device is None:
                chunk.quarantine.append(
                    (
                        result,
                        f"unknown device_id shaped {value_shape(record.device_id)!r}: import "
                        "it into the "
                        "registry first (dmn-monitor devices import)",
                    )
                )
                continue
            if record.patient_id and key is None:
                raise MissingKeyError(
                    f"{path}: line {result.line} carries a patient identifier but no "
                    "pseudonymisation key is set; set the environment variable named by "
                    "pseudonymisation.key_env (default DMN_MONITOR_PSEUDONYM_KEY) and run again",
                    path=str(path),
                    line=result.line,
                )
            checked = check_prediction(record, device)
            if isinstance(checked, str):
                chunk.quarantine.append((result, checked))
                continue
            natural, row = _prediction_row(record, checked, key, run_id)
        else:
            assert isinstance(record, OutcomeRecord)
            natural, row = _outcome_row(record, run_id)
        too_long = _too_long(row, _LIMITS[isinstance(record, PredictionRecord)])
        if too_long is None and "device_version" in row and not row["device_version"]:
            too_long = "device_version: the value holds no visible character"
        if too_long is not None:
            chunk.quarantine.append((result, too_long))
            continue
        text = record.report_text if isinstance(record, OutcomeRecord) and keep_texts else None
        if text and natural not in chunk.rows:
            chunk.texts[natural] = text
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
    checksum: str | None = None,
) -> None:
    """Store a chunk's rows and quarantine in the caller's transaction; ``checksum``:
    the file's (default the run's; a batch run holds several files)."""
    checksum = checksum or run.checksum
    model: type[Prediction] | type[Outcome] = Prediction if kind == "predictions" else Outcome
    new_ids = _insert_new(session, model.__table__, list(chunk.rows.values()))  # type: ignore[arg-type]
    accepted = len(new_ids)
    if chunk.texts and kind == "outcomes":
        store_report_texts(session, new_ids, chunk.texts, utc_now())
    # Keep the per-cell summaries exact in this same transaction.
    touched = new_ids if kind == "predictions" else touched_by_outcomes(session, new_ids)
    if touched:
        refresh_cases(session, touched)
    if chunk.quarantine:
        lines = [result.line for result, _ in chunk.quarantine]
        known = set(
            session.scalars(
                select(QuarantinedRow.line_number).where(
                    QuarantinedRow.checksum == checksum, QuarantinedRow.line_number.in_(lines)
                )
            )
        )
        now = utc_now()
        session.add_all(
            QuarantinedRow(
                run_id=run.id,
                kind=kind,
                source_path=run.source_path,
                checksum=checksum,
                line_number=result.line,
                raw_row=redact_raw_row(result.raw, mapping, key),
                reason=safe_reason(reason, _identifier_values(result.raw, mapping)),
                created_at=now,
                target=_raw_target(result.raw, mapping),
                data_datetime=_raw_datetime(result.raw, kind, mapping),
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


def _raw_cell(raw: dict[str, Any], mapping: SourceMapping, column: str) -> str | None:
    value = raw.get(mapping.source_column(column))
    text = str(value).strip() if value is not None else ""
    if text:
        translated = mapping.values.get(column, {}).get(text.casefold())
        return translated or text
    return mapping.defaults.get(column) or None


def _raw_target(raw: dict[str, Any], mapping: SourceMapping) -> str | None:
    """The target a quarantined row names (or its source's default), if any."""
    target = _raw_cell(raw, mapping, "target")
    return target[:100] if target else None


def _raw_datetime(raw: dict[str, Any], kind: Kind, mapping: SourceMapping) -> datetime | None:
    """The outcome (exam) date-time of a quarantined row when it can be read."""
    column = "outcome_datetime" if kind == "outcomes" else "exam_datetime"
    value = _raw_cell(raw, mapping, column)
    parse = parser_for(column, mapping.datetime_format, mapping.timezone)
    if value is None or parse is None:
        return None
    try:
        parsed = parse(value)
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed if isinstance(parsed, datetime) else None


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
    keep_report_text: bool = False,
    into_run: int | None = None,
    look_alikes: bool = True,
) -> IngestReport:
    """Ingest one file of ``kind``; resume its unfinished run if there is one.

    ``into_run``: add the file to that run of ``kind`` instead (a feed's batch: the
    MLLP listener puts a connection's messages in one run); the report then counts
    this file's rows only. ``look_alikes``: report subgroup values that look alike
    (off for pushed payloads: a feed's message would read the cells each time).

    Bad rows are quarantined with their line and reason; the good rows land.
    ``keep_report_text`` keeps the whole text of each new outcome's report
    (``[ingest] keep_report_text``).
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
    with file_ingestion_lock(db, checksum, str(file)):
        return _ingest_locked(
            db,
            file,
            kind,
            checksum,
            mapping,
            source_name,
            chunk_size,
            pseudonym_key,
            fmt,
            on_chunk,
            keep_report_text,
            into_run,
            look_alikes,
        )


def _ingest_locked(
    db: Database,
    file: Path,
    kind: Kind,
    checksum: str,
    mapping: SourceMapping,
    source_name: str | None,
    chunk_size: int,
    pseudonym_key: bytes | None,
    fmt: str | None,
    on_chunk: Callable[[IngestionRun], None] | None,
    keep_report_text: bool,
    into_run: int | None = None,
    look_alikes: bool = True,
) -> IngestReport:
    """:func:`ingest_file` once it holds the file's lock."""
    with db.session.begin() as session:
        specs = list_devices(session)
        devices = {spec.id: DeviceInputs.of(spec) for spec in specs}
        resolve_device = device_resolver(specs)
        before = (0, 0, 0, 0)
        if into_run is not None:
            run = session.get(IngestionRun, into_run)
            if run is None or run.kind != kind:
                raise IngestError(f"{file}: no {kind} run {into_run} to add it to", path=str(file))
            before = (run.rows_read, run.rows_accepted, run.rows_duplicate, run.rows_quarantined)
            run.last_line = 0  # this file's lines, from its first
        else:
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

    seen: dict[str, set[str]] = defaultdict(set)  # dimension values stored by this run
    try:
        chunks = (
            read_predictions(
                file, mapping, chunk_size=chunk_size, fmt=fmt, resolve_device=resolve_device
            )
            if kind == "predictions"
            else read_outcomes(file, mapping, chunk_size=chunk_size, fmt=fmt)
        )
        for results in _skip_committed(chunks, resumed_from):
            with db.session.begin() as session:
                run = session.get_one(IngestionRun, run_id)
                chunk = _sort_chunk(results, devices, pseudonym_key, run_id, file, keep_report_text)
                if look_alikes and kind == "predictions":
                    for row in chunk.rows.values():
                        for column in DIMENSIONS:
                            if row.get(column):
                                seen[column].add(row[column])
                _commit_chunk(session, chunk, kind, run, mapping, pseudonym_key, checksum)
            if on_chunk is not None:
                on_chunk(run)
    except Exception as exc:
        # A fault of the machine in one line (never the SQL and its values).
        message = fault_message(exc) if is_fault(exc) else str(exc)
        try:
            with db.session.begin() as session:
                run = session.get_one(IngestionRun, run_id)
                run.status = "failed"
                run.error = message
                run.finished_at = utc_now()
                if into_run is not None:  # a batch's lines are its last file's: resume
                    run.last_line = 0  # nothing of them by position (re-reading is safe)
        except Exception as marking:  # the same fault may forbid writing that down
            if not is_fault(marking):
                raise
            message += " (the run is left as it was: the next ingestion of the file resumes it)"
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
            rows_read=run.rows_read - before[0],
            accepted=run.rows_accepted - before[1],
            duplicate=run.rows_duplicate - before[2],
            quarantined=run.rows_quarantined - before[3],
            status=run.status,
            resumed_from=resumed_from,
            warnings=tuple(look_alike_warnings(session, seen)),
            checksum=checksum,
        )
