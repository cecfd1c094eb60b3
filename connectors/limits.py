"""How much a reader takes from one file: bounds against decompression bombs and
oversized values (``[ingest]`` in the configuration sets them).

A file can be small on disk and huge once read: a deflated DICOM dataset of zeros, a
Parquet column of one long value repeated, a message file of gigabytes read whole.
Each reader checks its bound before it holds the data, and refuses the file (or, for
a message, the message) with the bound's name, so a user can raise it knowingly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReadLimits"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """Bounds of one read (bytes)."""

    max_inflated_bytes: int = 64 * MIB
    """A deflated DICOM SR's dataset once inflated (an AI result SR is kilobytes)."""
    max_cell_bytes: int = 128 * 1024
    """One cell: a Parquet column's average width per row, a CSV field."""
    max_batch_bytes: int = 256 * MIB
    """A batch of Parquet rows once decoded."""
    max_message_file_bytes: int = 256 * MIB
    """A message file (HL7 v2, FHIR, DICOM SR) read whole."""
