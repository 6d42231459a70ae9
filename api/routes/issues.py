"""Issue endpoints: create, list, read, and one POST per lifecycle command."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import CUSTOMER_SIDE, EVERYONE, STAFF, Principal
from api.deps import IdempotencyKey, PrincipalDep, SessionDep, StateDep, TemporalDep
from api.schemas import (
    AcknowledgeBody,
    AssignBody,
    CancelBody,
    CommandResponse,
    CommentBody,
    ConfirmationBody,
    EscalateBody,
    IssueCreate,
    IssueDetail,
    IssuePage,
    IssueRead,
    IssueSlaHistory,
    LinkDefectBody,
    ReapplyOneBody,
    ReopenBody,
    ReplyBody,
    RequestInfoBody,
    ResolutionBody,
    SeverityBody,
    refuse_control_characters,
)
from api.services import issues as service
from api.services import sla as sla_service
from domain.enums import IssueState, Role, Severity, Tier
from domain.models import (
    AcknowledgeCommand,
    AssignCommand,
    CancelCommand,
    ChangeSeverityCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    EscalateCommand,
    LinkDefectCommand,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    ReopenCommand,
    RequestInfoCommand,
    RetryTrackerSyncCommand,
)
from workflows.issue import IssueWorkflow

router = APIRouter(
    prefix="/issues", tags=["issues"], dependencies=[Depends(refuse_control_characters)]
)

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
CUSTOMER_OR_MANAGER = CUSTOMER_SIDE | MANAGERS


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssueRead)
async def create_issue(
    body: IssueCreate,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> IssueRead:
    """Open an issue; send an Idempotency-Key so a retried request never opens two."""
    principal.require(EVERYONE, "open issues")
    issue, created = await service.create_issue(
        session, temporal, state.settings, principal, body, idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/issues/{issue.id}"
    return issue


@router.get("", response_model=IssuePage)
async def list_issues(
    principal: PrincipalDep,
    session: SessionDep,
    state: Annotated[list[IssueState] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    tier: Tier | None = None,
    organisation_id: str | None = None,
    owner_id: Annotated[
        str | None, Query(description="An engineer's id, or `none` for unowned issues")
    ] = None,
    product_id: str | None = None,
    breached: bool | None = None,
    sla: Annotated[
        service.SlaFilter | None,
        Query(description="at_risk: a warning fired, not breached; breached; paused"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words of the title or description, all required (English by stem, "
            "`word*` a prefix, Chinese by character pairs), or an issue id",
        ),
    ] = None,
    sort: service.IssueSort = service.IssueSort.CREATED_DESC,
    cursor: Annotated[
        str | None, Query(max_length=service.MAX_CURSOR_LENGTH, description="next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> IssuePage:
    """Filter, sort and page through issues (customers see only their organisation's)."""
    filters = service.IssueFilters(
        states=tuple(state or ()),
        severities=tuple(severity or ()),
        tier=tier,
        organisation_id=organisation_id,
        owner_id=None if owner_id == "none" else owner_id,
        owned=False if owner_id == "none" else None,
        product_id=product_id,
        breached=breached,
        sla=sla,
        text=q,
    )
    return await service.list_issues(session, principal, filters, sort, cursor, limit)


@router.get("/{issue_id}", response_model=IssueDetail)
async def get_issue(issue_id: str, principal: PrincipalDep, session: SessionDep) -> IssueDetail:
    """The issue with its deadlines, timeline and comments (internal ones for staff only)."""
    return await service.issue_detail(session, principal, issue_id)


@router.get("/{issue_id}/sla", response_model=IssueSlaHistory)
async def get_issue_sla(
    issue_id: str, principal: PrincipalDep, session: SessionDep
) -> IssueSlaHistory:
    """The clocks as of now and the SLA history: policy applications, clock transitions,
    warnings, breaches, severity changes (customers: their two promises, public entries)."""
    return await sla_service.sla_history(session, principal, issue_id, datetime.now(UTC))


async def _command(
    principal: Principal,
    session: SessionDep,
    temporal: TemporalDep,
    issue_id: str,
    update: Any,
    command: Any,
    idempotency_key: str | None,
) -> CommandResponse:
    row = await service.visible_issue(session, principal, issue_id)
    update_id = None
    if idempotency_key is not None:
        await service.claim_command_key(
            session, principal, update.__name__, row.id, command, idempotency_key
        )
        update_id = service.command_update_id(principal, update.__name__, idempotency_key)
    issue, comment_id = await service.run_command(
        session, temporal, row, update, command, update_id, principal
    )
    return CommandResponse(issue=issue, comment_id=comment_id)


@router.post("/{issue_id}/acknowledge", response_model=CommandResponse)
async def acknowledge(
    issue_id: str,
    body: AcknowledgeBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """First response by the owner: stops the first-response clock."""
    principal.require(STAFF, "acknowledge issues")
    command = AcknowledgeCommand(actor=principal.actor, message=body.message)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.acknowledge, command, idempotency_key
    )


@router.post("/{issue_id}/comments", response_model=CommandResponse)
async def comment(
    issue_id: str,
    body: CommentBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Add a comment; internal comments are for staff and never shown to customers, and
    `guidance` (internal) is a higher tier's advice on an issue it does not own."""
    principal.require(EVERYONE, "comment")
    command = CommentCommand(
        actor=principal.actor, body=body.body, visibility=body.visibility, guidance=body.guidance
    )
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.comment, command, idempotency_key
    )


@router.post("/{issue_id}/assign", response_model=CommandResponse)
async def assign(
    issue_id: str,
    body: AssignBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Hand the issue to another engineer of the same tier."""
    principal.require(STAFF, "assign issues")
    engineer = await service.engineer_choice(session, body.engineer_id, "body.engineer_id")
    command = AssignCommand(actor=principal.actor, engineer=engineer, reason=body.reason)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.assign, command, idempotency_key
    )


@router.post("/{issue_id}/escalate", response_model=CommandResponse)
async def escalate(
    issue_id: str,
    body: EscalateBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Send the issue up to tier 2 (experts) or tier 3 (R&D) with a reason."""
    principal.require(STAFF, "escalate issues")
    engineer = None
    if body.engineer_id is not None:
        engineer = await service.engineer_choice(session, body.engineer_id, "body.engineer_id")
    command = EscalateCommand(
        actor=principal.actor,
        to_tier=body.to_tier,
        reason=body.reason,
        engineer=engineer,
        defect_key=body.defect_key,
        summary=body.summary,
    )
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.escalate, command, idempotency_key
    )


@router.post("/{issue_id}/defect", response_model=CommandResponse)
async def link_defect(
    issue_id: str,
    body: LinkDefectBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Link an issue waiting on R&D to an existing defect (many issues may share one)."""
    principal.require(STAFF, "link defects")
    command = LinkDefectCommand(actor=principal.actor, defect_key=body.defect_key)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.link_defect, command, idempotency_key
    )


@router.post("/{issue_id}/tracker-retry", response_model=CommandResponse)
async def retry_tracker_sync(
    issue_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Create the R&D defect again after a permanent tracker error was fixed (409 otherwise)."""
    principal.require(MANAGERS, "retry the tracker sync")
    command = RetryTrackerSyncCommand(actor=principal.actor)
    return await _command(
        principal,
        session,
        temporal,
        issue_id,
        IssueWorkflow.retry_tracker_sync,
        command,
        idempotency_key,
    )


@router.post("/{issue_id}/request-info", response_model=CommandResponse)
async def request_info(
    issue_id: str,
    body: RequestInfoBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Ask the customer a question; the issue waits for the customer's reply."""
    principal.require(STAFF, "request information")
    command = RequestInfoCommand(actor=principal.actor, question=body.question)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.request_info, command, idempotency_key
    )


@router.post("/{issue_id}/reply", response_model=CommandResponse)
async def reply(
    issue_id: str,
    body: ReplyBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """The customer answers a request for information; work resumes."""
    principal.require(CUSTOMER_OR_MANAGER, "reply as the customer")
    command = CustomerReplyCommand(actor=principal.actor, body=body.body)
    return await _command(
        principal,
        session,
        temporal,
        issue_id,
        IssueWorkflow.customer_reply,
        command,
        idempotency_key,
    )


@router.post("/{issue_id}/resolution", response_model=CommandResponse)
async def propose_resolution(
    issue_id: str,
    body: ResolutionBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Propose a solution; the customer is asked to confirm closure."""
    principal.require(STAFF, "propose resolutions")
    command = ProposeResolutionCommand(actor=principal.actor, summary=body.summary)
    return await _command(
        principal,
        session,
        temporal,
        issue_id,
        IssueWorkflow.propose_resolution,
        command,
        idempotency_key,
    )


@router.post("/{issue_id}/confirmation", response_model=CommandResponse)
async def confirm_closure(
    issue_id: str,
    body: ConfirmationBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """The customer accepts (closes, with satisfaction 1-5) or rejects (back to work)."""
    principal.require(CUSTOMER_OR_MANAGER, "confirm closure")
    command = ConfirmClosureCommand(
        actor=principal.actor,
        accept=body.accept,
        satisfaction=body.satisfaction,
        comment=body.comment,
    )
    return await _command(
        principal,
        session,
        temporal,
        issue_id,
        IssueWorkflow.confirm_closure,
        command,
        idempotency_key,
    )


@router.post("/{issue_id}/reopen", response_model=CommandResponse)
async def reopen(
    issue_id: str,
    body: ReopenBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Reopen a closed issue within the reopen window."""
    principal.require(CUSTOMER_OR_MANAGER, "reopen issues")
    command = ReopenCommand(actor=principal.actor, reason=body.reason)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.reopen, command, idempotency_key
    )


@router.post("/{issue_id}/cancel", response_model=CommandResponse)
async def cancel(
    issue_id: str,
    body: CancelBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Withdraw an open issue."""
    principal.require(CUSTOMER_OR_MANAGER, "cancel issues")
    command = CancelCommand(actor=principal.actor, reason=body.reason)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.cancel, command, idempotency_key
    )


@router.post("/{issue_id}/severity", response_model=CommandResponse)
async def change_severity(
    issue_id: str,
    body: SeverityBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Re-rate the impact: the clocks keep their history and take the new severity's targets
    (409 when the issue already has that severity or is closed)."""
    principal.require(STAFF, "change the severity")
    command = ChangeSeverityCommand(
        actor=principal.actor, severity=body.severity, reason=body.reason
    )
    return await _command(
        principal,
        session,
        temporal,
        issue_id,
        IssueWorkflow.change_severity,
        command,
        idempotency_key,
    )


@router.post("/{issue_id}/sla/reapply", response_model=CommandResponse)
async def reapply_sla(
    issue_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    body: ReapplyOneBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResponse:
    """Measure the issue against the policy as it is now (a running issue otherwise keeps
    the snapshot it was promised); 409 when it is closed."""
    principal.require(ADMIN, "re-apply SLA policies")
    command = ReapplySlaCommand(actor=principal.actor, reason=body.reason if body else None)
    return await _command(
        principal, session, temporal, issue_id, IssueWorkflow.reapply_sla, command, idempotency_key
    )
