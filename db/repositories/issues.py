"""The issue projection, its timeline and comments: written by the workflow, read by the API."""

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.models import CommentRow, EventRow, IssueRow, utcnow
from db.repositories import knowledge as knowledge_repo
from db.repositories import stats as stats_repo
from db.repositories._dialect import insert_if_absent
from db.repositories.issue_search import index_issue_texts, text_match
from db.repositories.reference import CLOSED_STATES
from domain.enums import (
    OPEN_STATES,
    ActorKind,
    Channel,
    IssueState,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
)
from domain.models import (
    CommentRecord,
    IssueIntake,
    IssueStatus,
    RecordBatch,
    TimelineEvent,
    TrackerSyncReport,
)

MAX_PAGE_SIZE = 500
MAX_CURSOR_LENGTH = 512
"""Far longer than any cursor `list_issues` issues (a few sort keys), far shorter than a
document nested deep enough to exhaust the JSON decoder."""


class IssueSort(StrEnum):
    """Orders `list_issues` can page through stably (the value is the API's `sort` parameter)."""

    CREATED_ASC = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED_DESC = "-updated_at"
    SEVERITY_ASC = "severity"
    NEXT_DEADLINE_ASC = "next_deadline"


class SlaFilter(StrEnum):
    """The `?sla=` list filter: issues whose SLA needs attention, one way or another."""

    AT_RISK = "at_risk"  # a warning fired on a clock still counting, nothing breached yet
    BREACHED = "breached"
    PAUSED = "paused"  # a clock is paused (waiting for the customer, or for R&D)


class IssueFilters(BaseModel):
    """List filters; every given criterion must hold (empty tuples and None mean "any")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    states: tuple[IssueState, ...] = ()
    severities: tuple[Severity, ...] = ()
    tier: Tier | None = None
    organisation_id: str | None = None
    owner_id: str | None = None
    owned: bool | None = None  # False: nobody owns it (owner_id=none)
    team_id: str | None = None
    open_only: bool = False
    product_id: str | None = None
    breached: bool | None = None
    sla: SlaFilter | None = None
    text: str | None = Field(default=None, max_length=200)


class InvalidCursor(ValueError):
    """A cursor that was tampered with, truncated, or issued for another sort order."""


# --- writing ------------------------------------------------------------------------------------


def _projection(status: IssueStatus) -> dict[str, Any]:
    """Columns derived from the workflow's status, rewritten on every recorded step."""
    first_response = status.clock(SlaClockKind.FIRST_RESPONSE)
    resolution = status.clock(SlaClockKind.RESOLUTION)
    calendar = status.sla.calendar if status.sla else None
    entitlement = status.entitlement
    return {
        "title": status.title,
        "category": status.category,
        "severity": status.severity,
        "service_mode": status.service_mode,
        "state": status.state,
        "previous_state": status.previous_state,
        "tier": status.tier,
        "owner_id": status.owner.engineer_id if status.owner else None,
        "owner_name": status.owner.engineer_name if status.owner else None,
        "team_id": status.team_id or (status.owner.team_id if status.owner else None),
        "tier1_owner_id": status.tier1_owner.engineer_id if status.tier1_owner else None,
        "offered_to_id": status.offer.engineer.engineer_id if status.offer else None,
        "offer_expires_at": status.offer.expires_at if status.offer else None,
        "contract_level": entitlement.level if entitlement else None,
        "warranty_status": entitlement.warranty_status if entitlement else None,
        "waiting_for": status.waiting_for,
        "accepted_at": status.accepted_at,
        "assigned_at": status.assigned_at,
        "first_response_at": status.first_response_at,
        "escalated_at": status.escalated_at,
        "resolved_at": status.resolved_at,
        "closed_at": status.closed_at,
        "cancelled_at": status.cancelled_at,
        "first_response_due": first_response.deadline(calendar)
        if first_response and calendar
        else None,
        "resolution_due": resolution.deadline(calendar) if resolution and calendar else None,
        "next_deadline": status.next_deadline,
        "first_response_breached": bool(first_response and first_response.breached),
        "resolution_breached": bool(resolution and resolution.breached),
        "breached": status.breached,
        "auto_close_at": status.auto_close_at,
        "reopen_until": status.reopen_until,
        "closure_outcome": status.closure_outcome,
        "resolution_summary": status.resolution_summary,
        "satisfaction": status.satisfaction,
        "reopen_count": status.reopen_count,
        "defect_key": status.defect_key,
        "tracker_sync_error": status.tracker_sync_error,
        "sla": status.sla.model_dump(mode="json") if status.sla else None,
        "sla_paused": bool(status.sla and status.sla.paused),
        "sla_at_risk": bool(status.sla and status.sla.at_risk),
        "ola_next_deadline": status.sla.next_ola_breach_at if status.sla else None,
        "soonest_deadline": _soonest_deadline(status),
        "revision": status.revision,
    }


