"""Reading reports: where an outcome was decided (section, sentence, qualifiers), the
'not mentioned' state with its per-device policy, the target and data time of a
quarantined row (to count it per device and month), and the optional whole report
texts with their retention.

An outcome's ``outcome`` column is a plain string (no CHECK constraint or enum), so
the new value ``not_mentioned`` needs no schema change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_READING_POLICY = (
    ("reading_historical", "ignore"),
    ("reading_benign", "ignore"),
    ("reading_pattern", "positive"),
)
"""The device's report-reading policy (connectors.report_text.ReadingPolicy)."""


def upgrade() -> None:
    op.add_column("outcomes", sa.Column("section", sa.String(16)))
    op.add_column("outcomes", sa.Column("sentence", sa.String(500)))
    op.add_column("outcomes", sa.Column("qualifiers", sa.String(300)))
    op.add_column("outcomes", sa.Column("reading", sa.String(16)))
    op.add_column(
        "devices",
        sa.Column("unmentioned", sa.String(16), nullable=False, server_default="pending"),
    )
    for name, default in _READING_POLICY:
        op.add_column(
            "devices", sa.Column(name, sa.String(16), nullable=False, server_default=default)
        )
    op.add_column("quarantine", sa.Column("target", sa.String(100)))
    op.add_column("quarantine", sa.Column("data_datetime", UTCDateTime()))
    op.create_table(
        "report_texts",
        sa.Column(
            "outcome_id",
            sa.Integer(),
            sa.ForeignKey("outcomes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_report_texts_stored_at", "report_texts", ["stored_at"])


def downgrade() -> None:
    op.drop_index("ix_report_texts_stored_at", table_name="report_texts")
    op.drop_table("report_texts")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("data_datetime")
        batch.drop_column("target")
    with op.batch_alter_table("devices") as batch:
        for name, _ in reversed(_READING_POLICY):
            batch.drop_column(name)
        batch.drop_column("unmentioned")
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("reading")
        batch.drop_column("qualifiers")
        batch.drop_column("sentence")
        batch.drop_column("section")
