"""What detection keeps between checks: a device's history in compact chunks, the
as-of time of its latest check, chart families' calibrations by signature and the
CUSUM ARL curves. A daily check then reads from the tables only what arrived since
the last one. All are caches: emptied, the next check rebuilds them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_chunks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("predictions_after", sa.Integer(), nullable=False),
        sa.Column("predictions_upto", sa.Integer(), nullable=False),
        sa.Column("outcomes_after", sa.Integer(), nullable=False),
        sa.Column("outcomes_upto", sa.Integer(), nullable=False),
        sa.Column("predictions_count", sa.Integer(), nullable=False),
        sa.Column("outcomes_count", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "device_id", "predictions_after", "outcomes_after", name="ux_history_chunks_chain"
        ),
    )
    op.create_index("ix_history_chunks_device_id", "history_chunks", ["device_id"])
    op.create_table(
        "detection_states",
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("checked_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "chart_calibrations",
        sa.Column("signature", sa.String(64), primary_key=True),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
    )

    op.create_table(
        "arl_curves",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("curve", sa.JSON(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("arl_curves")
    op.drop_table("chart_calibrations")
    op.drop_table("detection_states")
    op.drop_index("ix_history_chunks_device_id", table_name="history_chunks")
    op.drop_table("history_chunks")