def _soonest_deadline(status: IssueStatus) -> datetime | None:
    """The first breach due on an open issue, the promise's or the tier budget's."""
    if status.state in CLOSED_STATES or status.sla is None:
        return None
    due = [d for d in (status.next_deadline, status.sla.next_ola_breach_at) if d is not None]
    return min(due, default=None)


async def insert_issue_if_absent(
    session: AsyncSession, intake: IssueIntake, status: IssueStatus, workflow_id: str
) -> bool:
    """Create the issue row from its intake; False when it already exists (a retry or a race)."""
    values = {
        **_projection(status),
        "id": intake.issue_id,
        "workflow_id": workflow_id,
        "organisation_id": intake.organisation_id,
        "product_id": intake.product_id,
        "title": intake.title,
        "description": intake.description,
        "channel": intake.channel,
        "reporter_kind": intake.reporter.kind,
        "reporter_id": intake.reporter.id,
        "reporter_name": intake.reporter.name,
        "created_at": intake.created_at,
        "updated_at": intake.created_at,
    }
    if await insert_if_absent(session, IssueRow, values, [IssueRow.id]) != 1:
        return False
    await index_issue_texts(session, [(intake.issue_id, intake.title, intake.description)])
    return True


async def _insert_issue_without_intake(
    session: AsyncSession, status: IssueStatus, workflow_id: str
) -> None:
    """Recovery path for a wiped read model: rebuild the row from the status alone."""
    values = {
        **_projection(status),
        "id": status.issue_id,
        "workflow_id": workflow_id,
        "organisation_id": status.organisation_id,
        "product_id": status.product_id,
        "description": "",
        "channel": Channel.PORTAL,
        "reporter_kind": ActorKind.SYSTEM,
        "reporter_id": "unknown",
        "reporter_name": "unknown",
        "created_at": status.created_at,
        "updated_at": status.created_at,
    }
    if await insert_if_absent(session, IssueRow, values, [IssueRow.id]) == 1:
        await index_issue_texts(session, [(status.issue_id, status.title, "")])


def _event_values(event: TimelineEvent) -> dict[str, Any]:
    return {
        "issue_id": event.issue_id,
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind,
        "actor_kind": event.actor.kind,
        "actor_id": event.actor.id,
        "actor_name": event.actor.name,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "visibility": event.visibility,
        "summary": event.summary,
        "data": dict(event.data),
    }


def _comment_values(comment: CommentRecord) -> dict[str, Any]:
    return {
        "comment_id": comment.comment_id,
        "issue_id": comment.issue_id,
        "at": comment.at,
        "author_kind": comment.author.kind,
        "author_id": comment.author.id,
        "author_name": comment.author.name,
        "body": comment.body,
        "visibility": comment.visibility,
    }


