"""The knowledge base's storage: articles and their audit trail, issue links, feedback, views,
prompts, and full-text search behind one interface for SQLite (FTS5) and PostgreSQL
(tsvector + GIN).

Both backends index the same words, made by `domain.knowledge.search_terms` (Snowball stems
for English, jieba segments for Chinese), so a query ranks alike on either. Also the solve
and evolve loops' reactions to what an issue workflow records (`react_to_batch`), run in
the record activity's transaction.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    SQLITE_SEARCH_TABLE,
    ArticleAuditRow,
    ArticleFeedbackRow,
    ArticleIssueRow,
    ArticleRow,
    ArticleViewRow,
    IssueRow,
    KnowledgePromptRow,
    ProductRow,
    TokenRow,
)
from db.repositories._dialect import dialect_name, insert_if_absent
from domain.enums import ActorKind, Category, EventKind, Tier
from domain.knowledge import (
    ArticleKind,
    ArticleLinkKind,
    ArticleState,
    Audience,
    PromptKind,
    query_terms,
    search_terms,
)
from domain.models import Actor, RecordBatch, TimelineEvent
from domain.redaction import redact

ARTICLES = cast(sa.Table, ArticleRow.__table__)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="knowledge", name="Knowledge base")
MAX_RESULTS = 100
# Fields a person edits; each change is written to the audit trail with its old value.
EDITABLE_FIELDS = (
    "title",
    "problem",
    "environment",
    "product_id",
    "product_version",
    "cause",
    "resolution",
    "workaround",
    "kind",
    "category",
    "tags",
    "audience",
    "defect_key",
    "fixed_in_version",
)


def new_article_id() -> str:
    return f"kb-{uuid.uuid4().hex[:12]}"


def draft_id_for(issue_id: str) -> str:
    """The automatic draft of an issue has a fixed id, so a retried record writes it once."""
    return f"kb-{issue_id}"


class SearchFilters(BaseModel):
    """Restrictions on a search; every given criterion must hold (empty means "any")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str | None = None
    # Articles for this version or for no particular version.
    product_version: str | None = None
    category: Category | None = None
    audiences: tuple[Audience, ...] = ()
    states: tuple[ArticleState, ...] = ()
    kinds: tuple[ArticleKind, ...] = ()
    exclude_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    article: ArticleRow
    score: float


def _title_words(row: ArticleRow) -> str:
    return " ".join(search_terms(f"{row.title} {' '.join(row.tags or [])}"))


def _body_words(row: ArticleRow) -> str:
    text = " ".join(
        [
            row.problem,
            row.environment,
            row.cause,
            row.resolution,
            row.workaround,
            row.product_id or "",
            row.product_version or "",
            row.defect_key or "",
        ]
    )
    return " ".join(search_terms(text))


def _filtered(query: sa.Select[Any], filters: SearchFilters) -> sa.Select[Any]:
    if filters.product_id is not None:
        query = query.where(ArticleRow.product_id == filters.product_id)
    if filters.product_version is not None:
        query = query.where(
            sa.or_(
                ArticleRow.product_version.is_(None),
                ArticleRow.product_version == filters.product_version,
            )
        )
    if filters.category is not None:
        query = query.where(ArticleRow.category == filters.category)
    if filters.audiences:
        query = query.where(ArticleRow.audience.in_(filters.audiences))
    if filters.states:
        query = query.where(ArticleRow.state.in_(filters.states))
    if filters.kinds:
        query = query.where(ArticleRow.kind.in_(filters.kinds))
    if filters.exclude_ids:
        query = query.where(ArticleRow.id.not_in(filters.exclude_ids))
    return query


class SearchIndex(Protocol):
    """Full-text index of the articles; one implementation per database dialect."""

    async def index(self, session: AsyncSession, row: ArticleRow) -> None: ...

    async def index_many(self, session: AsyncSession, rows: Sequence[ArticleRow]) -> None:
        """Index articles just inserted in bulk (never indexed before): imports, benchmarks."""
        ...

    async def search(
        self, session: AsyncSession, terms: Sequence[str], filters: SearchFilters, limit: int
    ) -> list[tuple[str, float]]: ...


COMMON_TERM_SHARE = 0.02
SELECTIVE_ARTICLES = 1000
"""A term in more than this share of the articles, and in more than SELECTIVE_ARTICLES of
them, does not select candidates on its own: what one query ranks stays bounded."""


