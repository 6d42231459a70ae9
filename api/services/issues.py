"""Issue use cases behind the routes: create once, read with access rules, run commands."""

import asyncio
import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import Problem, conflict, invalid, not_found
from api.schemas import (
    CommentRead,
    IssueCreate,
    IssueDetail,
    IssuePage,
    IssueRead,
    TimelineEntry,
)
from api.services import sla_views as sla_service
from api.services import timeline as timeline_service
from api.temporal_gateway import TemporalGateway, WorkflowEnded
from config.settings import Settings
from db.models import IssueRow
from db.repositories import idempotency as idempotency_repo
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from db.repositories.issues import MAX_CURSOR_LENGTH as MAX_CURSOR_LENGTH
from db.repositories.issues import IssueFilters as IssueFilters
from db.repositories.issues import IssueSort as IssueSort
from db.repositories.issues import SlaFilter as SlaFilter
from domain.enums import IssueState, Role, Visibility
from domain.ids import workflow_id_for
from domain.lifecycle import IssueCase
from domain.models import CommandResult, IssueIntake, IssueWorkflowInput, OwnerChoice

INTAKE_WAIT = timedelta(seconds=3)
"""How long `POST /issues` waits for intake to dispatch the issue before answering with the
issue as it stands (state `new`; the owner follows in the read model)."""
DISPATCHED = frozenset(s for s in IssueState if s not in (IssueState.NEW, IssueState.ACCEPTED))


def issue_view(row: IssueRow, principal: Principal) -> IssueRead:
    """The projection as the caller may see it: raw tracker errors are for staff only."""
    issue = IssueRead.model_validate(row)
    if principal.role in STAFF:
        return issue
    return issue.model_copy(
        update={
            "tracker_sync_error": None,
            "tracker_last_error": None,
            # Routing is internal: which team, which engineer was offered it.
            "team_id": None,
            "offered_to_id": None,
            "offer_expires_at": None,
        }
    )


def issue_id_for(scope: str, idempotency_key: str) -> str:
    """Deterministic id from the caller and its key: a retried create names the same issue."""
    digest = hashlib.sha256(f"{scope}\x00{idempotency_key}".encode()).digest()
    return "ITR-" + base64.b32encode(digest).decode()[:10]


def request_hash(body: IssueCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def key_reused() -> Problem:
    """A key already used for another request: never answer with that request's result."""
    return invalid(
        "header.Idempotency-Key",
        "this Idempotency-Key was already used with a different request; use a new key",
    )


async def create_issue(
    session: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    principal: Principal,
    body: IssueCreate,
    idempotency_key: str | None,
) -> tuple[IssueRead, bool]:
    """Start the issue's workflow, then project it; returns (issue, created_now).

    Order matters, so that nothing is ever half-written: the key is claimed and the row is
    tried (and rolled back) before the workflow starts, so a request the database would
    refuse starts nothing; the row is written only after the workflow started, so a 503
    leaves no issue behind. Every attempt under one key builds the same workflow input (the
    key's row keeps the intake instant), so a retry or a concurrent duplicate converges on
    the same workflow and row; exactly one of them answers 201 (see `mark_completed`).
    """
    organisation_id = await _organisation_for(session, principal, body)
    if await reference_repo.get_product(session, body.product_id) is None:
        raise invalid("body.product_id", f"unknown product '{body.product_id}'")

    key = idempotency_key or f"auto-{uuid.uuid4()}"
    issue_id = issue_id_for(principal.token_id, key)
    created_at = datetime.now(UTC)
    if idempotency_key is not None:
        saved = await idempotency_repo.claim_idempotency(
            session, principal.token_id, key, request_hash(body), issue_id, created_at
        )
        if saved.request_hash != request_hash(body):
            await session.rollback()
            raise key_reused()
        created_at = saved.created_at
        if saved.completed_at is not None:  # answered before: replay it
            existing = await issue_repo.get_issue(session, issue_id)
            if existing is not None:
                await session.commit()
                return issue_view(existing, principal), False

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
        created_at=created_at,
    )
    config = settings.lifecycle_config()
    initial = IssueCase.open(intake, config).status
    workflow_id = workflow_id_for(issue_id)
    async with session.begin_nested() as probe:  # would the database take this row?
        await issue_repo.insert_issue_if_absent(session, intake, initial, workflow_id)
        await probe.rollback()
    await session.commit()  # no transaction held open while Temporal starts the workflow

    dispatched = await temporal.start_issue_dispatched(
        IssueWorkflowInput(intake=intake, config=config), INTAKE_WAIT
    )
    await issue_repo.insert_issue_if_absent(session, intake, initial, workflow_id)
    created = True
    if idempotency_key is not None:
        created = await idempotency_repo.mark_completed(session, principal.token_id, key)
    await session.commit()
    row = await issue_repo.get_issue(session, issue_id)
    if row is None:  # pragma: no cover - inserted just above
        raise not_found(f"issue {issue_id}")
    if dispatched is None:  # intake is slow (no worker?): a short look at the read model
        await _wait_for_dispatch(session, row)
    issue = issue_view(row, principal)
    await session.commit()
    return issue, created


