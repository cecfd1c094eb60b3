"""How an outcome was read from a report or a pathology result: method and evidence.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outcomes", sa.Column("method", sa.String(64)))
    op.add_column("outcomes", sa.Column("evidence", sa.String(300)))


def downgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("evidence")
        batch.drop_column("method")
