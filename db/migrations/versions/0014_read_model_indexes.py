"""A read model that stays flat as issues accumulate: indexes that end with the id for every
list order, `soonest_deadline` for staff's at-risk list, and the issues' full-text index
(PostgreSQL: `issues.search_document`, a tsvector under GIN; SQLite: FTS5 `issues_fts`).

Existing issues are backfilled here: their soonest deadline from the two deadlines, their
words from the title and the description (the same segmentation as new issues).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from db.repositories.issue_search import SQLITE_INDEX_STATEMENT, indexed_words

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, columns) of the indexes this revision adds, and the single-column ones they replace.
_INDEXES = (
    ("ix_issues_created_at_id", ["created_at", "id"]),
    ("ix_issues_updated_at_id", ["updated_at", "id"]),
    ("ix_issues_organisation_id_created_at_id", ["organisation_id", "created_at", "id"]),
    ("ix_issues_state_created_at_id", ["state", "created_at", "id"]),
    ("ix_issues_state_updated_at_id", ["state", "updated_at", "id"]),
    ("ix_issues_at_risk_created_at_id", ["sla_at_risk", "breached", "created_at", "id"]),
    ("ix_issues_next_deadline_id", ["next_deadline", "id"]),
    ("ix_issues_soonest_deadline_id", ["soonest_deadline", "id"]),
)
_REPLACED = ("created_at", "updated_at", "organisation_id", "state", "next_deadline")
_BATCH = 1000


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "issues", sa.Column("soonest_deadline", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "issues",
        sa.Column(
            "search_document",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=False,
            server_default=sa.text("''"),
        ),
    )
    op.execute(
        "UPDATE issues SET soonest_deadline = CASE "
        "WHEN state IN ('closed', 'cancelled') THEN NULL "
        "WHEN next_deadline IS NULL THEN ola_next_deadline "
        "WHEN ola_next_deadline IS NULL THEN next_deadline "
        "WHEN ola_next_deadline < next_deadline THEN ola_next_deadline "
        "ELSE next_deadline END"
    )
    for column in _REPLACED:
        op.drop_index(f"ix_issues_{column}", table_name="issues")
    for name, columns in _INDEXES:
        op.create_index(name, "issues", columns, unique=False)
    if not postgres:
        # Words arrive segmented (jieba for Chinese, Snowball stems for English), separated
        # by spaces: unicode61 only has to split on them.
        op.execute(
            "CREATE VIRTUAL TABLE issues_fts USING fts5("
            "issue_id UNINDEXED, words, tokenize = 'unicode61 remove_diacritics 2')"
        )
    _backfill_words(postgres)
    op.create_index(
        "ix_issues_search_document",
        "issues",
        ["search_document"],
        unique=False,
        postgresql_using="gin",
    )


def _backfill_words(postgres: bool) -> None:
    """Index the issues recorded before this revision, a batch at a time (by id)."""
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, title, description FROM issues WHERE id > :after ORDER BY id LIMIT :n"
            ),
            {"after": after, "n": _BATCH},
        ).all()
        if not rows:
            return
        documents = [
            {"issue_id": row[0], "words": indexed_words(f"{row[1]}\n{row[2]}")} for row in rows
        ]
        if postgres:
            statement = "UPDATE issues SET search_document = to_tsvector('simple', :words) "
            statement += "WHERE id = :issue_id"
        else:
            statement = SQLITE_INDEX_STATEMENT
        connection.execute(sa.text(statement), documents)
        after = rows[-1][0]


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_issues_search_document", table_name="issues")
    if not postgres:
        op.execute("DROP TABLE IF EXISTS issues_fts")
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="issues")
    for column in _REPLACED:
        op.create_index(f"ix_issues_{column}", "issues", [column], unique=False)
    op.drop_column("issues", "search_document")
    op.drop_column("issues", "soonest_deadline")
