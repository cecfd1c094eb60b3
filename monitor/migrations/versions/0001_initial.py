"""Initial schema: registry, predictions, outcomes, ingestion runs, quarantine, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("ai_based", sa.Boolean(), nullable=False),
        sa.Column("operating_threshold", sa.Float()),
        sa.Column("indeterminate_policy", sa.String(16), nullable=False),
        sa.Column("claimed_sensitivity", sa.Float()),
        sa.Column("claimed_specificity", sa.Float()),
        sa.Column("date_in_service", sa.Date()),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "ingestion_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(200)),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_ingestion_runs_checksum", "ingestion_runs", ["checksum"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("natural_key", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("device_version", sa.String(64), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("accession_number", sa.String(64)),
        sa.Column("study_instance_uid", sa.String(128)),
        sa.Column("exam_datetime", UTCDateTime(), nullable=False),
        sa.Column("ai_result", sa.String(16), nullable=False),
        sa.Column("ai_score", sa.Float()),
        sa.Column("ai_datetime", UTCDateTime()),
        sa.Column("patient_pseudonym", sa.String(64)),
        sa.Column("site", sa.String(100)),
        sa.Column("modality", sa.String(16)),
        sa.Column("body_part", sa.String(64)),
        sa.Column("scanner_manufacturer", sa.String(100)),
        sa.Column("scanner_model", sa.String(100)),
        sa.Column("patient_age", sa.Float()),
        sa.Column("patient_sex", sa.String(1)),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingestion_runs.id")),
        sa.UniqueConstraint("natural_key", name="uq_predictions_natural_key"),
    )
    op.create_index("ix_predictions_device_exam", "predictions", ["device_id", "exam_datetime"])
    op.create_index("ix_predictions_accession", "predictions", ["accession_number"])
    op.create_index("ix_predictions_study_uid", "predictions", ["study_instance_uid"])
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("natural_key", sa.String(64), nullable=False),
        sa.Column("accession_number", sa.String(64)),
        sa.Column("study_instance_uid", sa.String(128)),
        sa.Column("target", sa.String(100)),
        sa.Column("site", sa.String(100)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome_datetime", UTCDateTime(), nullable=False),
        sa.Column("report_text_sha256", sa.String(64)),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingestion_runs.id")),
        sa.UniqueConstraint("natural_key", name="uq_outcomes_natural_key"),
    )
    op.create_index("ix_outcomes_accession", "outcomes", ["accession_number"])
    op.create_index("ix_outcomes_study_uid", "outcomes", ["study_instance_uid"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingestion_runs.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("raw_row", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("checksum", "line_number", name="uq_quarantine_file_line"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.String(200)),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    # The audit log is evidence: the database itself refuses to rewrite it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION dmn_audit_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION dmn_audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION dmn_audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS dmn_audit_log_append_only()")
    for table in (
        "audit_log",
        "quarantine",
        "outcomes",
        "predictions",
        "ingestion_runs",
        "devices",
    ):
        op.drop_table(table)
