"""Tracker sync visibility: whether defect creation is in flight, its last error and attempts.

Written by the create-defect activity while Temporal retries it (the workflow only learns of
the outcome), so a transient Jira outage shows as "tracker sync pending" with the last error.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(
            sa.Column(
                "tracker_sync_pending", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("tracker_last_error", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("tracker_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("tracker_attempts")
        batch.drop_column("tracker_last_error")
        batch.drop_column("tracker_sync_pending")
