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
    "PREDICTION_RESULT",
    "OutcomeRecord",
    "PredictionRecord",
]

AI_RESULTS: Final = ("positive", "negative", "indeterminate")
OUTCOMES: Final = ("positive", "negative", "indeterminate", "not_mentioned")
"""``not_mentioned``: a final report that never speaks of the target (a state, not bad
data: the device's ``unmentioned`` policy says how it counts). Read from a report text,
or given as such by a source that exports it."""
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

PREDICTION_REQUIRED: Final = ("device_id", "device_version", "exam_datetime")
"""Always required; in addition at least one of accession_number / study_instance_uid,
and at least one of :data:`PREDICTION_RESULT`."""

PREDICTION_RESULT: Final = ("ai_result", "ai_score")
"""At least one is required: without ``ai_result`` it is derived from ``ai_score`` at
the device's operating threshold when the prediction is stored."""

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
    (it then defaults to the device's target condition). ``ai_result`` is None when
    the source gives only ``ai_score`` (it is derived at ingestion). ``ai_score`` is as
    the source gives it, on the device's scale (0..1, 0..100 or logit: the registry's
    ``score_scale``), unless ``ai_score_scale`` says the source stated its own (a
    message whose units made it 0..1: ``unit``). ``patient_age`` is in years.
    """

    device_id: str
    device_version: str
    exam_datetime: datetime
    ai_result: str | None = None
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
    ai_score_scale: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One ground-truth statement about one exam (and optionally one target).

    ``target`` None means the statement holds for every target of the exam;
    ``report_text`` is the free text it came from, when the source gives it.
    ``method`` says how the outcome was read when a connector derived it (e.g.
    ``report_text_rules/v2 fr conclusion``, ``pathology_code:icd-o-3``) and
    ``evidence`` the deciding words or code (at most 300 characters); both are None
    for an outcome given as such (a canonical CSV's ``outcome`` column). ``section``
    (where in the report), ``sentence`` (the whole deciding sentence, at most 500
    characters) and ``qualifiers`` (the words that qualified the mention - negated,
    uncertain, historical, other organ - joined by ``; ``, at most 300 characters)
    are set for an outcome read from a report text. A ``not_mentioned`` outcome has
    a method and no evidence.
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
    section: str | None = None
    sentence: str | None = None
    qualifiers: str | None = None
    reading: str | None = None
