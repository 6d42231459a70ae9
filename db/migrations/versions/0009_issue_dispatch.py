"""Dispatch on the issue projection: the open offer (the accountable team came with 0008).

`offered_to_id` and `offer_expires_at` name the engineer the issue is offered to and until
when. Written by
the record activity from the workflow's status; rows recorded before stay null until their
issue's next step.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("offered_to_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_issues_offered_to_id"), ["offered_to_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_index(batch.f("ix_issues_offered_to_id"))
        batch.drop_column("offer_expires_at")
        batch.drop_column("offered_to_id")
