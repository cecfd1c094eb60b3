"""Database schema: SQLAlchemy 2.x typed models.

The schema itself is created and changed only by the Alembic migrations in
``monitor/migrations``; these classes describe it for queries. Every timestamp is
stored as UTC and read back timezone-aware (:class:`UTCDateTime`), on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "CELL_KEY_COLUMNS",
    "ApiToken",
    "AuditEntry",
    "Base",
    "CaseCount",
    "CaseCountMonthly",
    "Device",
    "Finding",
    "FindingAction",
    "GaugeSnapshot",
    "IngestionRun",
    "JobRun",
    "MetricSnapshot",
    "NotificationAttempt",
    "NotificationDelivery",
    "Outcome",
    "Prediction",
    "QuarantinedRow",
    "ReportText",
    "ReviewItem",
    "SchedulerJob",
    "ScoreBin",
    "SummaryState",
    "UTCDateTime",
    "VigilanceDraft",
]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the database; attach a timezone")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: keep naive UTC text, which also sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Device(Base):
    """One AI medical device of the registry (the 3.4-05 inventory entry)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(100))
    ai_based: Mapped[bool] = mapped_column(Boolean)
    operating_threshold: Mapped[float | None] = mapped_column(Float)
    indeterminate_policy: Mapped[str] = mapped_column(String(16))
    unmentioned: Mapped[str] = mapped_column(
        String(16),
        server_default="pending",
        doc="How an outcome 'not mentioned' by a final report counts: negative or pending.",
    )
    reading_historical: Mapped[str] = mapped_column(
        String(16), server_default="ignore", doc="Old or past findings: ignore or positive."
    )
    reading_benign: Mapped[str] = mapped_column(
        String(16), server_default="ignore", doc="A benign finding named alone: ignore or positive."
    )
    reading_pattern: Mapped[str] = mapped_column(
        String(16), server_default="positive", doc="A nodular pattern: positive or ignore."
    )
    claimed_sensitivity: Mapped[float | None] = mapped_column(Float)
    claimed_specificity: Mapped[float | None] = mapped_column(Float)
    date_in_service: Mapped[date | None] = mapped_column(Date)
    spec: Mapped[dict[str, Any]] = mapped_column(
        JSON, doc="The full registry entry as imported, for export and the inventory report."
    )
    updated_at: Mapped[datetime]