def selective_terms(
    terms: Sequence[str], shares: dict[str, float], total: float
) -> tuple[list[str], bool]:
    """The terms that pick the candidate articles, and whether all of them must match.

    An OR of every term would make a query containing "router" rank every router article,
    a cost that grows with the knowledge base. Common terms (see COMMON_TERM_SHARE) only
    score, they do not select; a query of common terms only needs them all.
    When that finds fewer articles than asked for, the search runs again on every term
    (then few articles match, so it is cheap).
    """
    limit = max(COMMON_TERM_SHARE, SELECTIVE_ARTICLES / total) if total > 0 else 1.0
    selective = [t for t in terms if shares.get(t, 0.0) <= limit]
    if selective:
        return selective, False
    return list(terms), True


TITLE_WEIGHT = 3.0
"""How much more a word in the title counts than one in the body (BM25 column weight)."""
SMALL_INDEX = 20_000
"""Below this many articles, ranking on every word of a query is cheap."""


def fallback(
    terms: Sequence[str],
    selective: Sequence[str],
    require_all: bool,
    total: float,
    found: int,
    limit: int,
) -> bool | None:
    """When the selective words found fewer articles than asked for, search again on every
    word: any of them in a small index; all of them (cheaper: an intersection) in a large
    one. The answer is whether the retry requires all words, or None for no retry."""
    if found >= limit or (not require_all and len(selective) == len(terms)):
        return None
    if total <= SMALL_INDEX:
        return False
    return None if require_all else True


def merged(
    first: list[tuple[str, float]], second: list[tuple[str, float]], limit: int
) -> list[tuple[str, float]]:
    """The first search's articles, then the retry's others (their scores differ in scale)."""
    seen = {article_id for article_id, _ in first}
    return (first + [hit for hit in second if hit[0] not in seen])[:limit]


class SqliteSearchIndex:
    """FTS5 with BM25 ranking; the title column weighs three times the body."""

    async def index(self, session: AsyncSession, row: ArticleRow) -> None:
        await session.execute(
            sa.text(f"DELETE FROM {SQLITE_SEARCH_TABLE} WHERE article_id = :id"), {"id": row.id}
        )
        await session.execute(
            sa.text(
                f"INSERT INTO {SQLITE_SEARCH_TABLE} (article_id, title, body) "
                "VALUES (:id, :title, :body)"
            ),
            {"id": row.id, "title": _title_words(row), "body": _body_words(row)},
        )

    async def index_many(self, session: AsyncSession, rows: Sequence[ArticleRow]) -> None:
        await session.execute(
            sa.text(
                f"INSERT INTO {SQLITE_SEARCH_TABLE} (article_id, title, body) "
                "VALUES (:id, :title, :body)"
            ),
            [{"id": r.id, "title": _title_words(r), "body": _body_words(r)} for r in rows],
        )

    async def document_frequencies(
        self, session: AsyncSession, terms: Sequence[str]
    ) -> tuple[dict[str, float], float]:
        """Share of articles holding each term, from FTS5's own vocabulary table, and the
        number of articles (the highest rowid: deleted ones count, close enough)."""
        total = await session.scalar(sa.text(f"SELECT max(rowid) FROM {SQLITE_SEARCH_TABLE}"))
        if not total:
            return {}, 0.0
        vocabulary = sa.table(f"{SQLITE_SEARCH_TABLE}_vocab", sa.column("term"), sa.column("doc"))
        counts = await session.execute(
            sa.select(vocabulary.c.term, vocabulary.c.doc).where(vocabulary.c.term.in_(list(terms)))
        )
        return {str(t): float(d) / float(total) for t, d in counts.all()}, float(total)

    async def search(
        self, session: AsyncSession, terms: Sequence[str], filters: SearchFilters, limit: int
    ) -> list[tuple[str, float]]:
        """BM25 over the query's selective terms (see `selective_terms`)."""
        shares, total = await self.document_frequencies(session, terms)
        selective, require_all = selective_terms(terms, shares, total)
        found = await self._ranked(session, selective, require_all, filters, limit)
        retry = fallback(terms, selective, require_all, total, len(found), limit)
        if retry is not None:
            more = await self._ranked(session, terms, retry, filters, limit)
            found = merged(found, more, limit)
        return found

    async def _ranked(
        self,
        session: AsyncSession,
        selective: Sequence[str],
        require_all: bool,
        filters: SearchFilters,
        limit: int,
    ) -> list[tuple[str, float]]:
        # Every term quoted (a phrase of one word): no query syntax reaches FTS5 from users.
        joiner = " AND " if require_all else " OR "
        expression = joiner.join('"' + term.replace('"', '""') + '"' for term in selective)
        fts = sa.table(SQLITE_SEARCH_TABLE, sa.column("article_id"))
        # bm25() is lower for better matches; negate it so that higher is better everywhere.
        # One weight per column, the unindexed article_id included (it never matches).
        fts_table: sa.ColumnClause[Any] = sa.literal_column(SQLITE_SEARCH_TABLE)
        score = (-sa.func.bm25(fts_table, 0.0, TITLE_WEIGHT, 1.0)).label("score")
        query = (
            sa.select(ArticleRow.id, score)
            .select_from(fts)
            .join(ArticleRow, ArticleRow.id == fts.c.article_id)
            .where(sa.literal_column(SQLITE_SEARCH_TABLE).op("MATCH")(expression))
        )
        query = _filtered(query, filters).order_by(sa.desc("score"), ArticleRow.id).limit(limit)
        return [(str(i), float(s)) for i, s in (await session.execute(query)).all()]


