"""Exports and messages -> canonical records, streamed in chunks.

The tabular readers (CSV, Parquet) check the header (or Parquet schema) before
yielding anything, then turn each row into a :class:`RowResult`: a record, or the
reason it cannot be one. At most ``chunk_size`` rows are held at a time, whatever
the file size. Clinical messages (DICOM SR, HL7 v2, FHIR) go through
:func:`connectors.messages.read_messages` and come back as the same results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

from connectors.csv_reader import read_csv
from connectors.dicom_sr import DeviceResolver
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.messages import MESSAGE_FORMATS, detect_format, read_messages
from connectors.parquet_reader import read_parquet
from connectors.rows import RowResult

__all__ = ["FORMATS", "RowResult", "read_outcomes", "read_predictions"]

_Reader = Callable[[Path, RecordKind, SourceMapping, int], Iterator[list[RowResult]]]
_READERS: dict[str, _Reader] = {"csv": read_csv, "parquet": read_parquet}
_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dcm": "dicom-sr",
    ".hl7": "hl7",
    ".ndjson": "fhir",
}
FORMATS = (*_READERS, *MESSAGE_FORMATS, "auto")
"""The values ``fmt`` accepts (``auto``: from the file's content)."""


def read_predictions(
    path: str | Path,
    mapping: SourceMapping | None = None,
    *,
    chunk_size: int = 5000,
    fmt: str | None = None,
    resolve_device: DeviceResolver | None = None,
) -> Iterator[list[RowResult]]:
    """Stream a predictions export as lists of at most ``chunk_size`` :class:`RowResult`.

    ``mapping`` defaults to the canonical layout (``SourceMapping()``). ``fmt`` is one
    of :data:`FORMATS`; None picks it from the suffix (.csv .txt .tsv -> CSV, with a
    tab delimiter for .tsv unless the mapping sets another; .parquet .pq -> Parquet;
    .dcm -> DICOM SR; .hl7 -> HL7 v2; .ndjson -> FHIR), ``auto`` from the content
    (:func:`connectors.messages.detect_format`). ``resolve_device`` names the device
    of a DICOM SR through the registry (required for that format).
    An unknown format or an unusable mapping raise :class:`ConnectorError` at once
    (a bad chunk_size, ValueError). The file's own problems raise ConnectorError
    during iteration: a missing file or a required column absent from the header
    before any row is yielded; undecodable text or a corrupt file when reached
    (``line`` says where; the chunks before it were complete). A bad row never
    raises: it comes back with its ``error``.
    """
    return _read(path, "predictions", mapping, chunk_size, fmt, resolve_device)


def read_outcomes(
    path: str | Path,
    mapping: SourceMapping | None = None,
    *,
    chunk_size: int = 5000,
    fmt: str | None = None,
) -> Iterator[list[RowResult]]:
    """Stream an outcomes export; as :func:`read_predictions`."""
    return _read(path, "outcomes", mapping, chunk_size, fmt, None)


def _read(
    path: str | Path,
    kind: RecordKind,
    mapping: SourceMapping | None,
    chunk_size: int,
    fmt: str | None,
    resolve_device: DeviceResolver | None,
) -> Iterator[list[RowResult]]:
    file = Path(path)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chosen = fmt.strip().lower() if fmt else _SUFFIXES.get(file.suffix.lower())
    if chosen == "auto":
        if not file.is_file():
            raise ConnectorError("no such file", path=str(file))
        chosen = detect_format(file)
    if chosen in MESSAGE_FORMATS:
        mapping = mapping or SourceMapping()
        mapping.validate_for(kind)
        return read_messages(file, kind, mapping, chunk_size, chosen, resolve_device)
    if chosen not in _READERS:
        given = f"the format {fmt!r}" if fmt else f"the suffix {file.suffix or '(none)'!r}"
        raise ConnectorError(
            f"cannot read {given}: give the format as one of {', '.join(FORMATS)} "
            f"(suffixes {', '.join(_SUFFIXES)} are recognised)",
            path=str(file),
        )
    mapping = mapping or SourceMapping()
    if file.suffix.lower() == ".tsv" and mapping.delimiter == ",":
        mapping = dataclasses.replace(mapping, delimiter="\t")
    mapping.validate_for(kind)
    return _READERS[chosen](file, kind, mapping, chunk_size)
