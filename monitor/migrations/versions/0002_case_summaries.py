"""Per-cell sufficient statistics: each prediction's current case status, and the cells.

``predictions.case_status`` / ``case_truth`` hold what linking says with every
outcome stored so far; ``case_counts`` holds confusion counts and
``score_bins`` score histograms per device x version x target x subgroup values x
local exam day (``case_counts_monthly``: the same counts per local exam month, for
monthly, quarterly and whole-period evaluations), maintained on ingestion.
``summary_state`` records the timezone and age bands the cells were cut with; with
no state row the cells are rebuilt on first use (which is how a database from
revision 0001 gets them).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cell key: a missing subgroup value is stored as '' so the unique index holds.
_KEY_COLUMNS = (
    ("device_id", 64),
    ("device_version", 64),
    ("target", 100),
    ("site", 100),
    ("modality", 16),
    ("body_part", 64),
    ("scanner_manufacturer", 100),
    ("scanner_model", 100),
    ("age_band", 32),
    ("patient_sex", 1),
)


# Pending cases are counted by AI call: the verification rates of Begg-Greenes.
_STATUSES = ("tp", "fp", "tn", "fn", "pending_positive", "pending_negative", "excluded")


def _key_columns() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(size), nullable=False) for name, size in _KEY_COLUMNS]


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("case_status", sa.String(16)))
        batch.add_column(sa.Column("case_truth", sa.String(16)))
    op.create_table(
        "summary_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("age_bands", sa.JSON(), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
    )
    key_names = [name for name, _ in _KEY_COLUMNS]
    op.create_table(
        "case_counts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        *_key_columns(),
        sa.Column("exam_day", sa.Date(), nullable=False),
        *(
            sa.Column(status, sa.Integer(), nullable=False, server_default="0")
            for status in _STATUSES
        ),
        sa.UniqueConstraint(*key_names, "exam_day", name="uq_case_counts_cell"),
    )
    op.create_index("ix_case_counts_device_day", "case_counts", ["device_id", "exam_day"])
    op.create_table(
        "case_counts_monthly",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        *_key_columns(),
        sa.Column("exam_month", sa.Date(), nullable=False),
        *(
            sa.Column(status, sa.Integer(), nullable=False, server_default="0")
            for status in _STATUSES
        ),
        sa.UniqueConstraint(*key_names, "exam_month", name="uq_case_counts_monthly_cell"),
    )
    op.create_table(
        "score_bins",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        *_key_columns(),
        sa.Column("exam_day", sa.Date(), nullable=False),
        sa.Column("truth", sa.String(16), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("score_sum", sa.Float(), nullable=False, server_default="0"),
        sa.Column("score_sq_sum", sa.Float(), nullable=False, server_default="0"),
        sa.UniqueConstraint(*key_names, "exam_day", "truth", "bin", name="uq_score_bins_cell"),
    )
    op.create_index("ix_score_bins_device_day", "score_bins", ["device_id", "exam_day"])
    op.create_index("ix_outcomes_outcome_datetime", "outcomes", ["outcome_datetime"])


def downgrade() -> None:
    op.drop_index("ix_outcomes_outcome_datetime", table_name="outcomes")
    op.drop_table("score_bins")
    op.drop_table("case_counts_monthly")
    op.drop_table("case_counts")
    op.drop_table("summary_state")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("case_truth")
        batch.drop_column("case_status")