async def apply_record_batch(session: AsyncSession, batch: RecordBatch, workflow_id: str) -> None:
    """Record one workflow step idempotently: a retried or late batch never writes twice.

    Events and the comment are keyed by ids the workflow chose, so re-inserting them is a
    no-op; the projection moves only forward (an older revision never overwrites a newer one).
    """
    status = batch.status
    if batch.intake is not None:
        await insert_issue_if_absent(session, batch.intake, status, workflow_id)
    else:
        await _insert_issue_without_intake(session, status, workflow_id)
    await insert_if_absent(
        session,
        EventRow,
        [_event_values(event) for event in batch.events],
        [EventRow.issue_id, EventRow.seq],
    )
    if batch.comment is not None:
        await insert_if_absent(
            session, CommentRow, _comment_values(batch.comment), [CommentRow.comment_id]
        )
    moments = [event.at for event in batch.events]
    if batch.comment is not None:
        moments.append(batch.comment.at)
    await session.execute(
        sa.update(IssueRow)
        .where(IssueRow.id == status.issue_id, IssueRow.revision <= status.revision)
        .values(**_projection(status), updated_at=max(moments, default=None) or utcnow())
    )
    # The statistics follow in the same transaction, from everything recorded so far.
    await stats_repo.refresh_facts(session, status.issue_id)
    # The knowledge base's solve and evolve loops (drafts on escalation, capture prompts on
    # resolution, known errors on a defect fix) see every recorded step, in this transaction.
    await knowledge_repo.react_to_batch(session, batch)


# --- reading ------------------------------------------------------------------------------------


async def record_tracker_attempt(session: AsyncSession, report: TrackerSyncReport) -> None:
    """Show a create-defect attempt on the issue; not part of `_projection`, so the workflow's
    own writes never reset it. The first attempt starts afresh (a retry after a permanent
    failure runs a new activity); later ones never overwrite a newer attempt's report."""
    values: dict[str, Any] = {
        "tracker_sync_pending": report.pending,
        "tracker_attempts": report.attempt,
    }
    if not report.keep_last_error:
        values["tracker_last_error"] = report.last_error[:500] if report.last_error else None
    statement = sa.update(IssueRow).where(IssueRow.id == report.issue_id)
    if report.attempt > 1:
        statement = statement.where(IssueRow.tracker_attempts <= report.attempt)
    await session.execute(statement.values(**values))


async def count_linked_issues(session: AsyncSession, defect_key: str) -> int:
    """How many of our issues are linked to the defect (the impact R&D is told about)."""
    query = (
        sa.select(sa.func.count()).select_from(IssueRow).where(IssueRow.defect_key == defect_key)
    )
    return int((await session.execute(query)).scalar_one())


async def get_issue(session: AsyncSession, issue_id: str) -> IssueRow | None:
    """The projection of one issue, reloaded so a long session never serves stale state."""
    return await session.get(IssueRow, issue_id, populate_existing=True)


async def _filtered(
    session: AsyncSession, query: sa.Select[Any], filters: IssueFilters
) -> sa.Select[Any]:
    if filters.states:
        query = query.where(IssueRow.state.in_(filters.states))
    if filters.severities:
        query = query.where(IssueRow.severity.in_(filters.severities))
    if filters.tier is not None:
        query = query.where(IssueRow.tier == filters.tier)
    if filters.organisation_id is not None:
        query = query.where(IssueRow.organisation_id == filters.organisation_id)
    if filters.owner_id is not None:
        query = query.where(IssueRow.owner_id == filters.owner_id)
    if filters.owned is not None:
        owner = IssueRow.owner_id
        query = query.where(owner.is_not(None) if filters.owned else owner.is_(None))
    if filters.team_id is not None:
        query = query.where(IssueRow.team_id == filters.team_id)
    if filters.open_only:
        # IN, not NOT IN: the (state, ...) indexes serve a list of values, not an exclusion.
        query = query.where(IssueRow.state.in_(sorted(OPEN_STATES)))
    if filters.product_id is not None:
        query = query.where(IssueRow.product_id == filters.product_id)
    if filters.breached is not None:
        query = query.where(IssueRow.breached.is_(filters.breached))
    if filters.sla == SlaFilter.AT_RISK:
        query = query.where(IssueRow.sla_at_risk.is_(True), IssueRow.breached.is_(False))
    elif filters.sla == SlaFilter.BREACHED:
        query = query.where(IssueRow.breached.is_(True))
    elif filters.sla == SlaFilter.PAUSED:
        query = query.where(IssueRow.sla_paused.is_(True))
    if filters.text and filters.text.strip():
        query = query.where(await text_match(session, filters.text))
    return query


