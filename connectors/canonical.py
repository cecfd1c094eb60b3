"""The canonical records every connector produces.

Predictions are one device output per exam and target condition; outcomes are the
ground truth that arrives later. Column names are exactly those of the canonical
CSV files (see the README). Records are plain frozen dataclasses: connectors build
them, ``monitor.ingest`` stores them; nothing here touches a database.

Datetimes in records are always timezone-aware (naive export values are
interpreted in the source's timezone by the reader that parsed them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = [
    "AI_RESULTS",
    "OUTCOMES",
    "OUTCOME_COLUMNS",
    "OUTCOME_REQUIRED",
    "OUTCOME_SOURCES",
    "PATIENT_SEXES",
    "PREDICTION_COLUMNS",
    "PREDICTION_REQUIRED",
    "OutcomeRecord",
    "PredictionRecord",
]

AI_RESULTS: Final = ("positive", "negative", "indeterminate")
OUTCOMES: Final = ("positive", "negative", "indeterminate")
OUTCOME_SOURCES: Final = ("report", "pathology", "follow_up", "adjudication")
PATIENT_SEXES: Final = ("F", "M", "O", "U")

PREDICTION_COLUMNS: Final = (
    "device_id",
    "device_version",
    "exam_datetime",
    "ai_result",
    "accession_number",
    "study_instance_uid",
    "patient_id",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "patient_age",
    "patient_sex",
    "target",
    "ai_score",
    "ai_datetime",
)
"""Canonical prediction columns, in the order the canonical CSV writes them."""

PREDICTION_REQUIRED: Final = ("device_id", "device_version", "exam_datetime", "ai_result")
"""Always required; in addition at least one of accession_number / study_instance_uid."""

OUTCOME_COLUMNS: Final = (
    "accession_number",
    "study_instance_uid",
    "outcome",
    "source",
    "outcome_datetime",
    "target",
    "site",
    "report_text",
)
"""Canonical outcome columns, in the order the canonical CSV writes them."""

OUTCOME_REQUIRED: Final = ("outcome", "source", "outcome_datetime")
"""Always required; in addition a link key (accession_number or study_instance_uid)."""


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One device output for one exam and one target condition.

    ``patient_id`` is the raw identifier as read; ``monitor.ingest`` pseudonymises
    it before anything is stored. ``target`` is None when the export does not say
    (it then defaults to the device's target condition). ``ai_score`` is in 0..1,
    ``patient_age`` in years.
    """

    device_id: str
    device_version: str
    exam_datetime: datetime
    ai_result: str
    accession_number: str | None = None
    study_instance_uid: str | None = None
    patient_id: str | None = None
    site: str | None = None
    modality: str | None = None
    body_part: str | None = None
    scanner_manufacturer: str | None = None
    scanner_model: str | None = None
    patient_age: float | None = None
    patient_sex: str | None = None
    target: str | None = None
    ai_score: float | None = None
    ai_datetime: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One ground-truth statement about one exam (and optionally one target).

    ``target`` None means the statement holds for every target of the exam;
    ``report_text`` is the free text it came from, when the source gives it.
    ``method`` says how the outcome was read when a connector derived it (e.g.
    ``report_text_rules/v1 fr conclusion``, ``pathology_code:icd-o-3``) and
    ``evidence`` the deciding words or code (at most 300 characters); both are None
    for an outcome given as such (a canonical CSV's ``outcome`` column).
    """

    outcome: str
    source: str
    outcome_datetime: datetime
    accession_number: str | None = None
    study_instance_uid: str | None = None
    target: str | None = None
    site: str | None = None
    report_text: str | None = None
    method: str | None = None
    evidence: str | None = None
