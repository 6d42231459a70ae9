"""Dispatch use cases behind the routes: one command on an issue (claim, offers, hand-back,
hand-over), and assigning many issues at once with a result per issue."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import Problem, forbidden
from api.schemas import BulkOutcome, BulkOutcomeKind, CommandResponse
from api.services import issues as issue_service
from api.temporal_gateway import CommandAccepted, TemporalGateway, WorkflowEnded
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.models import AssignCommand, OwnerChoice
from workflows.issue import IssueWorkflow

BULK_CONCURRENCY = 8


async def issue_command(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_id: str,
    update: Any,
    command: BaseModel,
    idempotency_key: str | None,
) -> CommandResponse:
    """Send one command to a visible issue (keyed: applied once) and answer its projection."""
    row = await issue_service.visible_issue(session, principal, issue_id)
    update_id = None
    if idempotency_key is not None:
        await issue_service.claim_command_key(
            session, principal, update.__name__, row.id, command, idempotency_key
        )
        update_id = issue_service.command_update_id(principal, update.__name__, idempotency_key)
    issue, comment_id = await issue_service.run_command(
        session, temporal, row, update, command, update_id, principal
    )
    return CommandResponse(issue=issue, comment_id=comment_id)


async def claimant(session: AsyncSession, principal: Principal) -> OwnerChoice:
    """The caller as the owner it would become: claiming needs an engineer identity."""
    engineer = None
    if principal.engineer_id is not None:
        engineer = await reference_repo.get_engineer(session, principal.engineer_id)
    if engineer is None or not engineer.active:
        raise forbidden(f"{principal.name} is not an active engineer and cannot own issues")
    return OwnerChoice(
        engineer_id=engineer.id,
        engineer_name=engineer.name,
        tier=engineer.tier,
        team_id=engineer.team_id,
    )


class BulkAssign(BaseModel):
    """What a keyed bulk assignment is: the same key with other issues or owner is a 422."""

    issue_ids: list[str]
    command: AssignCommand


async def assign_many(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_ids: list[str],
    engineer_id: str,
    reason: str | None,
    idempotency_key: str | None,
) -> list[BulkOutcome]:
    """Assign (or reassign) each issue to the engineer; one refusal never fails the others.
    A Temporal outage is still a 503: retry with the same key, nothing is applied twice."""
    engineer = await issue_service.engineer_choice(session, engineer_id, "body.engineer_id")
    command = AssignCommand(actor=principal.actor, engineer=engineer, reason=reason)
    ids = list(dict.fromkeys(issue_ids))
    if idempotency_key is not None:
        await issue_service.claim_command_key(
            session,
            principal,
            "bulk_assign",
            "*",
            BulkAssign(issue_ids=ids, command=command),
            idempotency_key,
        )
    update_id = (
        None if idempotency_key is None else f"{principal.token_id}/bulk_assign/{idempotency_key}"
    )

    def send(issue_id: str) -> Awaitable[object]:
        return temporal.update(issue_id, IssueWorkflow.assign, command, update_id)

    return await for_each_issue(session, principal, ids, send, "assigned")


async def for_each_issue(
    session: AsyncSession,
    principal: Principal,
    issue_ids: list[str],
    send: Callable[[str], Awaitable[object]],
    done: BulkOutcomeKind,
) -> list[BulkOutcome]:
    """Send a command to each visible issue concurrently (bounded) and report each outcome:
    `done`, refused (409), forbidden (403) or not_found."""
    found: dict[str, str] = {}
    for issue_id in issue_ids:
        row = await issue_repo.get_issue(session, issue_id)
        if row is not None and principal.can_see_organisation(row.organisation_id):
            found[issue_id] = row.state.value
    await session.commit()  # no transaction held open while the workflows work
    gate = asyncio.Semaphore(BULK_CONCURRENCY)

    async def one(issue_id: str) -> tuple[BulkOutcomeKind, str | None]:
        async with gate:
            try:
                await send(issue_id)
            except WorkflowEnded:
                return "refused", f"issue {issue_id} is {found[issue_id]} and its lifecycle ended"
            except CommandAccepted:
                return done, "accepted by the issue; still being applied"
            except Problem as exc:
                if exc.status == 403:
                    return "forbidden", exc.detail
                if exc.status != 409:
                    raise
                return "refused", exc.detail
            return done, None

    sent = [i for i in issue_ids if i in found]
    outcomes = dict(zip(sent, await asyncio.gather(*(one(i) for i in sent)), strict=True))
    results: list[BulkOutcome] = []
    for issue_id in issue_ids:
        if issue_id not in outcomes:
            missing = f"issue {issue_id} does not exist"
            results.append(BulkOutcome(issue_id=issue_id, outcome="not_found", detail=missing))
            continue
        outcome, detail = outcomes[issue_id]
        row = await issue_repo.get_issue(session, issue_id)
        results.append(
            BulkOutcome(
                issue_id=issue_id,
                outcome=outcome,
                detail=detail,
                issue=None if row is None else issue_service.issue_view(row, principal),
            )
        )
    await session.commit()
    return results
