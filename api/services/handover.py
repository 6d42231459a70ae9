"""Off-duty hand-over: every open issue of an engineer going off duty moves to their
substitute (or the team's next engineer, or its queue), one `hand_over` Update per issue.
Called by the staff endpoint `POST /engineers/{id}/hand-over` and by presence changes."""

from collections.abc import Awaitable

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import not_found
from api.schemas import BulkOutcome
from api.services import issues as issue_service
from api.services.issue_dispatch import for_each_issue
from api.temporal_gateway import TemporalGateway
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.models import Actor, HandOverCommand
from workflows.issue import IssueWorkflow


async def hand_over_open_issues(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    engineer_id: str,
    reason: str,
    idempotency_key: str | None = None,
    actor: Actor | None = None,
) -> list[BulkOutcome]:
    """Send `hand_over` to each open issue the engineer owns; a result per issue. `actor` is
    who hands over (default: the caller; the presence change passes the system's actor)."""
    if await reference_repo.get_engineer(session, engineer_id) is None:
        raise not_found(f"engineer {engineer_id}")
    command = HandOverCommand(
        actor=actor or principal.actor, engineer_id=engineer_id, reason=reason
    )
    if idempotency_key is not None:  # the same key with another reason is a 422
        await issue_service.claim_command_key(
            session, principal, "engineer_hand_over", engineer_id, command, idempotency_key
        )
    issue_ids = await issue_repo.open_issue_ids_owned_by(session, engineer_id)
    # One update id per engineer and key: a retried request joins each hand-over it started.
    update_id = (
        None
        if idempotency_key is None
        else f"{principal.token_id}/hand_over/{engineer_id}/{idempotency_key}"
    )

    def send(issue_id: str) -> Awaitable[object]:
        return temporal.update(issue_id, IssueWorkflow.hand_over, command, update_id)

    return await for_each_issue(session, principal, issue_ids, send, "handed_over")
