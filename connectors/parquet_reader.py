"""Parquet exports -> chunks of :class:`RowResult`, read batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.rows import RowBuilder, RowResult

__all__ = ["read_parquet"]


def read_parquet(
    path: Path, kind: RecordKind, mapping: SourceMapping, chunk_size: int
) -> Iterator[list[RowResult]]:
    """Chunks of at most ``chunk_size`` rows; ``RowResult.line`` is the 1-based row number.

    Cells keep their native types for parsing (str, int, float, Decimal, date,
    datetime with or without timezone, None); ``raw`` holds them as text. Raises
    :class:`ConnectorError` for a missing or unreadable file or a missing column.
    """
    import pyarrow as pa  # imported on first use: it is slow to import
    import pyarrow.parquet as pq

    if not path.exists():
        raise ConnectorError("no such file", path=str(path))
    if not path.is_file():
        raise ConnectorError("is a directory, not a file", path=str(path))
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ConnectorError(f"not a readable Parquet file: {exc}", path=str(path)) from exc
    with parquet:
        header = list(parquet.schema_arrow.names)
        builder = RowBuilder(kind, header, mapping, str(path))
        build, keys = builder.build, builder.raw_keys
        number = 0
        batches = parquet.iter_batches(batch_size=chunk_size)
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                columns = [column.to_pylist() for column in batch.columns]
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise ConnectorError(
                    f"unreadable from this row on: {exc}",
                    path=str(path),
                    line=number + 1,
                    unit="row",
                ) from exc
            chunk = []
            for cells in zip(*columns, strict=True):
                number += 1
                record, error = build(cells)
                raw = {key: _text(value) for key, value in zip(keys, cells, strict=True)}
                chunk.append(RowResult(number, raw, record, error))
            if chunk:
                yield chunk


def _text(value: Any) -> str | None:
    """A cell as JSON-friendly text: None stays None, date-times become ISO 8601."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
