"""Knowledge base use cases: articles and their KCS states, search and suggestions, the
solve loop's links and drafts from issues, feedback, views and deflections, prompts.

Customers only ever see validated articles written for customers; anything else is a 404
to them, as if it did not exist. Every write commits here.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import conflict, forbidden, invalid, not_found
from api.knowledge_schemas import (
    ArticleAuditEntry,
    ArticleCreate,
    ArticleRead,
    ArticleStateChange,
    ArticleUpdate,
    DeflectionAnswer,
    FeedbackBody,
    IssueArticleLinked,
    PromptRead,
    SearchAnswer,
    SearchResult,
    SimilarAnswer,
    SimilarIssue,
    ViewBody,
)
from api.services.issues import visible_issue
from db.models import ArticleRow
from db.repositories import issues as issue_repo
from db.repositories import knowledge as repo
from db.repositories import reference as reference_repo
from domain.enums import Category, Role
from domain.knowledge import (
    ArticleKind,
    ArticleLinkKind,
    ArticleState,
    Audience,
    PromptKind,
    TransitionRefused,
    check_transition,
    customer_may_read,
)

MAX_DEFLECTION_WINDOW = timedelta(days=30)
CUSTOMER_SIDE_ROLES = frozenset({Role.CUSTOMER, Role.INTEGRATION})
STAFF_FIELDS = (
    "owner_id",
    "owner_name",
    "source_issue_id",
    "defect_key",
    "reuse_count",
    "helpful_count",
    "not_helpful_count",
    "outdated_count",
    "last_used_at",
    "created_at",
    "revision",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _is_staff(principal: Principal) -> bool:
    return principal.role in STAFF


def article_view(
    row: ArticleRow, principal: Principal, linked: list[str] | None = None
) -> ArticleRead:
    """Staff see the bookkeeping (owner, counters, source issue); customers the content."""
    view = ArticleRead.model_validate(row)
    if not _is_staff(principal):
        return view.model_copy(update=dict.fromkeys(STAFF_FIELDS))
    return view.model_copy(update={"linked_issues": linked})


def _customer_filters(filters: repo.SearchFilters) -> repo.SearchFilters:
    return filters.model_copy(
        update={"audiences": (Audience.CUSTOMER,), "states": (ArticleState.VALIDATED,)}
    )


def search_filters(
    principal: Principal,
    *,
    product_id: str | None = None,
    product_version: str | None = None,
    category: Category | None = None,
    audience: Audience | None = None,
    states: tuple[ArticleState, ...] = (),
) -> repo.SearchFilters:
    """The caller's filters, narrowed for customers to what they may read; staff search
    everything but archived articles unless they ask for states."""
    filters = repo.SearchFilters(
        product_id=product_id,
        product_version=product_version,
        category=category,
        audiences=(audience,) if audience else (),
        states=states or (ArticleState.DRAFT, ArticleState.NOT_VALIDATED, ArticleState.VALIDATED),
    )
    return filters if _is_staff(principal) else _customer_filters(filters)


def _results(hits: list[repo.SearchHit], principal: Principal) -> list[SearchResult]:
    return [SearchResult(article=article_view(h.article, principal), score=h.score) for h in hits]


async def _readable(session: AsyncSession, principal: Principal, article_id: str) -> ArticleRow:
    row = await repo.get_article(session, article_id)
    if row is None or (not _is_staff(principal) and not customer_may_read(row.state, row.audience)):
        raise not_found(f"article {article_id}")
    return row


async def _writable(session: AsyncSession, principal: Principal, article_id: str) -> ArticleRow:
    principal.require(STAFF, "edit knowledge articles")
    row = await repo.get_article(session, article_id)
    if row is None:
        raise not_found(f"article {article_id}")
    return row


async def _check_product(session: AsyncSession, product_id: str | None, field: str) -> None:
    if product_id is not None and await reference_repo.get_product(session, product_id) is None:
        raise invalid(field, f"unknown product '{product_id}'")


async def create_article(
    session: AsyncSession, principal: Principal, body: ArticleCreate
) -> ArticleRead:
    principal.require(STAFF, "write knowledge articles")
    await _check_product(session, body.product_id, "body.product_id")
    values: dict[str, Any] = body.model_dump()
    values.update(
        state=ArticleState.DRAFT, owner_id=principal.engineer_id, owner_name=principal.name
    )
    row = await repo.create_article(session, values, principal.actor, _now())
    await session.commit()
    return article_view(row, principal, [])


async def get_article(session: AsyncSession, principal: Principal, article_id: str) -> ArticleRead:
    row = await _readable(session, principal, article_id)
    linked = (await repo.linked_issue_ids(session, [row.id]))[row.id]
    await session.commit()
    return article_view(row, principal, linked)


CLEARED_BY_NULL: dict[str, object] = {
    "environment": "",
    "cause": "",
    "resolution": "",
    "workaround": "",
    "tags": [],
}


async def update_article(
    session: AsyncSession, principal: Principal, article_id: str, body: ArticleUpdate
) -> ArticleRead:
    """Edit what was given; an archived article is read-only until restored (409)."""
    row = await _writable(session, principal, article_id)
    if row.state == ArticleState.ARCHIVED:
        raise conflict(f"article {article_id} is archived: restore it before editing")
    changes = body.model_dump(exclude_unset=True)
    # null clears what may be empty (the column holds "" or [] then, never NULL).
    for field, empty in CLEARED_BY_NULL.items():
        if field in changes and changes[field] is None:
            changes[field] = empty
    await _check_product(session, changes.get("product_id"), "body.product_id")
    if any(
        changes.get(f) is None for f in ("title", "problem", "kind", "audience") if f in changes
    ):
        raise invalid("body", "title, problem, kind and audience cannot be emptied")
    await repo.update_article(session, row, changes, principal.actor, _now())
    await session.commit()
    return await get_article(session, principal, article_id)


async def change_state(
    session: AsyncSession, principal: Principal, article_id: str, body: ArticleStateChange
) -> ArticleRead:
    """A KCS move: 409 with the reason when the states do not allow it, 403 for the role."""
    row = await _writable(session, principal, article_id)
    try:
        check_transition(row.state, body.state, principal.role)
    except TransitionRefused as refused:
        raise (forbidden if refused.forbidden else conflict)(refused.reason) from None
    if body.state == ArticleState.VALIDATED and not row.resolution and not row.workaround:
        raise conflict("an article needs a resolution or a workaround before it is validated")
    await repo.set_state(session, row, body.state, principal.actor, _now())
    await session.commit()
    return await get_article(session, principal, article_id)


async def audit_trail(
    session: AsyncSession, principal: Principal, article_id: str
) -> list[ArticleAuditEntry]:
    await _writable(session, principal, article_id)
    entries = [
        ArticleAuditEntry.model_validate(e) for e in await repo.audit_trail(session, article_id)
    ]
    await session.commit()
    return entries


async def list_articles(
    session: AsyncSession, principal: Principal, filters: repo.SearchFilters, limit: int
) -> list[ArticleRead]:
    rows = await repo.list_articles(session, filters, limit)
    await session.commit()
    return [article_view(r, principal) for r in rows]


async def search(
    session: AsyncSession,
    principal: Principal,
    text: str,
    filters: repo.SearchFilters,
    limit: int,
) -> SearchAnswer:
    hits = await repo.search(session, text, filters, limit)
    await session.commit()
    return SearchAnswer(
        query=text,
        items=[
            SearchResult(article=article_view(h.article, principal), score=h.score) for h in hits
        ],
    )


async def suggest(
    session: AsyncSession,
    principal: Principal,
    title: str,
    product_id: str | None,
    limit: int,
) -> SearchAnswer:
    """While a customer types a title: validated articles they may read (staff: also drafts
    in progress, useful before opening an issue on someone's behalf)."""
    filters = search_filters(principal, product_id=product_id)
    return await search(session, principal, title, filters, limit)


async def similar(
    session: AsyncSession, principal: Principal, issue_id: str, limit: int
) -> SimilarAnswer:
    """Articles similar to the issue (its title and description), and for staff the past
    issues those articles came from or solved; the issue's own articles are left out."""
    issue = await visible_issue(session, principal, issue_id)
    own = tuple(a.id for a in await repo.articles_of_issue(session, issue_id))
    filters = search_filters(principal, product_id=None).model_copy(update={"exclude_ids": own})
    hits = await repo.search(
        session, f"{issue.title} {issue.title} {issue.description}", filters, limit
    )
    issues: list[SimilarIssue] = []
    if _is_staff(principal) and hits:
        linked = await repo.linked_issue_ids(session, [h.article.id for h in hits])
        seen = {issue_id}
        for hit in hits:
            for other_id in linked[hit.article.id]:
                if other_id in seen:
                    continue
                seen.add(other_id)
                other = await issue_repo.get_issue(session, other_id)
                if other is not None:
                    issues.append(
                        SimilarIssue(
                            issue_id=other.id,
                            title=other.title,
                            state=other.state.value,
                            via_article=hit.article.id,
                        )
                    )
    await session.commit()
    return SimilarAnswer(
        articles=[
            SearchResult(article=article_view(h.article, principal), score=h.score) for h in hits
        ],
        issues=issues[:limit],
    )


async def link_issue(
    session: AsyncSession, principal: Principal, issue_id: str, article_id: str
) -> IssueArticleLinked:
    """ "Solved with": the issue's resolution reuses the article (counted once per issue)."""
    principal.require(STAFF, "link issues to articles")
    await visible_issue(session, principal, issue_id)
    row = await repo.get_article(session, article_id)
    if row is None:
        raise invalid("body.article_id", f"unknown article '{article_id}'")
    if row.state == ArticleState.ARCHIVED:
        raise conflict(f"article {article_id} is archived; link a current one")
    now = _now()
    created = await repo.link_issue(
        session, article_id, issue_id, ArticleLinkKind.SOLVED_WITH, principal.name, now
    )
    await repo.complete_prompts(session, issue_id, PromptKind.CAPTURE_RESOLUTION, now)
    await session.commit()
    row = await repo.get_article(session, article_id)
    assert row is not None
    return IssueArticleLinked(
        article_id=article_id,
        issue_id=issue_id,
        link=ArticleLinkKind.SOLVED_WITH,
        created=created,
        reuse_count=row.reuse_count,
    )


async def draft_from_issue(
    session: AsyncSession, principal: Principal, issue_id: str
) -> tuple[ArticleRead, bool]:
    """The issue's article, filled in from the issue without personal data: the one its
    escalation started (given the resolution if it had none), else a new draft. True when
    this call created it."""
    principal.require(STAFF, "draft articles from issues")
    issue = await visible_issue(session, principal, issue_id)
    now = _now()
    kind = ArticleKind.KNOWN_ERROR if issue.defect_key else ArticleKind.SOLUTION
    values = await repo.draft_values_from_issue(session, issue, kind=kind)
    existing = await repo.get_article(session, repo.draft_id_for(issue_id))
    created = False
    if existing is None:
        values.update(
            id=repo.draft_id_for(issue_id),
            source_issue_id=issue_id,
            owner_id=principal.engineer_id or issue.owner_id,
            owner_name=principal.name,
        )
        created = await repo.insert_draft_if_absent(session, values, principal.actor, now)
        if created:
            await repo.link_issue(
                session, values["id"], issue_id, ArticleLinkKind.SOURCE, principal.name, now
            )
    elif not existing.resolution and values["resolution"]:
        await repo.update_article(
            session, existing, {"resolution": values["resolution"]}, principal.actor, now
        )
    await repo.complete_prompts(session, issue_id, PromptKind.CAPTURE_RESOLUTION, now)
    await session.commit()
    return await get_article(session, principal, repo.draft_id_for(issue_id)), created


async def feedback(
    session: AsyncSession, principal: Principal, article_id: str, body: FeedbackBody
) -> ArticleRead:
    await _readable(session, principal, article_id)
    if body.helpful is None and not body.outdated:
        raise invalid("body", "say whether it helped, or flag it outdated")
    await repo.add_feedback(
        session, article_id, principal.actor.id, body.helpful, body.outdated, body.comment, _now()
    )
    await session.commit()
    return await get_article(session, principal, article_id)


async def viewed(
    session: AsyncSession, principal: Principal, article_id: str, body: ViewBody
) -> None:
    await _readable(session, principal, article_id)
    await repo.record_view(
        session,
        article_id,
        body.session_id,
        principal.actor.id,
        principal.organisation_id,
        _now(),
    )
    await session.commit()


async def deflections(
    session: AsyncSession,
    principal: Principal,
    since: datetime,
    until: datetime | None,
    window: timedelta,
) -> DeflectionAnswer:
    """Counted now, from the views and the issues' creation (nothing is stored as such)."""
    principal.require(STAFF, "read deflection figures")
    for field, moment in (("query.since", since), ("query.until", until)):
        if moment is not None and moment.tzinfo is None:
            raise invalid(field, "give a time zone (e.g. Z)")
    if not timedelta(0) <= window <= MAX_DEFLECTION_WINDOW:
        raise invalid("query.window", "must be between PT0S and P30D")
    end = min(until or _now(), _now())
    if since >= end:
        raise invalid("query.since", "must be before until (and before now)")
    count = await repo.count_deflections(session, since, end, window)
    await session.commit()
    rate = count.deflected / count.sessions_with_views if count.sessions_with_views else None
    return DeflectionAnswer(
        since=since,
        until=end,
        window_seconds=int(window.total_seconds()),
        sessions_with_views=count.sessions_with_views,
        deflected=count.deflected,
        rate=rate,
    )


async def prompts(
    session: AsyncSession, principal: Principal, issue_id: str | None, everyone: bool
) -> list[PromptRead]:
    """An engineer's open prompts (the workspace's to-do); managers and admins may list
    everyone's."""
    principal.require(STAFF, "read knowledge prompts")
    if everyone and principal.role not in (Role.MANAGER, Role.ADMIN):
        raise forbidden("only managers and admins list everyone's prompts")
    # A staff token that is no engineer's (an admin's) has no own prompts: it sees all.
    engineer_id = None if everyone else principal.engineer_id
    rows = await repo.list_prompts(session, engineer_id=engineer_id, issue_id=issue_id)
    await session.commit()
    return [PromptRead.model_validate(r) for r in rows]
