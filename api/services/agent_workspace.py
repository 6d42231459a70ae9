"""What the agent workspace's pages show: the queues, sorted by SLA urgency, and one issue
with everything staff work from (customer and contract, timeline, clocks, defect, diagram,
and the commands the workflow allows now).

The queues read the issue list with the dispatch views' filters (`GET /me/issues`,
`GET /teams/{id}/queue`, `GET /issues?owner_id=none`), with each issue's clocks.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.progress_diagram import FormatTime, Gettext
from api.schemas import IssueActions, IssueDetail
from api.services import issue_actions as actions_service
from api.services import issue_cards as cards_service
from api.services import issue_diagram as diagram_service
from api.services import issues as issue_service
from api.services.issue_cards import IssueCard
from api.temporal_gateway import TemporalGateway
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.enums import EventKind, Tier

QUEUE_SIZE = 100


class Queue(StrEnum):
    MINE = "mine"
    TEAM = "team"
    UNOWNED = "unowned"
    OPEN = "open"


async def own_team(session: AsyncSession, principal: Principal) -> str | None:
    """The team whose queue is "my team's" when none is asked for: the engineer's own."""
    if principal.engineer_id is None:
        return None
    engineer = await reference_repo.get_engineer(session, principal.engineer_id)
    return engineer.team_id if engineer is not None else None


async def queue(
    session: AsyncSession,
    principal: Principal,
    which: Queue,
    now: datetime,
    team_id: str | None = None,
) -> list[IssueCard]:
    """The queue's open issues, the nearest breach first (breached ones lead: their
    deadline is past), with the dispatch views' filters: mine (`/me/issues`), a team's
    queue (`/teams/{id}/queue`, assigned and unassigned), unowned (`owner_id=none`)."""
    filters = issue_service.IssueFilters(open_only=True)
    if which == Queue.MINE:
        filters = filters.model_copy(update={"owner_id": principal.engineer_id or "-"})
    elif which == Queue.TEAM:
        team = team_id or await own_team(session, principal)
        filters = filters.model_copy(update={"team_id": team or "-"})
    elif which == Queue.UNOWNED:
        filters = filters.model_copy(update={"owned": False})
    cards, _ = await cards_service.issue_cards(
        session,
        principal,
        filters,
        issue_service.IssueSort.NEXT_DEADLINE_ASC,
        None,
        QUEUE_SIZE,
        now,
    )
    return cards


@dataclass(frozen=True)
class DefectInfo:
    key: str
    url: str | None
    status: str
    """open (R&D works on it), fixed, wont_fix or reopened: R&D's last decision."""


@dataclass(frozen=True)
class EngineerOption:
    id: str
    name: str
    tier: Tier


@dataclass(frozen=True)
class IssueWorkspace:
    issue: IssueDetail
    organisation_name: str
    defect: DefectInfo | None
    actions: IssueActions
    diagram_svg: str
    engineers: list[EngineerOption]


_DEFECT_STATUS = {
    EventKind.DEFECT_LINKED: "open",
    EventKind.DEFECT_FIXED: "fixed",
    EventKind.DEFECT_WONT_FIX: "wont_fix",
    EventKind.DEFECT_REOPENED: "reopened",
}


async def live_view(
    session: AsyncSession,
    principal: Principal,
    issue_id: str,
    *,
    gettext: Gettext,
    format_time: FormatTime,
) -> tuple[IssueDetail, DefectInfo | None, str]:
    """What the page refreshes every few seconds: the issue, its defect and its diagram."""
    detail = await issue_service.issue_detail(session, principal, issue_id)
    defect = None
    if detail.defect_key is not None:
        url: str | None = None
        status = "open"
        for event in await issue_repo.timeline(session, issue_id, include_internal=True):
            if event.kind in _DEFECT_STATUS:
                status = _DEFECT_STATUS[event.kind]
                link = (event.data or {}).get("defect_url")
                url = link if isinstance(link, str) else url
        defect = DefectInfo(key=detail.defect_key, url=url, status=status)
    svg = await diagram_service.diagram_svg(
        session, principal, issue_id, gettext=gettext, format_time=format_time
    )
    return detail, defect, svg


async def issue_workspace(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_id: str,
    now: datetime,
    *,
    gettext: Gettext,
    format_time: FormatTime,
) -> IssueWorkspace:
    """The whole staff page of one issue (404 for an unknown one)."""
    detail, defect, svg = await live_view(
        session, principal, issue_id, gettext=gettext, format_time=format_time
    )
    organisation = await reference_repo.get_organisation(session, detail.organisation_id)
    engineers = [
        EngineerOption(e.id, e.name, e.tier)
        for e in await reference_repo.list_engineers(session, active_only=True)
        if not e.is_manager
    ]
    await session.commit()
    actions = await actions_service.issue_actions(session, temporal, principal, issue_id, now)
    return IssueWorkspace(
        issue=detail,
        organisation_name=organisation.name if organisation else detail.organisation_id,
        defect=defect,
        actions=actions,
        diagram_svg=svg,
        engineers=engineers,
    )