@dataclass(frozen=True)
class _SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool = False
    nullable: bool = False

    def order_by(self) -> Any:
        """ORDER BY term; NULLs go last in both directions on both dialects."""
        term = self.column.desc() if self.descending else self.column.asc()
        return term.nulls_last() if self.nullable else term


# Each sort ends with the primary key so that every row has a unique position.
_SORT_KEYS: dict[IssueSort, tuple[_SortKey, ...]] = {
    IssueSort.CREATED_ASC: (_SortKey(IssueRow.created_at), _SortKey(IssueRow.id)),
    IssueSort.CREATED_DESC: (
        _SortKey(IssueRow.created_at, descending=True),
        _SortKey(IssueRow.id, descending=True),
    ),
    IssueSort.UPDATED_DESC: (
        _SortKey(IssueRow.updated_at, descending=True),
        _SortKey(IssueRow.id, descending=True),
    ),
    IssueSort.SEVERITY_ASC: (
        _SortKey(IssueRow.severity),
        _SortKey(IssueRow.created_at),
        _SortKey(IssueRow.id),
    ),
    IssueSort.NEXT_DEADLINE_ASC: (
        _SortKey(IssueRow.next_deadline, nullable=True),
        _SortKey(IssueRow.id),
    ),
}
_DATETIME_KEYS = frozenset({"created_at", "updated_at", "next_deadline"})


