"""On-site service use cases behind the routes: dispatch visits, request parts, run their
steps on the child workflows, and read them as the caller may see them."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import conflict, forbidden, invalid, not_found
from api.onsite_schemas import (
    OnsiteRead,
    PartCreate,
    PartRead,
    PartRequested,
    PartStepRead,
    VisitCreate,
    VisitDispatched,
    VisitRead,
)
from api.schemas import IssueRead
from api.services import issues as issue_service
from api.temporal_gateway import TemporalGateway, WorkflowEnded
from db.models import IssueRow, OnsiteVisitRow, PartRequestRow
from db.repositories import onsite as onsite_repo
from domain.enums import Role
from domain.models import CommandResult
from domain.onsite import (
    FINAL_PART_STATES,
    PARTS_IN_TRANSIT,
    PartRequest,
    PartStep,
    VisitState,
)
from domain.onsite_contracts import DispatchVisitCommand, RequestPartCommand, first_name

# Who sees a visit's and a part's internals (warehouse, who moved it, reports): staff and
# the on-site roles themselves; customers and integrations see the appointment only.
INSIDERS = STAFF | {Role.DISPATCHER, Role.FIELD_ENGINEER, Role.WAREHOUSE}


def visit_view(row: OnsiteVisitRow, principal: Principal) -> VisitRead:
    on_site = (
        timedelta(seconds=row.time_on_site_seconds)
        if row.time_on_site_seconds is not None
        else None
    )
    visit = VisitRead(
        visit_id=row.visit_id,
        issue_id=row.issue_id,
        number=row.number,
        state=row.state,
        engineer_first_name=first_name(row.engineer_name),
        window_start=row.window_start,
        window_end=row.window_end,
        checked_in_at=row.checked_in_at,
        checked_out_at=row.checked_out_at,
        missed_at=row.missed_at,
        time_on_site=on_site,
    )
    if principal.role not in INSIDERS:
        return visit
    return visit.model_copy(
        update={
            "engineer_id": row.engineer_id,
            "engineer_name": row.engineer_name,
            "reminder_at": row.reminder_at,
            "reminded_at": row.reminded_at,
            "report": row.report,
            "dispatched_by": row.dispatched_by_name,
        }
    )


def _as_domain(row: PartRequestRow) -> PartRequest:
    return PartRequest(
        part_id=row.part_id,
        issue_id=row.issue_id,
        number=row.number,
        part_number=row.part_number,
        quantity=row.quantity,
        warehouse=row.warehouse,
        state=row.state,
        steps=tuple(PartStep.model_validate(s) for s in row.steps),
        return_reason=row.return_reason,
    )


def part_view(row: PartRequestRow, principal: Principal, now: datetime) -> PartRead:
    part = _as_domain(row)
    spent = part.time_in_states(now)
    read = PartRead(
        part_id=part.part_id,
        issue_id=part.issue_id,
        number=part.number,
        part_number=part.part_number,
        quantity=part.quantity,
        state=part.state,
        requested_at=part.requested_at,
        since_requested=part.age(now),
        time_in_state=spent.get(part.state, timedelta(0)),
    )
    if principal.role not in INSIDERS:
        return read
    return read.model_copy(
        update={
            "time_in_states": spent,
            "warehouse": part.warehouse,
            "steps": [PartStepRead(**s.model_dump()) for s in part.steps],
            "return_reason": part.return_reason,
        }
    )


async def onsite_view(
    session: AsyncSession, principal: Principal, issue_id: str, now: datetime
) -> OnsiteRead:
    """The issue's visits and parts with their states and delays, as the caller may see them."""
    row = await issue_service.visible_issue(session, principal, issue_id)
    visits = await onsite_repo.visits_of(session, row.id)
    parts = await onsite_repo.parts_of(session, row.id)
    return OnsiteRead(
        issue_id=row.id,
        redispatch_needed=bool(visits) and visits[-1].state == VisitState.MISSED,
        waiting_for_parts=any(p.state in PARTS_IN_TRANSIT for p in parts),
        visits=[visit_view(v, principal) for v in visits],
        parts=[part_view(p, principal, now) for p in parts],
        as_of=now,
    )


async def _issue_command(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    row: IssueRow,
    update: Any,
    command: BaseModel,
    idempotency_key: str | None,
) -> tuple[IssueRead, CommandResult]:
    """Like every issue command: the key claimed, the Update sent, the projection read."""
    update_id = await _claim(session, principal, update, row.id, command, idempotency_key)
    issue_id, state = row.id, row.state
    await session.commit()
    try:
        result = await temporal.update(issue_id, update, command, update_id)
    except WorkflowEnded:
        raise conflict(
            f"issue {issue_id} is {state.value} and its lifecycle has ended; "
            "open a new issue instead"
        ) from None
    await session.refresh(row)
    issue = issue_service.issue_view(row, principal)
    await session.commit()
    return issue, result


