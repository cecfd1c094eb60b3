"""Inputs as devices give them: how each stored AI result stands against its score.

``predictions.ai_result_check`` is ``derived`` (the source gave only a score, the
result was derived at the device's primary threshold), ``agrees`` / ``contradicts``
(a given result on the same / the other side of the threshold as its score), or
NULL (not checkable). Stored predictions are checked here against their device's
operating threshold (every registry before this revision wrote it on the 0..1
scale); the new registry fields (score scale, operating points, status, optional
claim) live in ``devices.spec``, which needs no schema change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_THRESHOLD = "(SELECT d.operating_threshold FROM devices d WHERE d.id = predictions.device_id)"


def upgrade() -> None:
    op.add_column("predictions", sa.Column("ai_result_check", sa.String(16)))
    op.execute(
        f"""
        UPDATE predictions SET ai_result_check = CASE
            WHEN (ai_score >= {_THRESHOLD}) = (ai_result = 'positive') THEN 'agrees'
            ELSE 'contradicts' END
        WHERE ai_score IS NOT NULL AND ai_result IN ('positive', 'negative')
          AND {_THRESHOLD} IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("ai_result_check")