class PostgresSearchIndex:
    """A weighted tsvector (title A, body B) under a GIN index.

    The words are already segmented and stemmed, so the `simple` configuration only splits
    them on spaces; a query is the OR of its selective terms, so a paraphrase sharing a few
    words still matches.
    """

    async def document_frequencies(
        self, session: AsyncSession, terms: Sequence[str]
    ) -> tuple[dict[str, float], float]:
        """Share of articles holding each frequent term, from the planner's statistics of
        the tsvector column (ANALYZE, run by autovacuum; rarer terms are absent), and the
        planner's estimate of the number of articles."""
        total = await session.scalar(
            sa.text("SELECT reltuples FROM pg_class WHERE oid = 'knowledge_articles'::regclass")
        )
        row = (
            await session.execute(
                sa.text(
                    "SELECT most_common_elems::text::text[], most_common_elem_freqs "
                    "FROM pg_stats WHERE tablename = 'knowledge_articles' "
                    "AND attname = 'search_document' AND schemaname = current_schema()"
                )
            )
        ).first()
        if row is None or row[0] is None or not total or total < 0:
            return {}, 0.0
        wanted = set(terms)
        shares = {
            str(term): float(share)
            for term, share in zip(row[0], row[1], strict=False)
            if term in wanted
        }
        return shares, float(total)

    @staticmethod
    def _vector(title_words: Any, body_words: Any) -> Any:
        title = sa.func.setweight(
            sa.func.to_tsvector("simple", title_words), sa.literal_column("'A'")
        )
        body = sa.func.setweight(
            sa.func.to_tsvector("simple", body_words), sa.literal_column("'B'")
        )
        return title.op("||")(body)

    async def index(self, session: AsyncSession, row: ArticleRow) -> None:
        vector = self._vector(_title_words(row), _body_words(row))
        await session.execute(
            sa.update(ArticleRow).where(ArticleRow.id == row.id).values(search_document=vector)
        )

    async def index_many(self, session: AsyncSession, rows: Sequence[ArticleRow]) -> None:
        statement = (
            sa.update(ARTICLES)
            .where(ARTICLES.c.id == sa.bindparam("article_id"))
            .values(
                search_document=self._vector(
                    sa.bindparam("title_words", type_=sa.Text()),
                    sa.bindparam("body_words", type_=sa.Text()),
                )
            )
        )
        await session.execute(
            statement,
            [
                {"article_id": r.id, "title_words": _title_words(r), "body_words": _body_words(r)}
                for r in rows
            ],
        )

    async def search(
        self, session: AsyncSession, terms: Sequence[str], filters: SearchFilters, limit: int
    ) -> list[tuple[str, float]]:
        """BM25-like: each term's ts_rank (title A, body B; frequency saturates) weighted by
        its inverse document frequency among the matching articles, which ts_rank alone
        lacks (a word every article shares would count as much as a rare one)."""
        shares, total = await self.document_frequencies(session, terms)
        selective, require_all = selective_terms(terms, shares, total)
        found = await self._ranked(session, terms, selective, require_all, filters, limit)
        retry = fallback(terms, selective, require_all, total, len(found), limit)
        if retry is not None:
            more = await self._ranked(session, terms, terms, retry, filters, limit)
            found = merged(found, more, limit)
        return found

    async def _ranked(
        self,
        session: AsyncSession,
        terms: Sequence[str],
        selective: Sequence[str],
        require_all: bool,
        filters: SearchFilters,
        limit: int,
    ) -> list[tuple[str, float]]:
        # plainto_tsquery quotes each term (no tsquery syntax from users); the queries are
        # built once (a one-row CTE), not per row, then ORed (||) to find the matches.
        words = sa.select(
            *[
                sa.func.plainto_tsquery("simple", term).label(f"q{i}")
                for i, term in enumerate(terms)
            ]
        ).cte("words")
        parts = [words.c[f"q{i}"] for i in range(len(terms))]
        chosen = [parts[i] for i, term in enumerate(terms) if term in selective]
        tsquery: Any = chosen[0]
        for part in chosen[1:]:
            tsquery = tsquery.op("&&" if require_all else "||")(part)
        document = ArticleRow.search_document
        candidates: sa.Select[Any] = (
            sa.select(ArticleRow.id, document.label("document"), *parts)
            .select_from(ArticleRow.__table__.join(words, sa.true()))
            .where(document.op("@@")(tsquery))
        )
        matches = _filtered(candidates, filters).cte("matches")
        matched = [matches.c[f"q{i}"] for i in range(len(terms))]
        counts = sa.select(
            sa.func.count().label("n"),
            *[
                sa.func.count().filter(matches.c.document.op("@@")(part)).label(f"d{i}")
                for i, part in enumerate(matched)
            ],
        ).cte("counts")
        score: Any = sa.literal(0.0)
        n = sa.cast(counts.c.n, sa.Float)
        for i, part in enumerate(matched):
            df = sa.cast(counts.c[f"d{i}"], sa.Float)
            idf = sa.func.ln(1.0 + (n - df + 0.5) / (df + 0.5))
            score = score + idf * sa.func.ts_rank(matches.c.document, part)
        query = (
            sa.select(matches.c.id, score.label("score"))
            .select_from(matches.join(counts, sa.true()))
            .order_by(sa.desc("score"), matches.c.id)
            .limit(limit)
        )
        return [(str(i), float(s)) for i, s in (await session.execute(query)).all()]