async def _wait_for_dispatch(session: AsyncSession, row: IssueRow) -> None:
    """After the Update's wait ran out, a last short look (intake may just be finishing)."""
    for _ in range(5):
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


async def list_issues(
    session: AsyncSession,
    principal: Principal,
    filters: IssueFilters,
    sort: IssueSort,
    cursor: str | None,
    limit: int,
    *,
    where: Any = None,
) -> IssuePage:
    """One page of matching issues as the caller may see them; a customer's filters are
    narrowed to its own organisation whatever it asked for, and a cursor this API did not
    issue is a 422 at `query.cursor`. `where` restricts further (a statistics drill-down)."""
    if principal.role == Role.CUSTOMER:
        filters = filters.model_copy(update={"organisation_id": principal.organisation_id})
    try:
        rows, next_cursor = await issue_repo.list_issues(
            session, filters, sort, cursor, limit, where=where
        )
    except issue_repo.InvalidCursor as exc:
        raise invalid("query.cursor", str(exc)) from None
    return IssuePage(items=[issue_view(r, principal) for r in rows], next_cursor=next_cursor)


async def visible_issue(session: AsyncSession, principal: Principal, issue_id: str) -> IssueRow:
    """The issue if the caller may see it; another organisation's issue is a plain 404."""
    row = await issue_repo.get_issue(session, issue_id)
    if row is None or not principal.can_see_organisation(row.organisation_id):
        raise not_found(f"issue {issue_id}")
    return row


async def issue_detail(session: AsyncSession, principal: Principal, issue_id: str) -> IssueDetail:
    """The issue with its timeline and comments as the caller may read them (customers:
    public entries in neutral words, numbered over what they see; see `timeline`)."""
    row = await visible_issue(session, principal, issue_id)
    internal = timeline_service.sees_internal_entries(principal)
    events = await timeline_service.timeline_for(session, principal, issue_id)
    comments = await issue_repo.list_comments(session, issue_id, include_internal=internal)
    base = issue_view(row, principal).model_dump()
    return IssueDetail(
        **base,
        description=row.description,
        deadlines=sla_service.deadlines(row),
        sla=sla_service.sla_read(row, principal, datetime.now(UTC)),
        timeline=[
            TimelineEntry(
                seq=e.number,
                at=e.row.at,
                kind=e.row.kind,
                actor_kind=e.row.actor_kind.value,
                actor_name=e.row.actor_name,
                from_state=e.row.from_state,
                to_state=e.row.to_state,
                visibility=e.row.visibility,
                summary=e.summary,
            )
            for e in events
        ],
        comments=[
            CommentRead(
                id=timeline_service.comment_id_for(principal, c.comment_id) or c.comment_id,
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
    return OwnerChoice(
        engineer_id=engineer.id,
        engineer_name=engineer.name,
        tier=engineer.tier,
        team_id=engineer.team_id,
    )


def command_update_id(principal: Principal, update_name: str, idempotency_key: str) -> str:
    """The Temporal update id of a keyed command: Temporal dedupes updates by id alone, so
    the key is scoped to the caller and the command (a key reused by someone else or on
    another command is not mistaken for a retry)."""
    return f"{principal.token_id}/{update_name}/{idempotency_key}"


def command_fingerprint(name: str, issue_id: str, command: BaseModel) -> str:
    """What makes two keyed commands the same request: command, issue and the validated
    command (canonical: whitespace trimmed, defaults filled, the caller as its actor)."""
    # The caller's teams travel with the command but do not make it another request.
    body = command.model_dump(mode="json", exclude={"actor": {"scope"}})
    canonical = json.dumps(
        {"command": name, "issue_id": issue_id, "body": body},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim_command_key(
    session: AsyncSession,
    principal: Principal,
    name: str,
    issue_id: str,
    command: BaseModel,
    idempotency_key: str,
) -> None:
    """Remember the request a command's Idempotency-Key was first used for; the same key on
    the same command and issue with a different body is a 422 (Temporal would otherwise
    answer it with the first request's result)."""
    scoped = hashlib.sha256(f"{issue_id}\x00{name}\x00{idempotency_key}".encode()).hexdigest()
    fingerprint = command_fingerprint(name, issue_id, command)
    saved = await idempotency_repo.claim_idempotency(
        session, principal.token_id, f"command/{scoped}", fingerprint, issue_id
    )
    if saved.request_hash != fingerprint:
        await session.rollback()
        raise key_reused()


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
    return issue, timeline_service.comment_id_for(principal, result.comment_id)
