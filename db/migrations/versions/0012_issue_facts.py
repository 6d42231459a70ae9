"""The statistics projection: one row of facts per issue (issue_facts).

Written with each recorded batch from then on; issues recorded before this revision get
their row from `POST /stats/recompute` (an admin), which rebuilds every row from the events.

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-04 03:50:54.269760
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issue_facts",
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("contract_level", sa.String(length=16), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("engineer_id", sa.String(length=64), nullable=True),
        sa.Column("first_owner_id", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("calendar", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_wall", sa.Integer(), nullable=True),
        sa.Column("response_business", sa.Integer(), nullable=True),
        sa.Column("resolution_wall", sa.Integer(), nullable=True),
        sa.Column("resolution_business", sa.Integer(), nullable=True),
        sa.Column("first_response_sla", sa.String(length=16), nullable=True),
        sa.Column("resolution_sla", sa.String(length=16), nullable=True),
        sa.Column("ola_tier_1", sa.String(length=16), nullable=True),
        sa.Column("ola_tier_2", sa.String(length=16), nullable=True),
        sa.Column("ola_tier_3", sa.String(length=16), nullable=True),
        sa.Column("time_tier_1", sa.Integer(), nullable=False),
        sa.Column("time_tier_2", sa.Integer(), nullable=False),
        sa.Column("time_tier_3", sa.Integer(), nullable=False),
        sa.Column("waiting_customer", sa.Integer(), nullable=False),
        sa.Column("waiting_rnd", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.Column("first_contact_resolution", sa.Boolean(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("defect_key", sa.String(length=64), nullable=True),
        sa.Column("defect_created", sa.Boolean(), nullable=False),
        sa.Column("defect_linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rnd_escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("defect_fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_to_fix", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_issue_facts_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_facts")),
    )
    with op.batch_alter_table("issue_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issue_facts_cancelled_at"), ["cancelled_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issue_facts_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_issue_facts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_issue_facts_defect_fixed_at"), ["defect_fixed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issue_facts_defect_linked_at"), ["defect_linked_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issue_facts_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_issue_facts_engineer_id"), ["engineer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issue_facts_first_response_at"), ["first_response_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issue_facts_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issue_facts_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_facts_team_id"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_first_response_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_engineer_id"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_ended_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_defect_linked_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_defect_fixed_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_created_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_closed_at"))
        batch_op.drop_index(batch_op.f("ix_issue_facts_cancelled_at"))

    op.drop_table("issue_facts")
