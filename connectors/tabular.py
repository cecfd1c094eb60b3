"""Readers of tabular exports (CSV, Parquet) -> canonical records, in chunks.

Both readers resolve every canonical column to a source column once (from the
header or the Parquet schema), then turn each row into a :class:`RowResult`:
a record, or the reason it cannot be one. Memory is bounded by ``chunk_size``
rows whatever the file size.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.canonical import (
    OUTCOME_COLUMNS,
    OUTCOME_REQUIRED,
    PREDICTION_COLUMNS,
    PREDICTION_REQUIRED,
    OutcomeRecord,
    PredictionRecord,
)
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.parsing import CellError, Parser, parsers_for

__all__ = ["RowResult", "read_outcomes", "read_predictions"]

_LINK_KEYS = ("accession_number", "study_instance_uid")


@dataclass(frozen=True, slots=True)
class RowResult:
    """One source row: its 1-based line (CSV) or row number (Parquet), the raw cells
    with the source's column names, and either the record or the reason it has none."""

    line: int
    raw: dict[str, str | None]
    record: PredictionRecord | OutcomeRecord | None
    error: str | None


@dataclass(frozen=True)
class _Plan:
    """Where each canonical column comes from, and how it is parsed."""

    kind: RecordKind
    positions: Mapping[str, int]  # canonical column -> index in the source row
    defaults: Mapping[str, str]
    values: Mapping[str, Mapping[str, str]]
    parsers: Mapping[str, Parser]


def _plan(kind: RecordKind, header: Sequence[str], mapping: SourceMapping, path: Path) -> _Plan:
    mapping.validate_for(kind)
    columns = PREDICTION_COLUMNS if kind == "predictions" else OUTCOME_COLUMNS
    index = {name: i for i, name in enumerate(header)}
    positions = {
        canonical: index[mapping.source_column(canonical)]
        for canonical in columns
        if mapping.source_column(canonical) in index
    }
    required = PREDICTION_REQUIRED if kind == "predictions" else OUTCOME_REQUIRED
    missing = [c for c in required if c not in positions and c not in mapping.defaults]
    if not any(c in positions or c in mapping.defaults for c in _LINK_KEYS):
        missing.append("accession_number or study_instance_uid")
    if missing:
        wanted = ", ".join(
            f"{c} (column {mapping.source_column(c)!r})" if " or " not in c else c for c in missing
        )
        raise ConnectorError(
            f"{path}: required {kind} column(s) missing from the header: {wanted}. "
            f"The file has: {', '.join(header) or 'no columns'}. "
            "Rename the columns or map them in the source's [sources.columns].",
            path=str(path),
            line=1,
        )
    return _Plan(
        kind=kind,
        positions=positions,
        defaults=mapping.defaults,
        values=mapping.values,
        parsers=parsers_for(columns, mapping.datetime_format, mapping.timezone),
    )


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _build(
    plan: _Plan, cells: Sequence[Any]
) -> tuple[PredictionRecord | OutcomeRecord | None, str | None]:
    fields: dict[str, Any] = {}
    try:
        for canonical, parse in plan.parsers.items():
            position = plan.positions.get(canonical)
            value = cells[position] if position is not None and position < len(cells) else None
            if _empty(value):
                value = plan.defaults.get(canonical)
                if _empty(value):
                    continue
            table = plan.values.get(canonical)
            if table is not None and isinstance(value, str):
                value = table.get(value.strip().casefold(), value)
            fields[canonical] = parse(value)
    except CellError as exc:
        return None, str(exc)
    required = PREDICTION_REQUIRED if plan.kind == "predictions" else OUTCOME_REQUIRED
    for name in required:
        if name not in fields:
            reason = f"missing required field {name}"
            if name == "outcome" and "report_text" in fields:
                reason = "outcome is missing (deriving it from report_text is not configured)"
            return None, reason
    if not any(k in fields for k in _LINK_KEYS):
        return None, "neither accession_number nor study_instance_uid is given"
    if plan.kind == "predictions":
        return PredictionRecord(**fields), None
    return OutcomeRecord(**fields), None


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _read_csv(
    path: Path, kind: RecordKind, mapping: SourceMapping, chunk_size: int
) -> Iterator[list[RowResult]]:
    encoding = (
        "utf-8-sig"
        if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        else mapping.encoding
    )
    try:
        handle = path.open(newline="", encoding=encoding)
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise ConnectorError(f"{path}: no such file", path=str(path)) from exc
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot be read: {exc}", path=str(path)) from exc
    except LookupError as exc:
        raise ConnectorError(
            f"{path}: unknown encoding {mapping.encoding!r}", path=str(path)
        ) from exc
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        line = 0
        try:
            header = [name.strip() for name in next(reader, [])]
            if not any(header):
                raise ConnectorError(
                    f"{path}: the file is empty (no header row)", path=str(path), line=1
                )
            plan = _plan(kind, header, mapping, path)
            line = reader.line_num
            chunk: list[RowResult] = []
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not cells or not any(c.strip() for c in cells):
                    continue
                raw = {
                    name: (cells[i] if i < len(cells) else None) for i, name in enumerate(header)
                }
                record: PredictionRecord | OutcomeRecord | None
                error: str | None
                if len(cells) > len(header):
                    record, error = (
                        None,
                        (
                            f"the row has {len(cells)} fields, the header {len(header)} "
                            f"(delimiter {mapping.delimiter!r}?)"
                        ),
                    )
                else:
                    record, error = _build(plan, cells)
                chunk.append(RowResult(line=start, raw=raw, record=record, error=error))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        except UnicodeDecodeError as exc:
            raise ConnectorError(
                f"{path}: near line {line + 1}: the text is not valid {mapping.encoding} "
                "(set the source's encoding, e.g. encoding = 'cp1252')",
                path=str(path),
                line=line + 1,
            ) from exc
        except csv.Error as exc:
            raise ConnectorError(
                f"{path}: line {reader.line_num}: {exc}", path=str(path), line=reader.line_num
            ) from exc


