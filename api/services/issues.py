"""Issue use cases behind the routes: create once, read with access rules, run commands."""

import asyncio
import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import conflict, invalid, not_found
from api.schemas import (
    CommentRead,
    IssueCreate,
    IssueDetail,
    IssueRead,
    TimelineEntry,
)
from api.services import sla_views as sla_service
from api.temporal_gateway import TemporalGateway, WorkflowEnded
from config.settings import Settings
from db.models import IssueRow
from db.repositories import idempotency as idempotency_repo
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.enums import IssueState, Role, Visibility
from domain.ids import workflow_id_for
from domain.lifecycle import IssueCase
from domain.models import CommandResult, IssueIntake, IssueWorkflowInput, OwnerChoice

DISPATCHED = frozenset(s for s in IssueState if s not in (IssueState.NEW, IssueState.ACCEPTED))


def issue_view(row: IssueRow, principal: Principal) -> IssueRead:
    """The projection as the caller may see it: raw tracker errors are for staff only."""
    issue = IssueRead.model_validate(row)
    if principal.role in STAFF:
        return issue
    return issue.model_copy(update={"tracker_sync_error": None, "tracker_last_error": None})


def issue_id_for(scope: str, idempotency_key: str) -> str:
    """Deterministic id from the caller and its key: a retried create names the same issue."""
    digest = hashlib.sha256(f"{scope}\x00{idempotency_key}".encode()).digest()
    return "ITR-" + base64.b32encode(digest).decode()[:10]


def request_hash(body: IssueCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def create_issue(
    session: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    principal: Principal,
    body: IssueCreate,
    idempotency_key: str | None,
) -> tuple[IssueRead, bool]:
    """Start the issue's workflow, then project it; returns (issue, created_now).

    The row appears only after the workflow started, so a 503 leaves nothing behind, and a
    retry with the same Idempotency-Key finds the same workflow instead of starting another.
    """
    organisation_id = await _organisation_for(session, principal, body)
    if await reference_repo.get_product(session, body.product_id) is None:
        raise invalid("body.product_id", f"unknown product '{body.product_id}'")

    key = idempotency_key or f"auto-{uuid.uuid4()}"
    issue_id = issue_id_for(principal.token_id, key)
    fingerprint = request_hash(body)
    if idempotency_key is not None:
        saved = await idempotency_repo.find_idempotency(session, principal.token_id, key)
        if saved is None:
            await idempotency_repo.save_idempotency(
                session, principal.token_id, key, fingerprint, issue_id
            )
        elif saved.request_hash != fingerprint:
            raise conflict("this Idempotency-Key was already used with a different request")
        else:  # a retry: answer with the issue if its first attempt got that far
            existing = await issue_repo.get_issue(session, issue_id)
            if existing is not None:
                await session.commit()
                return issue_view(existing, principal), False
        await session.commit()  # no transaction held open while Temporal starts the workflow

    intake = IssueIntake(
        issue_id=issue_id,
        organisation_id=organisation_id,
        product_id=body.product_id,
        title=body.title,
        description=body.description,
        category=body.category,
        severity=body.severity,
        service_mode=body.service_mode,
        channel=body.channel,
        reporter=principal.actor,
        created_at=datetime.now(UTC),
    )
    config = settings.lifecycle_config()
    await temporal.start_issue(IssueWorkflowInput(intake=intake, config=config))
    initial = IssueCase.open(intake, config).status
    await issue_repo.insert_issue_if_absent(session, intake, initial, workflow_id_for(issue_id))
    await session.commit()
    row = await issue_repo.get_issue(session, issue_id)
    if row is None:  # pragma: no cover - inserted just above
        raise not_found(f"issue {issue_id}")
    await _wait_for_dispatch(session, row)
    issue = issue_view(row, principal)
    await session.commit()
    return issue, True


async def _wait_for_dispatch(session: AsyncSession, row: IssueRow) -> None:
    """Give intake a moment, so the answer usually already names the tier-1 owner."""
    for _ in range(30):
        if row.state in DISPATCHED:
            return
        await session.commit()
        await asyncio.sleep(0.1)
        await session.refresh(row)


async def _organisation_for(session: AsyncSession, principal: Principal, body: IssueCreate) -> str:
    if principal.role == Role.CUSTOMER:
        assert principal.organisation_id is not None
        if body.organisation_id not in (None, principal.organisation_id):
            raise invalid(
                "body.organisation_id", "customers open issues for their own organisation"
            )
        return principal.organisation_id
    if body.organisation_id is None:
        raise invalid("body.organisation_id", "required when opening an issue on someone's behalf")
    if await reference_repo.get_organisation(session, body.organisation_id) is None:
        raise invalid("body.organisation_id", f"unknown organisation '{body.organisation_id}'")
    return body.organisation_id


async def visible_issue(session: AsyncSession, principal: Principal, issue_id: str) -> IssueRow:
    """The issue if the caller may see it; another organisation's issue is a plain 404."""
    row = await issue_repo.get_issue(session, issue_id)
    if row is None or not principal.can_see_organisation(row.organisation_id):
        raise not_found(f"issue {issue_id}")
    return row


async def issue_detail(session: AsyncSession, principal: Principal, issue_id: str) -> IssueDetail:
    row = await visible_issue(session, principal, issue_id)
    internal = principal.role in STAFF  # internal notes are for staff only
    events = await issue_repo.timeline(session, issue_id, include_internal=internal)
    comments = await issue_repo.list_comments(session, issue_id, include_internal=internal)
    base = issue_view(row, principal).model_dump()
    return IssueDetail(
        **base,
        description=row.description,
        deadlines=sla_service.deadlines(row),
        sla=sla_service.sla_read(row, principal, datetime.now(UTC)),
        timeline=[
            TimelineEntry(
                seq=e.seq,
                at=e.at,
                kind=e.kind,
                actor_kind=e.actor_kind.value,
                actor_name=e.actor_name,
                from_state=e.from_state,
                to_state=e.to_state,
                visibility=e.visibility,
                summary=e.summary,
            )
            for e in events
        ],
        comments=[
            CommentRead(
                id=c.comment_id,
                at=c.at,
                author_kind=c.author_kind.value,
                author_name=c.author_name,
                body=c.body,
                visibility=c.visibility,
            )
            for c in comments
            if internal or c.visibility == Visibility.PUBLIC
        ],
    )


async def engineer_choice(session: AsyncSession, engineer_id: str, field: str) -> OwnerChoice:
    engineer = await reference_repo.get_engineer(session, engineer_id)
    if engineer is None or not engineer.active:
        raise invalid(field, f"unknown or inactive engineer '{engineer_id}'")
    return OwnerChoice(engineer_id=engineer.id, engineer_name=engineer.name, tier=engineer.tier)


async def run_command(
    session: AsyncSession,
    temporal: TemporalGateway,
    row: IssueRow,
    update: Any,
    command: Any,
    update_id: str | None,
    principal: Principal,
) -> tuple[IssueRead, str | None]:
    """Send one command as a Temporal Update and answer with the projection it wrote."""
    issue_id, state = row.id, row.state
    await session.commit()  # no transaction held open while the workflow works
    try:
        result: CommandResult = await temporal.update(issue_id, update, command, update_id)
    except WorkflowEnded:
        raise conflict(
            f"issue {issue_id} is {state.value} and its lifecycle has ended; "
            "open a new issue instead"
        ) from None
    await session.refresh(row)  # the update returned after the projection was written
    issue = issue_view(row, principal)
    await session.commit()
    return issue, result.comment_id