def _encode_cursor(sort: IssueSort, row: IssueRow) -> str:
    values: list[str | int | None] = []
    for key in _SORT_KEYS[sort]:
        value = getattr(row, key.column.key)
        if isinstance(value, datetime):
            values.append(value.isoformat())
        elif isinstance(value, int):
            values.append(int(value))
        else:
            values.append(value)
    raw = json.dumps({"s": sort.value, "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_cursor(sort: IssueSort, cursor: str) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not isinstance(decoded, dict) or decoded.get("s") != sort.value:
            raise InvalidCursor("the cursor belongs to another sort order")
        keys = _SORT_KEYS[sort]
        values = decoded.get("k")
        if not isinstance(values, list) or len(values) != len(keys):
            raise InvalidCursor("malformed cursor")
        result: list[Any] = []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                if not key.nullable:
                    raise InvalidCursor("malformed cursor")
                result.append(None)
            elif key.column.key in _DATETIME_KEYS:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise InvalidCursor("malformed cursor")
                result.append(moment)
            elif key.column.key == "severity":
                result.append(Severity(value))
            elif isinstance(value, str):
                result.append(value)
            else:
                raise InvalidCursor("malformed cursor")
        return result
    except InvalidCursor:
        raise
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor("malformed cursor") from exc


def _after(key: _SortKey, value: Any) -> Any:
    """Rows strictly after `value` on one key; NULLs sort last in both directions."""
    if value is None:
        return sa.false()
    beyond = key.column < value if key.descending else key.column > value
    return sa.or_(beyond, key.column.is_(None)) if key.nullable else beyond


def _same(key: _SortKey, value: Any) -> Any:
    return key.column.is_(None) if value is None else key.column == value


def _keyset_predicate(sort: IssueSort, values: list[Any]) -> Any:
    """(k1, k2, ...) strictly after the cursor, expanded so both dialects and NULLs work."""
    keys = _SORT_KEYS[sort]
    predicate: Any = None
    for key, value in reversed(list(zip(keys, values, strict=True))):
        after = _after(key, value)
        predicate = (
            after if predicate is None else sa.or_(after, sa.and_(_same(key, value), predicate))
        )
    return predicate


async def list_issues(
    session: AsyncSession,
    filters: IssueFilters,
    sort: IssueSort = IssueSort.CREATED_DESC,
    cursor: str | None = None,
    limit: int = 50,
    *,
    where: Any = None,
) -> tuple[list[IssueRow], str | None]:
    """One page of matching issues and the cursor of the next page (None on the last page).

    Keyset pagination: the cursor holds the last row's sort key, so pages never skip or repeat
    rows when issues are added meanwhile. Raises InvalidCursor for a cursor it did not issue.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = await _filtered(session, sa.select(IssueRow), filters)
    if where is not None:  # a further restriction, e.g. a statistics drill-down's cohort
        query = query.where(where)
    if cursor is not None:
        query = query.where(_keyset_predicate(sort, _decode_cursor(sort, cursor)))
    order = [key.order_by() for key in _SORT_KEYS[sort]]
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, _encode_cursor(sort, page[-1])


async def breaching_before(
    session: AsyncSession,
    before: datetime,
    organisation_id: str | None = None,
    limit: int = 100,
    *,
    include_ola: bool = False,
) -> list[IssueRow]:
    """Open issues whose next breach is due by `before` (overdue ones included), soonest first;
    with include_ola (staff) a tier budget running out counts as well as the promise.

    `next_deadline` only counts clocks that have not breached yet, so an issue shows here
    until its breach is recorded, then moves to the breached filter.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    # soonest_deadline is the earlier of the promise and the tier budget, kept for open
    # issues only; next_deadline is None once every clock has stopped. Either way one index
    # range, read in order (the state test only guards a row recorded mid-close).
    soonest = IssueRow.soonest_deadline if include_ola else IssueRow.next_deadline
    query = sa.select(IssueRow).where(soonest <= before, IssueRow.state.in_(sorted(OPEN_STATES)))
    if organisation_id is not None:
        query = query.where(IssueRow.organisation_id == organisation_id)
    query = query.order_by(soonest, IssueRow.id).limit(limit)
    return list(await session.scalars(query))


async def count_issues(session: AsyncSession, filters: IssueFilters) -> int:
    """How many issues match, for list totals and dashboards."""
    query = await _filtered(session, sa.select(sa.func.count()).select_from(IssueRow), filters)
    return int((await session.execute(query)).scalar_one())


async def timeline(
    session: AsyncSession, issue_id: str, include_internal: bool = False
) -> list[EventRow]:
    """The audit trail in the order the workflow wrote it; customers see public entries only."""
    query = sa.select(EventRow).where(EventRow.issue_id == issue_id).order_by(EventRow.seq)
    if not include_internal:
        query = query.where(EventRow.visibility == Visibility.PUBLIC)
    return list(await session.scalars(query))


async def list_comments(
    session: AsyncSession, issue_id: str, include_internal: bool = False
) -> list[CommentRow]:
    """Comments oldest first; ids end in the workflow's counter ("...:c12"), so ties sort by it."""
    query = (
        sa.select(CommentRow)
        .where(CommentRow.issue_id == issue_id)
        .order_by(CommentRow.at, sa.func.length(CommentRow.comment_id), CommentRow.comment_id)
    )
    if not include_internal:
        query = query.where(CommentRow.visibility == Visibility.PUBLIC)
    return list(await session.scalars(query))


async def get_comment(session: AsyncSession, comment_id: str) -> CommentRow | None:
    """One comment, e.g. the one an update just wrote."""
    return await session.get(CommentRow, comment_id)


async def count_open_by_owner(
    session: AsyncSession, owner_ids: Iterable[str] | None = None
) -> dict[str, int]:
    """Open issues per owner (engineers with none are absent), for workload views and dispatch."""
    query = (
        sa.select(IssueRow.owner_id, sa.func.count(IssueRow.id))
        .where(IssueRow.owner_id.is_not(None), IssueRow.state.not_in(CLOSED_STATES))
        .group_by(IssueRow.owner_id)
    )
    if owner_ids is not None:
        query = query.where(IssueRow.owner_id.in_(list(owner_ids)))
    result = await session.execute(query)
    return {owner_id: int(count) for owner_id, count in result if owner_id is not None}


async def open_issue_ids_owned_by(session: AsyncSession, engineer_id: str) -> list[str]:
    """The open issues an engineer owns or is offered, oldest first: what a hand-over moves
    away."""
    held = sa.or_(IssueRow.owner_id == engineer_id, IssueRow.offered_to_id == engineer_id)
    result = await session.scalars(
        sa.select(IssueRow.id)
        .where(held, IssueRow.state.not_in(CLOSED_STATES))
        .order_by(IssueRow.created_at, IssueRow.id)
    )
    return list(result)
