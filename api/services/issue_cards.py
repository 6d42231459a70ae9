"""Issues as a list of cards: each issue with its promises' clocks as of now.

The web portal's list shows every issue's deadlines counting down (or paused, or overdue
and counting up); the JSON list carries only the stored deadlines, so this reads the same
rows and access rules as `issues.list_issues` and adds the SLA view `issue_detail` uses.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import invalid
from api.schemas import IssueRead, IssueSlaRead
from api.services import sla_views
from api.services.issues import IssueFilters, IssueSort, issue_view
from db.repositories import issues as issue_repo
from domain.enums import Role


@dataclass(frozen=True)
class IssueCard:
    issue: IssueRead
    sla: IssueSlaRead | None


async def issue_cards(
    session: AsyncSession,
    principal: Principal,
    filters: IssueFilters,
    sort: IssueSort,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> tuple[list[IssueCard], str | None]:
    """One page of cards (customers: their organisation's only), and the next cursor."""
    if principal.role == Role.CUSTOMER:
        filters = filters.model_copy(update={"organisation_id": principal.organisation_id})
    try:
        rows, next_cursor = await issue_repo.list_issues(session, filters, sort, cursor, limit)
    except issue_repo.InvalidCursor as exc:
        raise invalid("query.cursor", str(exc)) from None
    cards = [
        IssueCard(issue_view(r, principal), sla_views.sla_read(r, principal, now)) for r in rows
    ]
    await session.commit()
    return cards, next_cursor
