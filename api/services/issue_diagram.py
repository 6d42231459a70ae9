"""The issue's progress diagram: its path read from the timeline, drawn for the caller.

Staff get the four lanes with owners and every SLA mark; customers the public variant (one
support lane, public stages, no names, only their promises' breaches). The path is read
from the whole timeline either way: R&D's decisions and the SLA marks are internal entries,
and `public_path` removes what customers may not see.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.progress_diagram import FormatTime, Gettext, render_progress_svg
from api.services import issues as issue_service
from db.models import EventRow
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.issue_path import StageVisit, issue_path, public_path
from domain.models import Actor, TimelineEvent


def english(text: str) -> str:
    """The API's texts: the source strings themselves (the web layer passes its gettext)."""
    return text


def utc_minutes(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def timeline_event(row: EventRow) -> TimelineEvent:
    """A read-model row as the domain's timeline entry (what `issue_path` reads)."""
    return TimelineEvent(
        issue_id=row.issue_id,
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        actor=Actor(kind=row.actor_kind, id=row.actor_id, name=row.actor_name),
        from_state=row.from_state,
        to_state=row.to_state,
        visibility=row.visibility,
        summary=row.summary,
        data=dict(row.data or {}),
    )


async def path_for(
    session: AsyncSession, principal: Principal, issue_id: str
) -> tuple[tuple[StageVisit, ...], dict[str, str]]:
    """The caller's path of the issue (404 for another organisation's) and, for staff, the
    owners' names by engineer id."""
    row = await issue_service.visible_issue(session, principal, issue_id)
    rows = await issue_repo.timeline(session, row.id, include_internal=True)
    visits = issue_path([timeline_event(r) for r in rows])
    names: dict[str, str] = {}
    if principal.role not in STAFF:
        await session.commit()
        return public_path(visits), names
    routed = {m.engineer_id for v in visits for m in v.dispatch if m.engineer_id}
    for owner_id in {v.owner_id for v in visits if v.owner_id} | routed:
        engineer = await reference_repo.get_engineer(session, owner_id)
        names[owner_id] = engineer.name if engineer is not None else owner_id
    await session.commit()
    return visits, names


async def diagram_svg(
    session: AsyncSession,
    principal: Principal,
    issue_id: str,
    *,
    gettext: Gettext = english,
    format_time: FormatTime = utc_minutes,
) -> str:
    """The SVG document for the caller, in the caller's words and time format."""
    visits, names = await path_for(session, principal, issue_id)
    return render_progress_svg(
        visits,
        issue_id=issue_id,
        public=principal.role not in STAFF,
        gettext=gettext,
        format_time=format_time,
        owner_names=names,
    )


__all__ = ["diagram_svg", "english", "path_for", "utc_minutes"]
