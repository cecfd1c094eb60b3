"""Findings raised by the detection rules.

At most one finding per ``dedup_key`` (device, version, subgroup, rule, metric) is
open at a time: a partial unique index, on SQLite and PostgreSQL alike.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("device_version", sa.String(64)),
        sa.Column("subgroup", sa.JSON()),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(32)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", UTCDateTime()),
        sa.Column("window_end", UTCDateTime()),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("escalated_at", UTCDateTime()),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("threshold", sa.Float()),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("acknowledged_by", sa.String(100)),
    )
    op.create_index(
        "ux_findings_open_key",
        "findings",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_findings_device_detected", "findings", ["device_id", "detected_at"])


def downgrade() -> None:
    op.drop_index("ix_findings_device_detected", table_name="findings")
    op.drop_index("ux_findings_open_key", table_name="findings")
    op.drop_table("findings")
