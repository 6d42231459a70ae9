"""On-site service endpoints: visits (dispatch, check-in, check-out), spare parts (request
and each step), and the issue's on-site view."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from api.auth import EVERYONE, STAFF
from api.deps import IdempotencyKey, PrincipalDep, SessionDep, TemporalDep
from api.onsite_schemas import (
    CheckInBody,
    CheckOutBody,
    OnsiteRead,
    PartCommandResponse,
    PartCreate,
    PartRequested,
    PartStepBody,
    VisitCommandResponse,
    VisitCreate,
    VisitDispatched,
)
from api.schemas import refuse_control_characters
from api.services import onsite as service
from domain.enums import Role
from domain.onsite import PART_ACTORS, PartAction
from domain.onsite_contracts import CheckInCommand, CheckOutCommand, PartStepCommand
from workflows.issue import IssueWorkflow
from workflows.spare_part import SparePartWorkflow
from workflows.visit import VisitWorkflow

router = APIRouter(tags=["on-site"], dependencies=[Depends(refuse_control_characters)])

DISPATCHING = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN, Role.DISPATCHER})
REQUESTING = STAFF | {Role.DISPATCHER, Role.FIELD_ENGINEER}
ON_SITE = frozenset({Role.FIELD_ENGINEER, Role.ADMIN})
PART_UPDATES = {
    PartAction.PICK: SparePartWorkflow.pick,
    PartAction.SHIP: SparePartWorkflow.ship,
    PartAction.DELIVER: SparePartWorkflow.deliver,
    PartAction.INSTALL: SparePartWorkflow.install,
    PartAction.RETURN: SparePartWorkflow.return_part,
}


@router.get("/issues/{issue_id}/onsite", response_model=OnsiteRead)
async def get_onsite(issue_id: str, principal: PrincipalDep, session: SessionDep) -> OnsiteRead:
    """Visits and parts with their states and delays (customers: the appointments and the
    engineer's first name; no warehouse internals)."""
    principal.require(EVERYONE, "read on-site service")
    return await service.onsite_view(session, principal, issue_id, datetime.now(UTC))


@router.post("/issues/{issue_id}/visits", response_model=VisitDispatched)
async def dispatch_visit(
    issue_id: str,
    body: VisitCreate,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> VisitDispatched:
    """Send a field engineer for the agreed window (the owner, a dispatcher, a manager)."""
    principal.require(DISPATCHING, "dispatch visits")
    dispatched = await service.dispatch_visit(
        session, temporal, principal, issue_id, body, IssueWorkflow.dispatch_visit, idempotency_key
    )
    response.headers["Location"] = f"/issues/{issue_id}/onsite"
    return dispatched


@router.post("/visits/{visit_id}/check-in", response_model=VisitCommandResponse)
async def check_in(
    visit_id: str,
    body: CheckInBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> VisitCommandResponse:
    """The assigned field engineer arrives on site (before the window ends)."""
    principal.require(ON_SITE, "check in to visits")
    command = CheckInCommand(actor=principal.actor)
    visit = await service.visit_step(
        session, temporal, principal, visit_id, VisitWorkflow.check_in, command, idempotency_key
    )
    return VisitCommandResponse(visit=visit)


@router.post("/visits/{visit_id}/check-out", response_model=VisitCommandResponse)
async def check_out(
    visit_id: str,
    body: CheckOutBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> VisitCommandResponse:
    """The field engineer leaves: the time on site is recorded."""
    principal.require(ON_SITE, "check out of visits")
    command = CheckOutCommand(actor=principal.actor, report=body.report)
    visit = await service.visit_step(
        session, temporal, principal, visit_id, VisitWorkflow.check_out, command, idempotency_key
    )
    return VisitCommandResponse(visit=visit)


@router.post("/issues/{issue_id}/parts", response_model=PartRequested)
async def request_part(
    issue_id: str,
    body: PartCreate,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> PartRequested:
    """Ask a warehouse for a spare part (part number, quantity, warehouse)."""
    principal.require(REQUESTING, "request spare parts")
    requested = await service.request_part(
        session, temporal, principal, issue_id, body, IssueWorkflow.request_part, idempotency_key
    )
    response.headers["Location"] = f"/issues/{issue_id}/onsite"
    return requested


@router.post("/parts/{part_id}/{action}", response_model=PartCommandResponse)
async def part_step(
    part_id: str,
    action: PartAction,
    body: PartStepBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> PartCommandResponse:
    """pick, ship (warehouse), deliver (field engineer or warehouse), install or return
    (field engineer); an admin may stand in for anyone."""
    principal.require(
        frozenset(Role(kind.value) for kind in PART_ACTORS[action]), f"{action.value} parts"
    )
    command = PartStepCommand(actor=principal.actor, reason=body.reason)
    part = await service.part_step(
        session,
        temporal,
        principal,
        part_id,
        PART_UPDATES[action],
        command,
        idempotency_key,
        datetime.now(UTC),
    )
    return PartCommandResponse(part=part)
