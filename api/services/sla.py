"""SLA use cases behind the routes: an issue's SLA history, the at-risk list, bulk re-apply."""

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import Problem, invalid
from api.schemas import (
    AtRiskIssue,
    IssueSlaHistory,
    ReapplyResult,
    SlaHistoryEntry,
)
from api.services import issues as issue_service
from api.services import timeline as timeline_service
from api.services.sla_views import sees_internal_clocks, sla_read, snapshot
from api.temporal_gateway import CommandAccepted, TemporalGateway, WorkflowEnded
from db.models import IssueRow
from db.repositories import issues as issue_repo
from domain.enums import SLA_EVENTS, Role, SlaClockKind
from domain.models import ReapplySlaCommand
from workflows.issue import IssueWorkflow


class BulkReapply(BaseModel):
    """What a keyed bulk re-apply is: the same key with other issues or reason is a 422."""

    issue_ids: list[str]
    command: ReapplySlaCommand


MAX_WITHIN = timedelta(days=366)
REAPPLY_CONCURRENCY = 8
_DURATION = TypeAdapter(timedelta)


async def sla_history(
    session: AsyncSession, principal: Principal, issue_id: str, now: datetime
) -> IssueSlaHistory:
    row = await issue_service.visible_issue(session, principal, issue_id)
    events = await timeline_service.timeline_for(session, principal, issue_id)
    return IssueSlaHistory(
        issue_id=row.id,
        sla=sla_read(row, principal, now),
        history=[
            SlaHistoryEntry(
                seq=e.number,
                at=e.row.at,
                kind=e.row.kind,
                actor_name=e.row.actor_name,
                visibility=e.row.visibility,
                summary=e.summary,
                data=e.data,
            )
            for e in events
            if e.row.kind in SLA_EVENTS
        ],
    )


def parse_within(raw: str) -> timedelta:
    """`within` as ISO 8601 (PT2H, P1D) or a number of seconds; positive, at most a year."""
    text = raw.strip()
    try:
        value = timedelta(seconds=float(text))
    except ValueError:
        try:
            value = _DURATION.validate_python(text)
        except ValidationError:
            raise invalid(
                "query.within", "give an ISO 8601 duration (PT2H) or a number of seconds"
            ) from None
    except OverflowError:
        raise invalid("query.within", "too long") from None
    if value <= timedelta(0):
        raise invalid("query.within", "must be positive")
    if value > MAX_WITHIN:
        raise invalid("query.within", "at most 366 days")
    return value


async def at_risk(
    session: AsyncSession, principal: Principal, within: timedelta, limit: int, now: datetime
) -> list[AtRiskIssue]:
    """Open issues breaching by now + within, soonest first (customers: their promises only)."""
    customer = principal.role == Role.CUSTOMER
    organisation_id = principal.organisation_id if customer else None
    staff = sees_internal_clocks(principal)
    # next_deadline is the promise, ola_next_deadline the tier budget: customers are
    # selected by their promise only, staff by whichever comes first.
    rows = await issue_repo.breaching_before(
        session, now + within, organisation_id, limit, include_ola=staff
    )
    items: list[AtRiskIssue] = []
    for row in rows:
        sla = snapshot(row)
        clock = None if sla is None else sla.next_to_breach(promise_only=not staff)
        if sla is not None and clock is not None:
            deadline = clock.deadline(sla.calendar)
            remaining = clock.remaining(sla.calendar, now)
        elif staff and row.next_deadline is not None:
            deadline, remaining = row.next_deadline, max(row.next_deadline - now, timedelta(0))
        else:
            continue
        if deadline is None or deadline > now + within:
            continue
        items.append(
            AtRiskIssue(
                issue_id=row.id,
                title=row.title,
                organisation_id=row.organisation_id,
                severity=row.severity,
                state=row.state,
                tier=row.tier,
                owner_id=row.owner_id,
                owner_name=row.owner_name,
                next_deadline=deadline,
                clock=SlaClockKind(clock.name) if clock is not None else None,
                remaining=remaining,
                overdue=deadline <= now,
                team_id=row.team_id,
            )
        )
    items.sort(key=lambda item: (item.next_deadline, item.issue_id))
    return items[:limit]


async def reapply_many(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_ids: list[str],
    reason: str | None,
    idempotency_key: str | None,
) -> list[ReapplyResult]:
    """Re-apply the current policy to each issue; one refusal never fails the others.

    A Temporal outage (503) still fails the request: retrying it with the same
    Idempotency-Key re-applies nothing twice (each update id is derived from the key).
    """
    ids = list(dict.fromkeys(issue_ids))
    command = ReapplySlaCommand(actor=principal.actor, reason=reason)
    if idempotency_key is not None:
        batch = BulkReapply(issue_ids=ids, command=command)
        await issue_service.claim_command_key(
            session, principal, "bulk_reapply_sla", "*", batch, idempotency_key
        )
    rows: dict[str, IssueRow] = {}
    for issue_id in ids:
        row = await issue_repo.get_issue(session, issue_id)
        if row is not None:
            rows[issue_id] = row
    states = {issue_id: row.state for issue_id, row in rows.items()}
    await session.commit()  # no transaction held open while the workflows work
    update_id = (
        None if idempotency_key is None else f"{principal.token_id}/reapply_sla/{idempotency_key}"
    )
    gate = asyncio.Semaphore(REAPPLY_CONCURRENCY)

    async def one(issue_id: str) -> tuple[str, str | None]:
        async with gate:
            try:
                await temporal.update(issue_id, IssueWorkflow.reapply_sla, command, update_id)
            except WorkflowEnded:
                return "refused", (
                    f"issue {issue_id} is {states[issue_id].value} and its lifecycle has ended"
                )
            except CommandAccepted:  # taken by the workflow: applied, only not yet recorded
                return "reapplied", "accepted by the issue; still being applied"
            except Problem as exc:
                if exc.status != 409:
                    raise
                return "refused", exc.detail
            return "reapplied", None

    outcomes = await asyncio.gather(*(one(i) for i in ids if i in rows))
    done = dict(zip([i for i in ids if i in rows], outcomes, strict=True))
    results: list[ReapplyResult] = []
    for issue_id in ids:
        if issue_id not in rows:
            results.append(
                ReapplyResult(
                    issue_id=issue_id,
                    outcome="not_found",
                    detail=f"issue {issue_id} does not exist",
                )
            )
            continue
        outcome, detail = done[issue_id]
        row = await issue_repo.get_issue(session, issue_id)
        results.append(
            ReapplyResult(
                issue_id=issue_id,
                outcome="reapplied" if outcome == "reapplied" else "refused",
                detail=detail,
                issue=None if row is None else issue_service.issue_view(row, principal),
            )
        )
    await session.commit()
    return results
