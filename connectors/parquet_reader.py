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
        # Text columns stay dictionary-encoded when they are: their decoded size is
        # counted before any row is made (see _decoded_bytes).
        names = pq.read_schema(path).names
        parquet = pq.ParquetFile(path, read_dictionary=names)
    except (pa.ArrowException, OSError) as exc:
        raise ConnectorError(f"not a readable Parquet file: {exc}", path=str(path)) from exc
    with parquet:
        limits = mapping.limits
        _check_widths(parquet.metadata, path, limits.max_cell_bytes)
        header = list(parquet.schema_arrow.names)
        builder = RowBuilder(kind, header, mapping, str(path))
        build, keys = builder.build, builder.raw_keys
        number = 0
        batches = parquet.iter_batches(batch_size=_batch_rows(parquet.metadata, chunk_size))
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                decoded = _decoded_bytes(batch)
                if decoded > limits.max_batch_bytes:
                    raise ValueError(
                        f"{batch.num_rows:,} rows take {decoded / 2**20:,.0f} MiB once "
                        f"decoded, over the {limits.max_batch_bytes // 2**20} MiB read at "
                        "once (ingest.max_batch_bytes; refused as a decompression bomb)"
                    )
                columns = [_plain(column).to_pylist() for column in batch.columns]
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


def _check_widths(metadata: Any, path: Path, max_cell_bytes: int) -> None:
    """Refuse, before anything is decoded, a file with a column wider than
    ``max_cell_bytes`` a row on average in some row group (``ingest.max_cell_bytes``)."""
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        rows = max(group.num_rows, 1)
        for position in range(group.num_columns):
            column = group.column(position)
            if column.total_uncompressed_size / rows > max_cell_bytes:
                raise ConnectorError(
                    f"column {column.path_in_schema!r} holds "
                    f"{column.total_uncompressed_size / rows / 1024:,.0f} KiB a row in row "
                    f"group {index}, over the {max_cell_bytes // 1024} KiB a cell may "
                    "hold (ingest.max_cell_bytes): refused as a decompression bomb",
                    path=str(path),
                )


def _decoded_bytes(batch: Any) -> int:
    """What ``batch`` takes once every value is decoded: a dictionary column counts
    each row's value, not the dictionary once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            values = column.dictionary
            if pa.types.is_string(values.type) or pa.types.is_binary(values.type):
                lengths = pc.binary_length(values)
                counted = pc.sum(pc.take(lengths, column.indices)).as_py()
                total += int(counted or 0) + column.indices.nbytes
                continue
        total += column.nbytes
    return total


def _plain(column: Any) -> Any:
    """A dictionary column decoded (counted first): arrow makes rows of it faster."""
    return column.dictionary_decode() if hasattr(column, "dictionary_decode") else column


BATCH_TARGET_BYTES = 32 * 1024 * 1024
"""Bytes a batch is sized to, from the file's own sizes (its widest row group)."""


def _batch_rows(metadata: Any, chunk_size: int) -> int:
    """Rows per batch: ``chunk_size``, fewer when the rows are wide (uncompressed bytes
    per row of the widest row group), so a batch decodes to about
    :data:`BATCH_TARGET_BYTES` at most; at least one row."""
    widest = max(
        (
            metadata.row_group(i).total_byte_size / max(metadata.row_group(i).num_rows, 1)
            for i in range(metadata.num_row_groups)
        ),
        default=0.0,
    )
    if widest <= 0:
        return chunk_size
    return max(1, min(chunk_size, int(BATCH_TARGET_BYTES / widest)))


def _text(value: Any) -> str | None:
    """A cell as JSON-friendly text: None stays None, date-times become ISO 8601."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
