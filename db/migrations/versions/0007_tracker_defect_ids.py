"""The tracker's immutable defect id per linked issue (tracker_defect_links).

Written by the create/link-defect activities; the webhook and the poll match defects by this
id first, because a moved Jira issue changes its key and a rebuilt Jira reuses keys. Issues
linked before this revision have no row and keep matching by key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracker_defect_links",
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("defect_key", sa.String(length=64), nullable=False),
        sa.Column("defect_id", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_tracker_defect_links")),
    )
    op.create_index(
        op.f("ix_tracker_defect_links_defect_id"),
        "tracker_defect_links",
        ["defect_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tracker_defect_links_defect_id"), table_name="tracker_defect_links")
    op.drop_table("tracker_defect_links")
