"""Initial schema: reference data, the issue projection, timeline, comments and delivery logs.

Generated with `alembic revision --autogenerate`, then reviewed: the teams <-> engineers cycle
is closed by adding teams.manager_id's foreign key once engineers exists.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:31:47.889432
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=128), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "issues",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("service_mode", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reporter_kind", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("previous_state", sa.String(length=32), nullable=True),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=True),
        sa.Column("tier1_owner_id", sa.String(length=64), nullable=True),
        sa.Column("contract_level", sa.String(length=16), nullable=True),
        sa.Column("warranty_status", sa.String(length=32), nullable=True),
        sa.Column("waiting_for", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_breached", sa.Boolean(), nullable=False),
        sa.Column("resolution_breached", sa.Boolean(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("auto_close_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopen_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_outcome", sa.String(length=16), nullable=True),
        sa.Column("resolution_summary", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
    )
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issues_breached"), ["breached"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_issues_next_deadline"), ["next_deadline"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_issues_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issues_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_tier"), ["tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_issues_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.String(length=100), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_issue_id"), ["issue_id"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_tier"), ["tier"], unique=False)

    op.create_table(
        "comments",
        sa.Column("comment_id", sa.String(length=100), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_comments_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_issue_id_at", ["issue_id", "at"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("warranty_end", sa.Date(), nullable=False),
        sa.Column("sla_overrides", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contracts_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contracts_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "engineers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("is_manager", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_engineers_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engineers")),
    )
    with op.batch_alter_table("engineers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_engineers_team_id"), ["team_id"], unique=False)
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_teams_manager_id_engineers"),
            "engineers",
            ["manager_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "issue_events",
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_issue_events_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_id", "seq", name=op.f("pk_issue_events")),
    )
    op.create_table(
        "team_products",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_team_products_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_products_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "product_id", name=op.f("pk_team_products")),
    )
    with op.batch_alter_table("team_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_products_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=True),
        sa.Column("engineer_id", sa.String(length=64), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_api_tokens_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_api_tokens_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_engineer_id"), ["engineer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_api_tokens_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_engineer_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("team_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_products_product_id"))

    op.drop_table("team_products")
    op.drop_table("issue_events")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_teams_manager_id_engineers"), type_="foreignkey")
    with op.batch_alter_table("engineers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engineers_team_id"))

    op.drop_table("engineers")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_organisation_id"))

    op.drop_table("contracts")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_issue_id_at")

    op.drop_table("comments")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_tier"))

    op.drop_table("teams")
    op.drop_table("products")
    op.drop_table("organisations")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_issue_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issues_updated_at"))
        batch_op.drop_index(batch_op.f("ix_issues_tier"))
        batch_op.drop_index(batch_op.f("ix_issues_state"))
        batch_op.drop_index(batch_op.f("ix_issues_severity"))
        batch_op.drop_index(batch_op.f("ix_issues_product_id"))
        batch_op.drop_index(batch_op.f("ix_issues_owner_id"))
        batch_op.drop_index(batch_op.f("ix_issues_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_issues_next_deadline"))
        batch_op.drop_index(batch_op.f("ix_issues_created_at"))
        batch_op.drop_index(batch_op.f("ix_issues_breached"))

    op.drop_table("issues")
    op.drop_table("idempotency_keys")
