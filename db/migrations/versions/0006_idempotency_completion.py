"""When an Idempotency-Key's request completed: of concurrent or retried creates with one
key, only the request that marks the key completed answers 201 (the others 200 replayed).

Keys written before this revision are taken as completed when they were made (their issue
was answered then).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE idempotency_keys SET completed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("completed_at")
