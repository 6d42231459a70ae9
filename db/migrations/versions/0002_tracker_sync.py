"""Tracker sync: the defect an issue is linked to, its sync error, and handled deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("defect_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tracker_sync_error", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_issues_defect_key"), ["defect_key"], unique=False)
    op.create_table(
        "tracker_deliveries",
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("defect_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dedupe_key", name=op.f("pk_tracker_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("tracker_deliveries")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issues_defect_key"))
        batch_op.drop_column("tracker_sync_error")
        batch_op.drop_column("defect_key")