class IngestionRun(Base):
    """One pass over one source file; a failed run can be resumed from ``last_line``."""

    __tablename__ = "ingestion_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str | None] = mapped_column(String(200))
    source_path: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    last_line: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Prediction(Base):
    """One device output for one exam and target (canonical prediction record)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("natural_key", name="uq_predictions_natural_key"),
        Index("ix_predictions_device_exam", "device_id", "exam_datetime"),
        Index("ix_predictions_accession", "accession_number"),
        Index("ix_predictions_study_uid", "study_instance_uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    device_version: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    accession_number: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str | None] = mapped_column(String(128))
    exam_datetime: Mapped[datetime]
    ai_result: Mapped[str] = mapped_column(String(16))
    ai_score: Mapped[float | None] = mapped_column(Float)
    ai_datetime: Mapped[datetime | None]
    patient_pseudonym: Mapped[str | None] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(100))
    modality: Mapped[str | None] = mapped_column(String(16))
    body_part: Mapped[str | None] = mapped_column(String(64))
    scanner_manufacturer: Mapped[str | None] = mapped_column(String(100))
    scanner_model: Mapped[str | None] = mapped_column(String(100))
    patient_age: Mapped[float | None] = mapped_column(Float)
    patient_sex: Mapped[str | None] = mapped_column(String(1))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingestion_runs.id"))
    case_status: Mapped[str | None] = mapped_column(
        String(16),
        doc=(
            "Linking's status with every stored outcome (tp, fp, tn, fn, excluded, or "
            "pending_positive / pending_negative by AI call)"
        ),
    )
    case_truth: Mapped[str | None] = mapped_column(
        String(16), doc="The linked determinate outcome (positive / negative), None if none."
    )
    ai_result_check: Mapped[str | None] = mapped_column(
        String(16),
        doc=(
            "How ai_result stands against ai_score and the device's primary threshold: "
            "'derived' (absent from the source, derived from the score), 'agrees' or "
            "'contradicts' (given; kept as given); None when it cannot be checked"
        ),
    )


class Outcome(Base):
    """One ground-truth statement about one exam (canonical outcome record).

    ``method`` and ``evidence`` say how a connector read the outcome from a report or
    a pathology result (the rules and the deciding words or code); None when the
    outcome was given as such. ``section``, ``sentence`` and ``qualifiers`` are where
    a report decided it: the section, the whole sentence and the words that qualified
    the mention (negated, uncertain, historical, other organ). ``outcome`` is
    ``not_mentioned`` when a final report never speaks of the target.
    """

    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint("natural_key", name="uq_outcomes_natural_key"),
        Index("ix_outcomes_accession", "accession_number"),
        Index("ix_outcomes_study_uid", "study_instance_uid"),
        Index("ix_outcomes_outcome_datetime", "outcome_datetime"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(64))
    accession_number: Mapped[str | None] = mapped_column(String(64))
    study_instance_uid: Mapped[str | None] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(100))
    site: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    outcome_datetime: Mapped[datetime]
    report_text_sha256: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingestion_runs.id"))
    method: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(String(300))
    section: Mapped[str | None] = mapped_column(String(16))
    sentence: Mapped[str | None] = mapped_column(String(500))
    qualifiers: Mapped[str | None] = mapped_column(String(300))
    reading: Mapped[str | None] = mapped_column(
        String(16),
        doc="The status of the deciding mention (old, benign, pattern...): see ReadingPolicy.",
    )


class QuarantinedRow(Base):
    """A row that could not be accepted, kept with where it came from and why."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("checksum", "line_number", name="uq_quarantine_file_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingestion_runs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    line_number: Mapped[int] = mapped_column(Integer)
    raw_row: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    target: Mapped[str | None] = mapped_column(
        String(100), doc="The row's target when it could be read, to count it per device."
    )
    data_datetime: Mapped[datetime | None] = mapped_column(
        doc="The row's outcome (or exam) date-time when it could be read, to count it per month."
    )


class ReportText(Base):
    """The whole text of the report an outcome was read from, kept only when
    ``[ingest] keep_report_text`` is on and purged after its retention period."""

    __tablename__ = "report_texts"
    __table_args__ = (Index("ix_report_texts_stored_at", "stored_at"),)

    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("outcomes.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime]


class SummaryState(Base):
    """How the per-cell summaries were cut: one row, absent until they are built."""

    __tablename__ = "summary_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    age_bands: Mapped[list[float]] = mapped_column(JSON)
    built_at: Mapped[datetime]


CELL_KEY_COLUMNS = (
    "device_id",
    "device_version",
    "target",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "age_band",
    "patient_sex",
)
"""Columns of a cell key; a missing subgroup value is stored as ''."""


class _CellValues:
    device_id: Mapped[str] = mapped_column(String(64))
    device_version: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    site: Mapped[str] = mapped_column(String(100))
    modality: Mapped[str] = mapped_column(String(16))
    body_part: Mapped[str] = mapped_column(String(64))
    scanner_manufacturer: Mapped[str] = mapped_column(String(100))
    scanner_model: Mapped[str] = mapped_column(String(100))
    age_band: Mapped[str] = mapped_column(String(32))
    patient_sex: Mapped[str] = mapped_column(String(1))


class _Counts:
    """Cases of a cell by status; those awaiting truth by AI call."""

    tp: Mapped[int] = mapped_column(Integer, default=0)
    fp: Mapped[int] = mapped_column(Integer, default=0)
    tn: Mapped[int] = mapped_column(Integer, default=0)
    fn: Mapped[int] = mapped_column(Integer, default=0)
    pending_positive: Mapped[int] = mapped_column(Integer, default=0)
    pending_negative: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0)


class _CellKey(_CellValues):
    exam_day: Mapped[date] = mapped_column(Date)


