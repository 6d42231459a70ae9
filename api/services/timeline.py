"""How an issue's timeline reads to each caller.

The workflow records one timeline for everybody: internal entries (SLA bookkeeping, tracker
traffic) and public ones whose summary may still carry a staff member's reason (why it was
escalated, reassigned or re-rated). Staff read the record as it is. Customers read public
entries only, with a neutral line where the record holds an internal reason, only the data
keys meant for them, and numbered 1, 2, 3... over what they can see, so the numbering does
not reveal how many internal entries lie between. The record itself is never changed.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from db.models import EventRow
from db.repositories import issues as issue_repo
from domain.enums import EventKind, Visibility

_TEAMS = {2: "our expert team", 3: "our R&D team"}


def _escalated(data: dict[str, Any]) -> str:
    team = _TEAMS.get(data.get("tier") or 0)
    return f"Escalated to {team}" if team else "Escalated to another support tier"


def _severity_changed(data: dict[str, Any]) -> str:
    before, after = data.get("from"), data.get("to")
    if isinstance(before, int) and isinstance(after, int):
        return f"Severity changed from {before} to {after}"
    return "Severity changed"


CUSTOMER_LINES: dict[EventKind, Callable[[dict[str, Any]], str]] = {
    EventKind.ESCALATED: _escalated,
    EventKind.ASSIGNED: lambda _: "Assigned to an engineer",
    EventKind.REASSIGNED: lambda _: "Handed over to another engineer",
    EventKind.SEVERITY_CHANGED: _severity_changed,
    EventKind.DEFECT_REOPENED: lambda _: "Our R&D team is working on this again",
    EventKind.HANDED_BACK: lambda _: "Back with your engineer",
}
"""Public entries whose recorded summary is written for staff: what customers read instead."""

CUSTOMER_DATA: dict[EventKind, frozenset[str]] = {
    EventKind.ESCALATED: frozenset({"tier"}),
    EventKind.ASSIGNED: frozenset({"tier"}),
    EventKind.REASSIGNED: frozenset({"tier"}),
    EventKind.HANDED_BACK: frozenset({"tier"}),
    EventKind.SEVERITY_CHANGED: frozenset({"from", "to"}),
    EventKind.ACCEPTED: frozenset({"contract_level", "warranty_status"}),
    EventKind.CLOSED: frozenset({"outcome", "satisfaction"}),
}
"""The data keys customers may read per kind; every other key (reasons, engineer and
defect ids, comment ids) stays internal."""


@dataclass(frozen=True)
class ShownEvent:
    """One timeline entry as the caller reads it."""

    number: int
    row: EventRow
    summary: str
    data: dict[str, Any]


def sees_internal_entries(principal: Principal) -> bool:
    return principal.role in STAFF


def public_comment_id(comment_id: str) -> str:
    """A comment's id as customers see it: stable, but without the workflow's counter that
    the recorded id ends in (":c12"), which would count the internal entries."""
    return "C-" + hashlib.sha256(comment_id.encode()).hexdigest()[:16]


def comment_id_for(principal: Principal, comment_id: str | None) -> str | None:
    if comment_id is None or sees_internal_entries(principal):
        return comment_id
    return public_comment_id(comment_id)


def shown(events: list[EventRow], principal: Principal) -> list[ShownEvent]:
    """The entries the caller may read, as they should read them (see the module)."""
    if sees_internal_entries(principal):
        return [ShownEvent(e.seq, e, e.summary, dict(e.data or {})) for e in events]
    result: list[ShownEvent] = []
    for event in events:
        if event.visibility != Visibility.PUBLIC:
            continue
        data = dict(event.data or {})
        line = CUSTOMER_LINES.get(event.kind)
        allowed = CUSTOMER_DATA.get(event.kind, frozenset())
        result.append(
            ShownEvent(
                number=len(result) + 1,
                row=event,
                summary=event.summary if line is None else line(data),
                data={k: v for k, v in data.items() if k in allowed},
            )
        )
    return result


async def timeline_for(
    session: AsyncSession, principal: Principal, issue_id: str
) -> list[ShownEvent]:
    """The issue's timeline as the caller reads it, oldest first."""
    internal = sees_internal_entries(principal)
    events = await issue_repo.timeline(session, issue_id, include_internal=internal)
    return shown(events, principal)
