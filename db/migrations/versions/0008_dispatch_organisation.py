"""Tiered dispatch data: team routing attributes, engineer presence/capacity/skills,
team memberships, several managers per team, routing rules and per-tier defaults,
round-robin cursors, the owner choices keyed by activity identity, organisation
region/language and the issue's team.

Existing engineers become members of their team (engineers.team_id stays their primary
team); existing rows get the defaults (available, capacity 10, least loaded, load counting
running SLA clocks only). Issues recorded before keep team_id NULL until their next step.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("region", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("regions", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("calendar_name", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column(
                "strategy", sa.String(length=32), nullable=False, server_default="least_loaded"
            )
        )
        batch.add_column(sa.Column("offer_timeout_minutes", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "load_counts_running_only", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch.create_foreign_key(
            batch.f("fk_teams_calendar_name_business_calendars"),
            "business_calendars",
            ["calendar_name"],
            ["name"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("engineers") as batch:
        batch.add_column(
            sa.Column("presence", sa.String(length=16), nullable=False, server_default="available")
        )
        batch.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default="10"))
        batch.add_column(sa.Column("skills", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("region", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("substitute_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_engineers_substitute_id_engineers"),
            "engineers",
            ["substitute_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("team_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_issues_team_id"), ["team_id"], unique=False)
        batch.create_index(
            "ix_issues_owner_id_state", ["owner_id", "state", "sla_paused"], unique=False
        )

    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("engineer_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_team_members_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "engineer_id", name=op.f("pk_team_members")),
    )
    op.create_index(
        op.f("ix_team_members_engineer_id"), "team_members", ["engineer_id"], unique=False
    )
    op.execute("INSERT INTO team_members (team_id, engineer_id) SELECT team_id, id FROM engineers")

    op.create_table(
        "team_managers",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("engineer_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_team_managers_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_managers_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "engineer_id", name=op.f("pk_team_managers")),
    )
    op.create_index(
        op.f("ix_team_managers_engineer_id"), "team_managers", ["engineer_id"], unique=False
    )
    op.execute(
        "INSERT INTO team_managers (team_id, engineer_id) "
        "SELECT id, manager_id FROM teams WHERE manager_id IS NOT NULL"
    )

    op.create_table(
        "routing_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    op.create_index(op.f("ix_routing_rules_position"), "routing_rules", ["position"], unique=False)
    op.create_table(
        "routing_defaults",
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_routing_defaults_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_routing_defaults")),
    )
    op.create_table(
        "round_robin_cursors",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("last_engineer_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_round_robin_cursors_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_round_robin_cursors")),
    )
    op.create_table(
        "owner_choices",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_owner_choices")),
    )
    op.create_index(op.f("ix_owner_choices_issue_id"), "owner_choices", ["issue_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_owner_choices_issue_id"), table_name="owner_choices")
    op.drop_table("owner_choices")
    op.drop_table("round_robin_cursors")
    op.drop_table("routing_defaults")
    op.drop_index(op.f("ix_routing_rules_position"), table_name="routing_rules")
    op.drop_table("routing_rules")
    op.drop_index(op.f("ix_team_managers_engineer_id"), table_name="team_managers")
    op.drop_table("team_managers")
    op.drop_index(op.f("ix_team_members_engineer_id"), table_name="team_members")
    op.drop_table("team_members")
    with op.batch_alter_table("issues") as batch:
        batch.drop_index("ix_issues_owner_id_state")
        batch.drop_index(batch.f("ix_issues_team_id"))
        batch.drop_column("team_id")
    with op.batch_alter_table("engineers") as batch:
        batch.drop_constraint(batch.f("fk_engineers_substitute_id_engineers"), type_="foreignkey")
        for column in ("substitute_id", "region", "languages", "skills", "capacity", "presence"):
            batch.drop_column(column)
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint(
            batch.f("fk_teams_calendar_name_business_calendars"), type_="foreignkey"
        )
        for column in (
            "load_counts_running_only",
            "offer_timeout_minutes",
            "strategy",
            "calendar_name",
            "languages",
            "regions",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("language")
        batch.drop_column("region")