def _read_parquet(
    path: Path, kind: RecordKind, mapping: SourceMapping, chunk_size: int
) -> Iterator[list[RowResult]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ConnectorError(f"{path}: no such file", path=str(path))
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConnectorError(f"{path}: not a readable Parquet file: {exc}", path=str(path)) from exc
    header = list(parquet.schema_arrow.names)
    plan = _plan(kind, header, mapping, path)
    number = 0
    for batch in parquet.iter_batches(batch_size=chunk_size):
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        chunk = []
        for row in zip(*columns, strict=True):
            number += 1
            raw = {name: _raw_text(value) for name, value in zip(header, row, strict=True)}
            record, error = _build(plan, row)
            chunk.append(RowResult(line=number, raw=raw, record=record, error=error))
        if chunk:
            yield chunk


_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_READERS: dict[str, Callable[[Path, RecordKind, SourceMapping, int], Iterator[list[RowResult]]]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
}


def _read(
    path: str | Path, kind: RecordKind, mapping: SourceMapping, chunk_size: int, fmt: str | None
) -> Iterator[list[RowResult]]:
    file = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chosen = fmt or _SUFFIXES.get(file.suffix.lower())
    if chosen not in _READERS:
        raise ConnectorError(
            f"{file}: cannot tell the format from {file.suffix or 'no suffix'!r}: "
            "give the format (csv or parquet)",
            path=str(file),
        )
    return _READERS[chosen](file, kind, mapping, chunk_size)


def read_predictions(
    path: str | Path,
    mapping: SourceMapping | None = None,
    *,
    chunk_size: int = 5000,
    fmt: str | None = None,
) -> Iterator[list[RowResult]]:
    """Stream a predictions export as chunks of at most ``chunk_size`` rows.

    ``fmt`` is ``csv`` or ``parquet`` (default: from the suffix). File-level
    problems raise :class:`ConnectorError` before or while iterating; a bad row
    never raises, it comes back with its ``error``.
    """
    return _read(path, "predictions", mapping or SourceMapping(), chunk_size, fmt)


def read_outcomes(
    path: str | Path,
    mapping: SourceMapping | None = None,
    *,
    chunk_size: int = 5000,
    fmt: str | None = None,
) -> Iterator[list[RowResult]]:
    """Stream an outcomes export as chunks; as :func:`read_predictions`."""
    return _read(path, "outcomes", mapping or SourceMapping(), chunk_size, fmt)