PROJECTION_WAIT = 50
"""Tenths of a second a dispatch or request waits for its child's first projection."""


async def _projected(
    session: AsyncSession, find: Callable[[AsyncSession, str], Awaitable[object | None]], key: str
) -> None:
    """Wait (briefly) until the child workflow projected itself, so the answer's id can be
    used at once (read-your-writes: a check-in or a pick right after finds the row)."""
    for _ in range(PROJECTION_WAIT):
        if await find(session, key) is not None:
            return
        await session.commit()
        await asyncio.sleep(0.1)


async def _claim(
    session: AsyncSession,
    principal: Principal,
    update: Any,
    target_id: str,
    command: BaseModel,
    idempotency_key: str | None,
) -> str | None:
    if idempotency_key is None:
        return None
    await issue_service.claim_command_key(
        session, principal, update.__name__, target_id, command, idempotency_key
    )
    return issue_service.command_update_id(principal, update.__name__, idempotency_key)


async def dispatch_visit(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_id: str,
    body: VisitCreate,
    update: Any,
    idempotency_key: str | None,
) -> VisitDispatched:
    row = await issue_service.visible_issue(session, principal, issue_id)
    if principal.role == Role.ENGINEER and row.owner_id != principal.engineer_id:
        raise forbidden("only the issue's owner, a dispatcher, a manager or an admin dispatches")
    engineer = None
    if body.engineer_id is not None:
        engineer = await onsite_repo.field_engineer(session, body.engineer_id)
        if engineer is None:
            raise invalid("body.engineer_id", f"{body.engineer_id} is not an active field engineer")
    command = DispatchVisitCommand(
        actor=principal.actor,
        window_start=body.window_start,
        window_end=body.window_end,
        engineer=engineer,
        note=body.note,
    )
    issue, result = await _issue_command(
        session, temporal, principal, row, update, command, idempotency_key
    )
    onsite = result.status.onsite
    visit = onsite.visits[-1] if onsite is not None and onsite.visits else None
    if visit is None:  # the workflow answered without a visit: never expected
        raise conflict("the issue did not record the visit")
    await _projected(session, onsite_repo.get_visit, visit.visit_id)
    return VisitDispatched(issue=issue, visit_id=visit.visit_id)


async def request_part(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_id: str,
    body: PartCreate,
    update: Any,
    idempotency_key: str | None,
) -> PartRequested:
    row = await issue_service.visible_issue(session, principal, issue_id)
    command = RequestPartCommand(
        actor=principal.actor,
        part_number=body.part_number,
        quantity=body.quantity,
        warehouse=body.warehouse,
        note=body.note,
    )
    issue, result = await _issue_command(
        session, temporal, principal, row, update, command, idempotency_key
    )
    onsite = result.status.onsite
    part = onsite.parts[-1] if onsite is not None and onsite.parts else None
    if part is None:
        raise conflict("the issue did not record the part request")
    await _projected(session, onsite_repo.get_part, part.part_id)
    return PartRequested(issue=issue, part_id=part.part_id)


async def visit_step(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    visit_id: str,
    update: Any,
    command: BaseModel,
    idempotency_key: str | None,
) -> VisitRead:
    """Check in or out: the assigned field engineer (or an admin) on the visit's workflow."""
    row = await onsite_repo.get_visit(session, visit_id)
    if row is None or not principal.can_see_organisation(row.organisation_id):
        raise not_found(f"visit {visit_id}")
    if principal.role == Role.FIELD_ENGINEER and row.engineer_id != principal.engineer_id:
        raise forbidden(f"visit {visit_id} is {row.engineer_name}'s; only they check in and out")
    update_id = await _claim(session, principal, update, visit_id, command, idempotency_key)
    issue_id, state = row.issue_id, row.state
    await session.commit()
    try:
        await temporal.update_child(visit_id, issue_id, update, command, update_id)
    except WorkflowEnded:
        raise conflict(f"visit {visit_id} is {state.value}; its workflow has ended") from None
    await session.refresh(row)
    view = visit_view(row, principal)
    await session.commit()
    return view


async def part_step(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    part_id: str,
    update: Any,
    command: BaseModel,
    idempotency_key: str | None,
    now: datetime,
) -> PartRead:
    row = await onsite_repo.get_part(session, part_id)
    if row is None or not principal.can_see_organisation(row.organisation_id):
        raise not_found(f"part request {part_id}")
    update_id = await _claim(session, principal, update, part_id, command, idempotency_key)
    issue_id, state = row.issue_id, row.state
    await session.commit()
    try:
        await temporal.update_child(part_id, issue_id, update, command, update_id)
    except WorkflowEnded:
        final = "final" if state in FINAL_PART_STATES else "ended"
        raise conflict(f"part request {part_id} is {state.value} ({final})") from None
    await session.refresh(row)
    view = part_view(row, principal, now)
    await session.commit()
    return view
