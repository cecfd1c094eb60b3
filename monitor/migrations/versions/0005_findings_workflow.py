"""The findings workflow: review statuses, corrective actions, case review queue,
notification deliveries and their attempts, materiovigilance drafts.

The one-finding-per-subject index now covers every *active* status (open,
acknowledged, confirmed, action_taken), so a rule firing again while a finding is
being reviewed counts on that finding instead of opening a second one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('open', 'acknowledged', 'confirmed', 'action_taken')"


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("confirmed_at", UTCDateTime()))
        batch.add_column(sa.Column("confirmed_by", sa.String(100)))
        batch.add_column(sa.Column("dismissal_reason", sa.String(32)))
        batch.add_column(sa.Column("closed_at", UTCDateTime()))
        batch.add_column(sa.Column("status_changed_at", UTCDateTime()))
    op.drop_index("ux_findings_open_key", table_name="findings")
    op.create_index(
        "ux_findings_active_key",
        "findings",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "finding_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("due_date", sa.Date()),
        sa.Column("done_date", sa.Date()),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_by", sa.String(100)),
    )
    op.create_index("ix_finding_actions_finding", "finding_actions", ["finding_id"])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.Integer(), sa.ForeignKey("predictions.id"), nullable=False),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("findings.id")),
        sa.Column("case_status", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decision", sa.String(16)),
        sa.Column("comment", sa.Text()),
        sa.UniqueConstraint("prediction_id", name="uq_review_items_prediction"),
    )
    op.create_index("ix_review_items_device_status", "review_items", ["device_id", "status"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("finding_id", "event", "channel", name="uq_notification_delivery"),
    )
    op.create_index(
        "ix_notification_deliveries_status",
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.Integer(),
            sa.ForeignKey("notification_deliveries.id"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_notification_attempts_delivery", "notification_attempts", ["delivery_id"])
    op.create_table(
        "vigilance_drafts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text()),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_vigilance_drafts_finding", "vigilance_drafts", ["finding_id"])


def downgrade() -> None:
    op.drop_index("ix_vigilance_drafts_finding", table_name="vigilance_drafts")
    op.drop_table("vigilance_drafts")
    op.drop_index("ix_notification_attempts_delivery", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_notification_deliveries_status", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index("ix_review_items_device_status", table_name="review_items")
    op.drop_table("review_items")
    op.drop_index("ix_finding_actions_finding", table_name="finding_actions")
    op.drop_table("finding_actions")
    op.drop_index("ux_findings_active_key", table_name="findings")
    op.create_index(
        "ux_findings_open_key",
        "findings",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("closed_at")
        batch.drop_column("dismissal_reason")
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_at")
