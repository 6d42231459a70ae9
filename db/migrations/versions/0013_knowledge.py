"""The knowledge base: articles with their issues, audit trail, feedback, views and prompts,
and the full-text index (PostgreSQL: a tsvector column with a GIN index; SQLite: FTS5).

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-04 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("product_version", sa.String(length=200), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("workaround", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=True),
        sa.Column("source_issue_id", sa.String(length=64), nullable=True),
        sa.Column("defect_key", sa.String(length=64), nullable=True),
        sa.Column("fixed_in_version", sa.String(length=200), nullable=True),
        sa.Column("reuse_count", sa.Integer(), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("not_helpful_count", sa.Integer(), nullable=False),
        sa.Column("outdated_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "search_document",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint("source_issue_id", name=op.f("uq_knowledge_articles_source_issue_id")),
    )
    for column in ("product_id", "audience", "state", "owner_id", "defect_key", "updated_at"):
        op.create_index(
            op.f(f"ix_knowledge_articles_{column}"), "knowledge_articles", [column], unique=False
        )
    op.create_index(
        "ix_knowledge_articles_search_document",
        "knowledge_articles",
        ["search_document"],
        unique=False,
        postgresql_using="gin",
    )
    if not postgres:
        # Words arrive segmented (jieba for Chinese, Snowball stems for English), separated
        # by spaces: unicode61 only has to split on them.
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
            "article_id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2')"
        )
        # How many articles hold each term: common terms score but do not select.
        op.execute("CREATE VIRTUAL TABLE knowledge_fts_vocab USING fts5vocab(knowledge_fts, 'row')")

    op.create_table(
        "knowledge_article_issues",
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=False),
        sa.Column("link", sa.String(length=16), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_issues_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "issue_id", name=op.f("pk_knowledge_article_issues")),
    )
    op.create_index(
        op.f("ix_knowledge_article_issues_issue_id"),
        "knowledge_article_issues",
        ["issue_id"],
        unique=False,
    )
    op.create_table(
        "knowledge_article_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_audit_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_article_audit")),
    )
    op.create_index(
        op.f("ix_knowledge_article_audit_article_id"),
        "knowledge_article_audit",
        ["article_id"],
        unique=False,
    )
    op.create_table(
        "knowledge_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_feedback_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_feedback")),
    )
    op.create_index(
        op.f("ix_knowledge_feedback_article_id"), "knowledge_feedback", ["article_id"], unique=False
    )
    op.create_table(
        "knowledge_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=100), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_views_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_views")),
    )
    op.create_index(
        op.f("ix_knowledge_views_article_id"), "knowledge_views", ["article_id"], unique=False
    )
    op.create_index(
        op.f("ix_knowledge_views_session_id"), "knowledge_views", ["session_id"], unique=False
    )
    op.create_index(
        "ix_knowledge_views_viewer_at", "knowledge_views", ["viewer_id", "at"], unique=False
    )
    op.create_table(
        "knowledge_prompts",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("issue_id", sa.String(length=64), nullable=True),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("engineer_id", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_prompts")),
    )
    for column in ("issue_id", "article_id", "engineer_id"):
        op.create_index(
            op.f(f"ix_knowledge_prompts_{column}"), "knowledge_prompts", [column], unique=False
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("knowledge_prompts")
    op.drop_table("knowledge_views")
    op.drop_table("knowledge_feedback")
    op.drop_table("knowledge_article_audit")
    op.drop_table("knowledge_article_issues")
    if not postgres:
        op.execute("DROP TABLE IF EXISTS knowledge_fts_vocab")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_table("knowledge_articles")
