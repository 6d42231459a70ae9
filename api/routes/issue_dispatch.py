"""Dispatch endpoints: claim from a queue, answer an offer, hand back to tier 1, hand over
from an engineer going off duty, and assign many issues at once.

Routes check the role; whether this caller may act on this issue (owner, the owning team's
manager, a dispatcher; an engineer of the queue's team for a claim) is the domain's rule,
answered 403 with the reason."""

from fastapi import APIRouter, Depends

from api.auth import DISPATCHING, STAFF
from api.deps import IdempotencyKey, PrincipalDep, SessionDep, TemporalDep
from api.schemas import (
    BulkAssignBody,
    BulkReport,
    CommandResponse,
    DeclineOfferBody,
    EngineerHandOverBody,
    HandBackBody,
    HandOverBody,
    refuse_control_characters,
)
from api.services import handover as handover_service
from api.services import issue_dispatch as service
from domain.models import (
    AcceptOfferCommand,
    ClaimCommand,
    DeclineOfferCommand,
    HandBackCommand,
    HandOverCommand,
)
from workflows.issue import IssueWorkflow

router = APIRouter(tags=["dispatch"], dependencies=[Depends(refuse_control_characters)])


@router.post("/issues/bulk/assign", response_model=BulkReport)
async def bulk_assign(
    body: BulkAssignBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkReport:
    """Assign or reassign up to 200 issues to one engineer; a result per issue (assigned,
    refused or forbidden with the reason, not_found), so one refusal never fails the rest."""
    principal.require(DISPATCHING, "assign issues in bulk")
    results = await service.assign_many(
        session,
        temporal,
        principal,
        body.issue_ids,
        body.engineer_id,
        body.reason,
        idempotency_key,
    )
    return BulkReport(results=results)


@router.post("/issues/{issue_id}/claim", response_model=CommandResponse)
async def claim(
    issue_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Take an unowned issue from its team's queue (of simultaneous claims exactly one wins;
    the others get 409 with the reason)."""
    principal.require(STAFF, "claim issues")
    command = ClaimCommand(
        actor=principal.actor, engineer=await service.claimant(session, principal)
    )
    return await service.issue_command(
        session, temporal, principal, issue_id, IssueWorkflow.claim, command, idempotency_key
    )


@router.post("/issues/{issue_id}/offer/accept", response_model=CommandResponse)
async def accept_offer(
    issue_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """The engineer the issue is offered to takes it (409 once the offer expired)."""
    principal.require(STAFF, "accept offers")
    command = AcceptOfferCommand(actor=principal.actor)
    return await service.issue_command(
        session, temporal, principal, issue_id, IssueWorkflow.accept_offer, command, idempotency_key
    )


@router.post("/issues/{issue_id}/offer/decline", response_model=CommandResponse)
async def decline_offer(
    issue_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    body: DeclineOfferBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """The engineer the issue is offered to passes: the next engineer is offered it."""
    principal.require(STAFF, "decline offers")
    command = DeclineOfferCommand(actor=principal.actor, reason=body.reason if body else None)
    return await service.issue_command(
        session,
        temporal,
        principal,
        issue_id,
        IssueWorkflow.decline_offer,
        command,
        idempotency_key,
    )


@router.post("/issues/{issue_id}/hand-back", response_model=CommandResponse)
async def hand_back(
    issue_id: str,
    body: HandBackBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """The tier-2 owner returns the issue to its tier-1 owner with guidance (internal)."""
    principal.require(STAFF, "hand issues back")
    command = HandBackCommand(actor=principal.actor, guidance=body.guidance)
    return await service.issue_command(
        session, temporal, principal, issue_id, IssueWorkflow.hand_back, command, idempotency_key
    )


@router.post("/issues/{issue_id}/hand-over", response_model=CommandResponse)
async def hand_over(
    issue_id: str,
    body: HandOverBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Move one issue away from an engineer going off duty (their substitute first)."""
    principal.require(DISPATCHING, "hand issues over")
    command = HandOverCommand(
        actor=principal.actor, engineer_id=body.engineer_id, reason=body.reason
    )
    return await service.issue_command(
        session, temporal, principal, issue_id, IssueWorkflow.hand_over, command, idempotency_key
    )


@router.post("/engineers/{engineer_id}/hand-over", response_model=BulkReport)
async def hand_over_engineer(
    engineer_id: str,
    body: EngineerHandOverBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkReport:
    """Hand every open issue of the engineer over; a result per issue."""
    principal.require(DISPATCHING, "hand issues over")
    results = await handover_service.hand_over_open_issues(
        session, temporal, principal, engineer_id, body.reason, idempotency_key
    )
    return BulkReport(results=results)
