"""Readers: an external export or message -> canonical records.

No database and no configuration: a reader gets a path and a
:class:`SourceMapping`, and yields chunks of :class:`RowResult` (a record, or the
reason a row is not one). ``monitor.ingest`` stores them.
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
    OutcomeRecord,
    PredictionRecord,
)
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping
from connectors.tabular import RowResult, read_outcomes, read_predictions

__all__ = [
    "AI_RESULTS",
    "OUTCOMES",
    "OUTCOME_COLUMNS",
    "OUTCOME_REQUIRED",
    "OUTCOME_SOURCES",
    "PATIENT_SEXES",
    "PREDICTION_COLUMNS",
    "PREDICTION_REQUIRED",
    "ConnectorError",
    "OutcomeRecord",
    "PredictionRecord",
    "RecordKind",
    "RowResult",
    "SourceMapping",
    "read_outcomes",
    "read_predictions",
]