def search_index(session: AsyncSession) -> SearchIndex:
    """The index implementation for the session's database."""
    if dialect_name(session) == "postgresql":
        return PostgresSearchIndex()
    return SqliteSearchIndex()


async def search(
    session: AsyncSession, text: str, filters: SearchFilters, limit: int = 10
) -> list[SearchHit]:
    """Articles matching the text, best first; nothing for a text without search terms."""
    if not 1 <= limit <= MAX_RESULTS:
        raise ValueError(f"limit must be between 1 and {MAX_RESULTS}")
    terms = query_terms(text)
    if not terms:
        return []
    ranked = await search_index(session).search(session, terms, filters, limit)
    if not ranked:
        return []
    rows = {
        row.id: row
        for row in await session.scalars(
            sa.select(ArticleRow).where(ArticleRow.id.in_([i for i, _ in ranked]))
        )
    }
    return [SearchHit(rows[i], score) for i, score in ranked if i in rows]


# --- articles and their audit trail -----------------------------------------------------------


async def _audit(
    session: AsyncSession,
    article_id: str,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    from_state: ArticleState | None = None,
    to_state: ArticleState | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    session.add(
        ArticleAuditRow(
            article_id=article_id,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            action=action,
            from_state=from_state,
            to_state=to_state,
            changes=changes or {},
        )
    )


async def create_article(
    session: AsyncSession, values: dict[str, Any], actor: Actor, at: datetime
) -> ArticleRow:
    """A new article (its state given in values, normally draft), audited and indexed."""
    row = ArticleRow(
        **{
            "id": new_article_id(),
            "environment": "",
            "cause": "",
            "resolution": "",
            "workaround": "",
            "tags": [],
            "reuse_count": 0,
            "helpful_count": 0,
            "not_helpful_count": 0,
            "outdated_count": 0,
            "revision": 1,
            "search_document": "",
            **values,
            "created_at": at,
            "updated_at": at,
        }
    )
    session.add(row)
    await session.flush()
    await _audit(session, row.id, actor, "created", at, to_state=row.state)
    await search_index(session).index(session, row)
    return row


async def import_articles(session: AsyncSession, rows: Sequence[ArticleRow]) -> None:
    """Insert many new articles at once and index them (no audit entries: an import is not a
    person's edit). Ids must be new."""
    await session.execute(
        sa.insert(ARTICLES),
        [{c.name: getattr(r, c.key) for c in ARTICLES.columns} for r in rows],
    )
    await search_index(session).index_many(session, rows)


async def insert_draft_if_absent(
    session: AsyncSession, values: dict[str, Any], actor: Actor, at: datetime
) -> bool:
    """The automatic draft of an issue, written once however often the record is retried."""
    row_values = {
        "environment": "",
        "cause": "",
        "resolution": "",
        "workaround": "",
        "tags": [],
        "reuse_count": 0,
        "helpful_count": 0,
        "not_helpful_count": 0,
        "outdated_count": 0,
        "revision": 1,
        "search_document": "",
        "state": ArticleState.DRAFT,
        **values,
        "created_at": at,
        "updated_at": at,
    }
    added = await insert_if_absent(session, ArticleRow, row_values, [ArticleRow.id])
    if not added:
        return False
    row = await get_article(session, str(values["id"]))
    assert row is not None
    await _audit(session, row.id, actor, "created", at, to_state=row.state)
    await search_index(session).index(session, row)
    return True


async def get_article(session: AsyncSession, article_id: str) -> ArticleRow | None:
    return await session.get(ArticleRow, article_id, populate_existing=True)


async def update_article(
    session: AsyncSession, row: ArticleRow, changes: dict[str, Any], actor: Actor, at: datetime
) -> dict[str, Any]:
    """Apply the changes that differ, audit them (old and new value), reindex; returns them."""
    applied: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in EDITABLE_FIELDS:
            raise ValueError(f"{field} is not an editable article field")
        old = getattr(row, field)
        if old != value:
            applied[field] = {"from": old, "to": value}
            setattr(row, field, value)
    if not applied:
        return {}
    row.revision += 1
    row.updated_at = at
    await session.flush()
    await _audit(session, row.id, actor, "edited", at, changes=applied)
    await search_index(session).index(session, row)
    return applied


async def set_state(
    session: AsyncSession, row: ArticleRow, target: ArticleState, actor: Actor, at: datetime
) -> None:
    """Move the article (the caller checked the rule) and write who did it."""
    previous = row.state
    row.state = target
    row.revision += 1
    row.updated_at = at
    await session.flush()
    await _audit(session, row.id, actor, "state_changed", at, from_state=previous, to_state=target)


async def audit_trail(session: AsyncSession, article_id: str) -> list[ArticleAuditRow]:
    query = (
        sa.select(ArticleAuditRow)
        .where(ArticleAuditRow.article_id == article_id)
        .order_by(ArticleAuditRow.id)
    )
    return list(await session.scalars(query))


async def list_articles(
    session: AsyncSession, filters: SearchFilters, limit: int = 50
) -> list[ArticleRow]:
    """Most recently changed first (the workspace's knowledge list)."""
    query = _filtered(sa.select(ArticleRow), filters)
    query = query.order_by(ArticleRow.updated_at.desc(), ArticleRow.id).limit(limit)
    return list(await session.scalars(query))


# --- use: links, feedback, views ----------------------------------------------------------------


async def link_issue(
    session: AsyncSession,
    article_id: str,
    issue_id: str,
    link: ArticleLinkKind,
    by: str,
    at: datetime,
) -> bool:
    """Link an issue to an article once; a new "solved with" link counts as a reuse."""
    added = await insert_if_absent(
        session,
        ArticleIssueRow,
        {
            "article_id": article_id,
            "issue_id": issue_id,
            "link": link,
            "linked_by": by,
            "linked_at": at,
        },
        [ArticleIssueRow.article_id, ArticleIssueRow.issue_id],
    )
    if added and link == ArticleLinkKind.SOLVED_WITH:
        await session.execute(
            sa.update(ArticleRow)
            .where(ArticleRow.id == article_id)
            .values(reuse_count=ArticleRow.reuse_count + 1, last_used_at=at)
        )
    return bool(added)


async def linked_issue_ids(
    session: AsyncSession, article_ids: Iterable[str]
) -> dict[str, list[str]]:
    """The issues linked to each article."""
    ids = list(article_ids)
    if not ids:
        return {}
    query = (
        sa.select(ArticleIssueRow.article_id, ArticleIssueRow.issue_id)
        .where(ArticleIssueRow.article_id.in_(ids))
        .order_by(ArticleIssueRow.linked_at, ArticleIssueRow.issue_id)
    )
    linked: dict[str, list[str]] = {i: [] for i in ids}
    for article_id, issue_id in (await session.execute(query)).all():
        linked[article_id].append(issue_id)
    return linked


async def articles_of_issue(session: AsyncSession, issue_id: str) -> list[ArticleRow]:
    query = (
        sa.select(ArticleRow)
        .join(ArticleIssueRow, ArticleIssueRow.article_id == ArticleRow.id)
        .where(ArticleIssueRow.issue_id == issue_id)
        .order_by(ArticleIssueRow.linked_at)
    )
    return list(await session.scalars(query))


async def add_feedback(
    session: AsyncSession,
    article_id: str,
    actor_id: str,
    helpful: bool | None,
    outdated: bool,
    comment: str,
    at: datetime,
) -> None:
    session.add(
        ArticleFeedbackRow(
            article_id=article_id,
            at=at,
            actor_id=actor_id,
            helpful=helpful,
            outdated=outdated,
            comment=comment,
        )
    )
    values: dict[str, Any] = {}
    if helpful is True:
        values["helpful_count"] = ArticleRow.helpful_count + 1
        values["last_used_at"] = at
    elif helpful is False:
        values["not_helpful_count"] = ArticleRow.not_helpful_count + 1
    if outdated:
        values["outdated_count"] = ArticleRow.outdated_count + 1
    if values:
        await session.execute(
            sa.update(ArticleRow).where(ArticleRow.id == article_id).values(**values)
        )


async def record_view(
    session: AsyncSession,
    article_id: str,
    session_id: str,
    viewer_id: str,
    organisation_id: str | None,
    at: datetime,
) -> None:
    session.add(
        ArticleViewRow(
            article_id=article_id,
            session_id=session_id,
            viewer_id=viewer_id,
            organisation_id=organisation_id,
            at=at,
        )
    )
    await session.execute(
        sa.update(ArticleRow).where(ArticleRow.id == article_id).values(last_used_at=at)
    )


@dataclass(frozen=True)
class DeflectionCount:
    sessions_with_views: int
    deflected: int


async def count_deflections(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    window: timedelta,
    organisation_id: str | None = None,
) -> DeflectionCount:
    """Client sessions that opened an article in [since, until) and submitted no issue within
    `window` of their first view. The session's issues are the viewer's (an issue's
    reporter_id is the viewer's actor id), so nothing on the issue path has to know about
    sessions. Sessions whose window has not ended yet are not counted either way."""
    first_view = (
        sa.select(
            ArticleViewRow.session_id,
            ArticleViewRow.viewer_id,
            sa.func.min(ArticleViewRow.at).label("first_at"),
        )
        .where(ArticleViewRow.at >= since, ArticleViewRow.at < until)
        .group_by(ArticleViewRow.session_id, ArticleViewRow.viewer_id)
    )
    if organisation_id is not None:
        first_view = first_view.where(ArticleViewRow.organisation_id == organisation_id)
    rows = (await session.execute(first_view)).all()
    now = until
    finished = [(s, v, at) for s, v, at in rows if _aware(at) + window <= now]
    deflected = 0
    for _session_id, viewer_id, first_at in finished:
        start = _aware(first_at)
        submitted = await session.scalar(
            sa.select(sa.func.count())
            .select_from(IssueRow)
            .where(
                IssueRow.reporter_id == viewer_id,
                IssueRow.created_at >= start,
                IssueRow.created_at <= start + window,
            )
        )
        if not submitted:
            deflected += 1
    return DeflectionCount(sessions_with_views=len(finished), deflected=deflected)


def _aware(moment: datetime | str) -> datetime:
    """SQLite's aggregate min() comes back as text, through no TypeDecorator."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- prompts --------------------------------------------------------------------------------------


async def add_prompt(
    session: AsyncSession,
    prompt_id: str,
    kind: PromptKind,
    message: str,
    at: datetime,
    *,
    issue_id: str | None = None,
    article_id: str | None = None,
    engineer_id: str | None = None,
) -> bool:
    """Ask once: the id names the occasion (an issue's event, an article's defect, ...)."""
    added = await insert_if_absent(
        session,
        KnowledgePromptRow,
        {
            "id": prompt_id,
            "kind": kind,
            "issue_id": issue_id,
            "article_id": article_id,
            "engineer_id": engineer_id,
            "message": message,
            "created_at": at,
        },
        [KnowledgePromptRow.id],
    )
    return bool(added)


async def list_prompts(
    session: AsyncSession,
    *,
    engineer_id: str | None = None,
    issue_id: str | None = None,
    open_only: bool = True,
    limit: int = 100,
) -> list[KnowledgePromptRow]:
    query = sa.select(KnowledgePromptRow)
    if engineer_id is not None:
        query = query.where(KnowledgePromptRow.engineer_id == engineer_id)
    if issue_id is not None:
        query = query.where(KnowledgePromptRow.issue_id == issue_id)
    if open_only:
        query = query.where(KnowledgePromptRow.done_at.is_(None))
    query = query.order_by(KnowledgePromptRow.created_at.desc(), KnowledgePromptRow.id)
    return list(await session.scalars(query.limit(limit)))


async def undelivered_prompts(
    session: AsyncSession, issue_id: str | None = None, limit: int = 200
) -> list[KnowledgePromptRow]:
    query = sa.select(KnowledgePromptRow).where(
        KnowledgePromptRow.notified_at.is_(None), KnowledgePromptRow.engineer_id.is_not(None)
    )
    if issue_id is not None:
        query = query.where(KnowledgePromptRow.issue_id == issue_id)
    return list(await session.scalars(query.order_by(KnowledgePromptRow.created_at).limit(limit)))


async def mark_prompt_notified(session: AsyncSession, prompt_id: str, at: datetime) -> None:
    await session.execute(
        sa.update(KnowledgePromptRow)
        .where(KnowledgePromptRow.id == prompt_id)
        .values(notified_at=at)
    )


async def complete_prompts(
    session: AsyncSession, issue_id: str, kind: PromptKind, at: datetime
) -> None:
    """The engineer acted (linked or drafted): the issue's prompt of that kind is done."""
    await session.execute(
        sa.update(KnowledgePromptRow)
        .where(
            KnowledgePromptRow.issue_id == issue_id,
            KnowledgePromptRow.kind == kind,
            KnowledgePromptRow.done_at.is_(None),
        )
        .values(done_at=at)
    )


# --- issues as knowledge ----------------------------------------------------------------------


async def personal_names(session: AsyncSession, issue: IssueRow) -> list[str]:
    """Names that must not leave the issue: its reporter and its organisation's contacts."""
    contacts = await session.scalars(
        sa.select(TokenRow.contact_name).where(TokenRow.organisation_id == issue.organisation_id)
    )
    return [issue.reporter_name, *contacts]


async def draft_values_from_issue(
    session: AsyncSession, issue: IssueRow, *, cause: str = "", kind: ArticleKind
) -> dict[str, Any]:
    """An article's fields filled in from what the issue knows, without personal data."""
    names = await personal_names(session, issue)
    product = await session.get(ProductRow, issue.product_id)
    product_name = product.name if product is not None else issue.product_id
    environment = f"{product_name}"
    if product is not None and product.current_version:
        environment += f" (current version when reported: {product.current_version})"
    return {
        "title": redact(issue.title, names)[:200],
        "problem": redact(issue.description, names),
        "environment": environment,
        "product_id": issue.product_id,
        "cause": redact(cause, names),
        "resolution": redact(issue.resolution_summary or "", names),
        "kind": kind,
        "category": issue.category,
        "audience": Audience.INTERNAL,
        "owner_id": issue.owner_id,
        "owner_name": issue.owner_name,
        "defect_key": issue.defect_key,
    }


async def articles_for_defect(session: AsyncSession, defect_key: str) -> list[ArticleRow]:
    """Known-error articles about the defect: naming it, or linked to an issue linked to it."""
    via_issues = (
        sa.select(ArticleIssueRow.article_id)
        .join(IssueRow, IssueRow.id == ArticleIssueRow.issue_id)
        .where(IssueRow.defect_key == defect_key)
    )
    query = sa.select(ArticleRow).where(
        ArticleRow.kind == ArticleKind.KNOWN_ERROR,
        ArticleRow.state != ArticleState.ARCHIVED,
        sa.or_(ArticleRow.defect_key == defect_key, ArticleRow.id.in_(via_issues)),
    )
    return list(await session.scalars(query.order_by(ArticleRow.id)))


async def stale_articles(
    session: AsyncSession, unused_since: datetime, limit: int = 500
) -> list[ArticleRow]:
    """Validated articles nobody used (linked, found helpful, opened) since the moment."""
    last_use = sa.func.coalesce(ArticleRow.last_used_at, ArticleRow.updated_at)
    query = (
        sa.select(ArticleRow)
        .where(ArticleRow.state == ArticleState.VALIDATED, last_use < unused_since)
        .order_by(last_use, ArticleRow.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


# --- the solve and evolve loops, driven by what the issue workflow records --------------------


async def react_to_batch(session: AsyncSession, batch: RecordBatch) -> None:
    """Start drafts, ask owners and update known errors from a recorded workflow step.

    Runs in the record activity's transaction after the projection was written; every
    write is keyed (the issue's draft id, the prompt's event id), so a retried batch adds
    nothing and a late one only repeats what already happened.
    """
    for event in batch.events:
        if event.kind == EventKind.ESCALATED and int(event.data.get("tier") or 0) >= Tier.EXPERT:
            await _draft_on_escalation(session, event)
        elif event.kind == EventKind.RESOLUTION_PROPOSED:
            await _ask_owner_to_capture(session, event)
        elif event.kind == EventKind.DEFECT_LINKED:
            await _note_defect(session, event)
        elif event.kind == EventKind.DEFECT_FIXED:
            await _defect_fixed(session, event)


async def _draft_on_escalation(session: AsyncSession, event: TimelineEvent) -> None:
    issue = await session.get(IssueRow, event.issue_id)
    if issue is None:
        return
    values = await draft_values_from_issue(
        session, issue, cause=str(event.data.get("reason") or ""), kind=ArticleKind.KNOWN_ERROR
    )
    values["id"] = draft_id_for(issue.id)
    values["source_issue_id"] = issue.id
    if event.data.get("engineer_id"):
        values["owner_id"] = str(event.data["engineer_id"])
    if await insert_draft_if_absent(session, values, SYSTEM, event.at):
        await link_issue(
            session, values["id"], issue.id, ArticleLinkKind.SOURCE, SYSTEM.name, event.at
        )


async def _ask_owner_to_capture(session: AsyncSession, event: TimelineEvent) -> None:
    issue = await session.get(IssueRow, event.issue_id)
    if issue is None:
        return
    draft = await get_article(session, draft_id_for(issue.id))
    if draft is not None and not draft.resolution and issue.resolution_summary:
        names = await personal_names(session, issue)
        await update_article(
            session,
            draft,
            {"resolution": redact(issue.resolution_summary, names)},
            SYSTEM,
            event.at,
        )
    await add_prompt(
        session,
        f"{event.issue_id}:{event.seq}:capture",
        PromptKind.CAPTURE_RESOLUTION,
        f"{issue.id} is resolved: link the article it was solved with, or turn the "
        "resolution into a draft article.",
        event.at,
        issue_id=issue.id,
        article_id=draft.id if draft is not None else None,
        engineer_id=event.actor.id if event.actor.kind == ActorKind.ENGINEER else issue.owner_id,
    )


async def _note_defect(session: AsyncSession, event: TimelineEvent) -> None:
    defect_key = event.data.get("defect_key")
    if not defect_key:
        return
    await session.execute(
        sa.update(ArticleRow)
        .where(ArticleRow.source_issue_id == event.issue_id, ArticleRow.defect_key.is_(None))
        .values(defect_key=str(defect_key))
    )


NO_FIX_VERSION = "the next release"


async def _defect_fixed(session: AsyncSession, event: TimelineEvent) -> None:
    defect_key = str(event.data.get("defect_key") or "")
    if not defect_key:
        return
    reported = str(event.data.get("fix_versions") or "")
    version = reported if reported and reported != NO_FIX_VERSION else None
    if version is None:
        issue = await session.get(IssueRow, event.issue_id)
        product = await session.get(ProductRow, issue.product_id) if issue else None
        version = product.current_version if product is not None else None
    if version is None:
        return
    for article in await articles_for_defect(session, defect_key):
        changed = await update_article(
            session,
            article,
            {"fixed_in_version": version, "defect_key": defect_key},
            SYSTEM,
            event.at,
        )
        if changed and "fixed_in_version" in changed:
            await add_prompt(
                session,
                f"{article.id}:fixed:{defect_key}:{version}"[:100],
                PromptKind.REVIEW_FIXED_VERSION,
                f"R&D fixed {defect_key} in {version}: article {article.id} "
                f"\u201c{article.title}\u201d now says so; check its resolution.",
                event.at,
                article_id=article.id,
                issue_id=event.issue_id,
                engineer_id=article.owner_id,
            )


async def suggest_archiving(
    session: AsyncSession, now: datetime, stale_after: timedelta
) -> list[str]:
    """Prompt owners (or, unowned, reviewers' queue) about articles unused for too long; once
    per article and staleness period."""
    suggested: list[str] = []
    for article in await stale_articles(session, now - stale_after):
        last = article.last_used_at or article.updated_at
        added = await add_prompt(
            session,
            f"{article.id}:stale:{last.isoformat()}"[:100],
            PromptKind.CONSIDER_ARCHIVING,
            f"Article {article.id} \u201c{article.title}\u201d has not been used since "
            f"{last.date().isoformat()}: archive it, or update it if it is still right.",
            now,
            article_id=article.id,
            engineer_id=article.owner_id,
        )
        if added:
            suggested.append(article.id)
    return suggested