class CaseCount(_CellKey, _Counts, Base):
    """Confusion counts of the cases of one cell and local exam day (current knowledge)."""

    __tablename__ = "case_counts"
    __table_args__ = (
        UniqueConstraint(*CELL_KEY_COLUMNS, "exam_day", name="uq_case_counts_cell"),
        Index("ix_case_counts_device_day", "device_id", "exam_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class CaseCountMonthly(_CellValues, _Counts, Base):
    """:class:`CaseCount` summed per local exam month (``exam_month``: its first day)."""

    __tablename__ = "case_counts_monthly"
    __table_args__ = (
        UniqueConstraint(*CELL_KEY_COLUMNS, "exam_month", name="uq_case_counts_monthly_cell"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_month: Mapped[date] = mapped_column(Date)


class ScoreBin(_CellKey, Base):
    """Histogram of AI scores of one cell, local exam day and truth (positive/negative/unknown)."""

    __tablename__ = "score_bins"
    __table_args__ = (
        UniqueConstraint(*CELL_KEY_COLUMNS, "exam_day", "truth", "bin", name="uq_score_bins_cell"),
        Index("ix_score_bins_device_day", "device_id", "exam_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    truth: Mapped[str] = mapped_column(String(16))
    bin: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[float] = mapped_column(Float, default=0.0)
    score_sq_sum: Mapped[float] = mapped_column(Float, default=0.0)


class AuditEntry(Base):
    """Append-only audit log: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


ACTIVE_FINDING_CONDITION = "status IN ('open', 'acknowledged', 'confirmed', 'action_taken')"
"""SQL condition of the findings still being worked on (one per subject at a time)."""


class Finding(Base):
    """A quality-control finding raised by a detection rule, with its evidence.

    ``dedup_key`` names what it is about (device, version, subgroup, rule, metric): at
    most one finding per key is *active* - open, acknowledged, confirmed or
    action_taken (a partial unique index holds it). ``subgroup``
    is a mapping column -> value, None for the whole device; ``detected_at`` is the
    as-of (data) time of the check that raised it, ``escalated_at`` that of the check
    that last raised its severity (its window, value and evidence are then that check's).
    """

    __tablename__ = "findings"
    __table_args__ = (
        Index(
            "ux_findings_active_key",
            "dedup_key",
            unique=True,
            sqlite_where=text(ACTIVE_FINDING_CONDITION),
            postgresql_where=text(ACTIVE_FINDING_CONDITION),
        ),
        Index("ix_findings_device_detected", "device_id", "detected_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    device_version: Mapped[str | None] = mapped_column(String(64))
    subgroup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rule: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    detected_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    escalated_at: Mapped[datetime | None]
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    dismissal_reason: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]


class FindingAction(Base):
    """A corrective action taken on a confirmed finding (owner, due date, done date)."""

    __tablename__ = "finding_actions"
    __table_args__ = (Index("ix_finding_actions_finding", "finding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100))
    due_date: Mapped[date | None] = mapped_column(Date)
    done_date: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    completed_by: Mapped[str | None] = mapped_column(String(100))


class ReviewItem(Base):
    """A case queued for human review: sampled as discordant, or affected by a finding.

    A case (prediction) is queued at most once; ``finding_id`` is the finding that
    queued it, if any. ``decision`` is the adjudicated outcome (positive / negative /
    indeterminate) when ``status`` is ``adjudicated``.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("prediction_id", name="uq_review_items_prediction"),
        Index("ix_review_items_device_status", "device_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    reason: Mapped[str] = mapped_column(String(32))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    case_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    queued_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)


class NotificationDelivery(Base):
    """One notification of one finding event to one channel, until delivered or given up.

    ``event`` names what is notified (e.g. ``raised:critical``); a finding event is
    delivered to a channel at most once (unique), whatever the retries.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("finding_id", "event", "channel", name="uq_notification_delivery"),
        Index("ix_notification_deliveries_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class NotificationAttempt(Base):
    """Every attempt to deliver a notification, successful or not."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_delivery", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)


class VigilanceDraft(Base):
    """A materiovigilance draft produced from a confirmed finding (never sent by us)."""

    __tablename__ = "vigilance_drafts"
    __table_args__ = (Index("ix_vigilance_drafts_finding", "finding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    lang: Mapped[str] = mapped_column(String(2))
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token of the HTTP API. Only its SHA-256 is stored (the secret is shown
    once, at creation); ``prefix`` (its first characters) names it in lists and logs."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class JobRun(Base):
    """One run of a scheduled job. ``(job, scheduled_for)`` is unique: of several
    ``serve`` processes on one database, the one whose insert succeeds runs it."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "scheduled_for", name="ux_job_runs_job_time"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime]
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class MetricSnapshot(Base):
    """Performance of one slice (device x version x subgroup value) over one trailing
    window, as the ``evaluate`` job last computed it; what ``/metrics`` serves.
    ``'all'`` stands for every version, and for the whole device in dimension/value."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (
        UniqueConstraint(
            "device_id",
            "device_version",
            "dimension",
            "value",
            "window",
            name="ux_metric_snapshots_slice",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    device_version: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    window: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]
    computed_at: Mapped[datetime]
    n: Mapped[int] = mapped_column(Integer)
    tp: Mapped[int] = mapped_column(Integer)
    fp: Mapped[int] = mapped_column(Integer)
    tn: Mapped[int] = mapped_column(Integer)
    fn: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)


class GaugeSnapshot(Base):
    """Any other gauge a job computed for ``/metrics`` (control chart statistics and
    limits, drift scores, estimated performance...): a family name, its labels (a
    small mapping, never a patient or exam identifier) and its value."""

    __tablename__ = "gauge_snapshots"
    __table_args__ = (Index("ix_gauge_snapshots_family", "family"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    family: Mapped[str] = mapped_column(String(100))
    device_id: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    value: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime]


class SchedulerJob(Base):
    """APScheduler's persistent job store (its SQLAlchemyJobStore layout), created by
    the migrations like every other table: the jobs of ``serve`` and their next run."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class User(Base):
    """A person who logs in to the web console. ``password_hash`` is a scrypt hash
    (:mod:`monitor.users`), never the password; ``role`` is one of the API roles.
    ``full_name`` is what the audit log and the sign-off name."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    lang: Mapped[str] = mapped_column(String(2))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class WebSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie's secret is stored;
    ``csrf_token`` is the token every form of the session must carry."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class MonthSignoff(Base):
    """One reviewer's signature of a month's quality-control review: who (the user
    and the reviewer line of ``report.reviewers`` they sign as), when, and the SHA-256
    of the report files they signed."""

    __tablename__ = "month_signoffs"
    __table_args__ = (UniqueConstraint("month", "reviewer", name="ux_month_signoffs_reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[date] = mapped_column(Date)
    reviewer: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed_at: Mapped[datetime]


class MonthLock(Base):
    """A month whose review every named reviewer has signed: its report is no longer
    rewritten. Written once, with the last signature."""

    __tablename__ = "month_locks"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    locked_at: Mapped[datetime]
    locked_by: Mapped[str] = mapped_column(String(200))
    files: Mapped[dict[str, Any]] = mapped_column(JSON)


class HistoryChunk(Base):
    """Part of a device's history kept between checks (:mod:`monitor.kept_history`):
    its predictions stored after ``predictions_after`` up to ``predictions_upto`` (row
    ids) and the outcome events that arrived with them, compact (``payload``). The
    chunks of a device chain from 0; ``*_count`` are the device's predictions and the
    outcomes stored up to then, which a later check finds again or starts over.
    ``fingerprint``: what the rows were read with (the device's registry entry)."""

    __tablename__ = "history_chunks"
    __table_args__ = (
        UniqueConstraint(
            "device_id", "predictions_after", "outcomes_after", name="ux_history_chunks_chain"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    predictions_after: Mapped[int] = mapped_column(Integer)
    predictions_upto: Mapped[int] = mapped_column(Integer)
    outcomes_after: Mapped[int] = mapped_column(Integer)
    outcomes_upto: Mapped[int] = mapped_column(Integer)
    predictions_count: Mapped[int] = mapped_column(Integer)
    outcomes_count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime]


class DetectionState(Base):
    """What detection keeps of a device between checks: the as-of time (UTC ns) of the
    latest check, so a new process judges only the months and versions whose look
    time came after it."""

    __tablename__ = "detection_states"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    checked_ns: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class ChartCalibration(Base):
    """A chart family's joint calibration (:class:`alerts.chart_family.FamilyCalibration`)
    by its signature: simulated once, found again by every later check."""

    __tablename__ = "chart_calibrations"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    calibration: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime]


class ArlCurve(Base):
    """A Bernoulli CUSUM's in-control ARL curve by its rates, limits and points (``key``;
    :func:`metrics.sequential.bernoulli_cusum_arl_curve`): a pure function of them,
    computed once (a quarter of a second each, a few dozen a device) and read back."""

    __tablename__ = "arl_curves"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    curve: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime]
