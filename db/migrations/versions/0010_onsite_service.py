"""On-site service: visits (onsite_visits) and spare-part requests (part_requests).

Projected by the visit and part workflows' activities, keyed by the child workflow id; each
row's `revision` is the child's step counter, so a retried write of an older step is a no-op.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onsite_visits",
        sa.Column("visit_id", sa.String(length=100), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("engineer_id", sa.String(length=64), nullable=False),
        sa.Column("engineer_name", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_on_site_seconds", sa.Integer(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("dispatched_by_name", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_onsite_visits")),
    )
    for column in ("issue_id", "organisation_id", "engineer_id"):
        op.create_index(op.f(f"ix_onsite_visits_{column}"), "onsite_visits", [column])
    op.create_table(
        "part_requests",
        sa.Column("part_id", sa.String(length=100), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("part_number", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("warehouse", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_name", sa.String(length=200), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("part_id", name=op.f("pk_part_requests")),
    )
    for column in ("issue_id", "organisation_id", "warehouse", "state"):
        op.create_index(op.f(f"ix_part_requests_{column}"), "part_requests", [column])


def downgrade() -> None:
    for column in ("issue_id", "organisation_id", "warehouse", "state"):
        op.drop_index(op.f(f"ix_part_requests_{column}"), table_name="part_requests")
    op.drop_table("part_requests")
    for column in ("issue_id", "organisation_id", "engineer_id"):
        op.drop_index(op.f(f"ix_onsite_visits_{column}"), table_name="onsite_visits")
    op.drop_table("onsite_visits")
