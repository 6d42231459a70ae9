"""The issue's SLA snapshot on the read model: the promised policy and its clocks as JSON,
plus whether the customer's promise is paused or at risk (indexed: the list filters `?sla=`
use them) and when the current tier's budget (OLA) runs out (staff's at-risk list).

`sla` is `IssueSla.model_dump(mode="json")`, rewritten on every recorded step; the API
computes elapsed/remaining from it at request time. Rows written before this revision keep
NULL until their workflow records its next step.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("sla", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("sla_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("sla_at_risk", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("ola_next_deadline", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_issues_sla_paused"), ["sla_paused"], unique=False)
        batch.create_index(
            batch.f("ix_issues_ola_next_deadline"), ["ola_next_deadline"], unique=False
        )
        batch.create_index(batch.f("ix_issues_sla_at_risk"), ["sla_at_risk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_index(batch.f("ix_issues_ola_next_deadline"))
        batch.drop_index(batch.f("ix_issues_sla_at_risk"))
        batch.drop_index(batch.f("ix_issues_sla_paused"))
        batch.drop_column("ola_next_deadline")
        batch.drop_column("sla_at_risk")
        batch.drop_column("sla_paused")
        batch.drop_column("sla")
