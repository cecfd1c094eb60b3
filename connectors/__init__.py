"""Readers: an external export -> canonical records, in chunks.

A hospital's exports (CSV or Parquet, from a vendor's console or a RIS/PACS
query) name and spell things their own way. A :class:`SourceMapping` says how:
which column holds each canonical column, how vendor values translate (e.g.
``DOUBT`` -> ``indeterminate``), the defaults, the date-time format and the
timezone of naive date-times. :func:`read_predictions` and :func:`read_outcomes`
stream a file as lists of :class:`RowResult`: each row's line, its raw cells, and
either a :class:`PredictionRecord` / :class:`OutcomeRecord` or the reason it is
not one. A file that cannot be read at all raises :class:`ConnectorError`.

This package is pure: no database, no configuration or environment reads, and no
import of the rest of the project. ``monitor.ingest`` stores what it yields.
"""

from connectors.canonical import (
    AI_RESULTS,
    OUTCOME_COLUMNS,
    OUTCOME_REQUIRED,
    OUTCOME_SOURCES,
    OUTCOMES,
    PATIENT_SEXES,
    PREDICTION_COLUMNS,
    PREDICTION_REQUIRED,
    PREDICTION_RESULT,
    OutcomeRecord,
    PredictionRecord,
)
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.tabular import FORMATS, RowResult, read_outcomes, read_predictions

__all__ = [
    "AI_RESULTS",
    "FORMATS",
    "OUTCOMES",
    "OUTCOME_COLUMNS",
    "OUTCOME_REQUIRED",
    "OUTCOME_SOURCES",
    "PATIENT_SEXES",
    "PREDICTION_COLUMNS",
    "PREDICTION_REQUIRED",
    "PREDICTION_RESULT",
    "ConnectorError",
    "OutcomeRecord",
    "PredictionRecord",
    "RecordKind",
    "RowResult",
    "SourceMapping",
    "read_outcomes",
    "read_predictions",
]
