"""SLA policies as data: business calendars and one policy per contract level and severity.

Generated with `alembic revision --autogenerate`, then reviewed: both definitions are JSON
documents validated by the domain models (`BusinessCalendar`, `SlaPolicy`), not by the
schema. `contracts.sla_overrides` already exists (0001); its shape is `SlaOverrides`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_business_calendars")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("contract_level", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_level", "severity", name=op.f("pk_sla_policies")),
    )


def downgrade() -> None:
    op.drop_table("sla_policies")
    op.drop_table("business_calendars")
