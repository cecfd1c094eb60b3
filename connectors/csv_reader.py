"""CSV exports -> chunks of :class:`RowResult`, with the file's own line numbers."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.rows import RowBuilder, RowResult

if TYPE_CHECKING:
    import _csv

__all__ = ["read_csv"]


def python_encoding(name: str) -> str:
    """The codec to open a file with: UTF-8 is read as utf-8-sig, so a BOM is tolerated."""
    codec = codecs.lookup(name).name
    return "utf-8-sig" if codec == "utf-8" else codec


def read_csv(
    path: Path, kind: RecordKind, mapping: SourceMapping, chunk_size: int
) -> Iterator[list[RowResult]]:
    """Chunks of at most ``chunk_size`` rows; fully blank lines are skipped.

    ``RowResult.line`` is the physical line where the row starts (quoted cells may
    span lines). Raises :class:`ConnectorError` for an unreadable or undecodable file,
    a missing header or a required column missing from it.
    """
    encoding = python_encoding(mapping.encoding)
    try:
        handle = path.open(newline="", encoding=encoding)
    except FileNotFoundError as exc:
        raise ConnectorError("no such file", path=str(path)) from exc
    except IsADirectoryError as exc:
        raise ConnectorError("is a directory, not a file", path=str(path)) from exc
    except OSError as exc:
        raise ConnectorError(f"cannot be read: {exc.strerror or exc}", path=str(path)) from exc
    # The csv module's bound on one field is the process's: the configured one (the
    # same for every source) is set before each read.
    csv.field_size_limit(mapping.limits.max_cell_bytes)
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        try:
            yield from _chunks(reader, path, kind, mapping, chunk_size)
        except UnicodeDecodeError as exc:
            line = _undecodable_line(path, encoding)
            raise ConnectorError(
                f"the text is not valid {mapping.encoding} ({exc.reason}): set the source's "
                "encoding (e.g. 'cp1252' or 'latin-1') or re-export the file as UTF-8",
                path=str(path),
                line=line,
            ) from exc
        except csv.Error as exc:
            hint = (
                "ingest.max_cell_bytes bounds one cell"
                if "field larger than field limit" in str(exc)
                else "is a quote left open on an earlier line?"
            )
            raise ConnectorError(
                f"{exc} ({hint})",
                path=str(path),
                line=reader.line_num,
            ) from exc


def _chunks(
    reader: _csv.Reader,
    path: Path,
    kind: RecordKind,
    mapping: SourceMapping,
    chunk_size: int,
) -> Iterator[list[RowResult]]:
    header: list[str] = []
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header = [cell.strip() for cell in cells]
            break
    if not header:
        raise ConnectorError(
            "the file is empty: a header row naming the columns is expected on its first line",
            path=str(path),
        )
    builder = RowBuilder(kind, header, mapping, str(path), header_line=reader.line_num)
    build, keys, width = builder.build_text, builder.raw_keys, len(header)
    previous = reader.line_num
    chunk: list[RowResult] = []
    for cells in reader:
        start, previous = previous + 1, reader.line_num
        if len(cells) == width:
            record, error = build(cells)
            if error is not None and not any(cell.strip() for cell in cells):
                continue  # a line of delimiters only
            chunk.append(RowResult(start, dict(zip(keys, cells, strict=False)), record, error))
        else:
            result = _ragged(start, cells, keys, builder)
            if result is None:
                continue
            chunk.append(result)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ragged(
    start: int, cells: list[str], keys: tuple[str, ...], builder: RowBuilder
) -> RowResult | None:
    """A row with fewer or more cells than the header; None for a blank line."""
    if not any(cell.strip() for cell in cells):
        return None
    width = len(keys)
    raw: dict[str, str | None] = {key: None for key in keys}
    raw.update(zip(keys, cells, strict=False))
    extra = cells[width:]
    if any(cell.strip() for cell in extra):
        raw.update({f"(column {width + i + 1})": cell for i, cell in enumerate(extra)})
        reason = (
            f"the row has {len(cells)} cells but the header {width} columns "
            "(a wrong delimiter, or a delimiter inside an unquoted value?)"
        )
        return RowResult(start, raw, None, reason)
    record, error = builder.build_text([*cells[:width], *([""] * (width - len(cells)))])
    return RowResult(start, raw, record, error)


def _undecodable_line(path: Path, encoding: str) -> int | None:
    """The physical line of the first undecodable byte (re-reads the file; errors only)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    try:
        with path.open("rb") as handle:
            for chunk in handle:
                try:
                    newlines += decoder.decode(chunk).count("\n")
                except UnicodeDecodeError:
                    return newlines + 1
    except OSError:
        return None
    return None
