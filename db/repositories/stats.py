"""The statistics projection (`issue_facts`) and the queries the figures are computed from.

One row per issue, rewritten by `refresh_facts` from the issue's recorded events and its
latest SLA snapshot inside the transaction that records each batch: a retried or late batch
rewrites the same row from the same events, so the projection always equals a recomputation
(`recompute_all`, the admin's `POST /stats/recompute`).
"""

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import EngineerRow, EventRow, IssueFactsRow, IssueRow, TeamRow, TokenRow
from db.repositories._dialect import upsert
from domain.enums import Category, Channel, ContractLevel, Role, Severity, Tier
from domain.models import Actor, TimelineEvent
from domain.sla_tracking import IssueSla
from domain.stats import (
    Compliance,
    DrillMetric,
    Figures,
    IssueFacts,
    IssueHeader,
    Period,
    ReportAudience,
    ReportRecipient,
    ReportScope,
    figures,
    issue_facts,
)

_FACT_COLUMNS = tuple(IssueFacts.model_fields)


def _timeline_event(row: EventRow) -> TimelineEvent:
    return TimelineEvent(
        issue_id=row.issue_id,
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        actor=Actor(kind=row.actor_kind, id=row.actor_id, name=row.actor_name),
        from_state=row.from_state,
        to_state=row.to_state,
        visibility=row.visibility,
        summary=row.summary,
        data=dict(row.data or {}),
    )


def _header(row: IssueRow) -> IssueHeader:
    return IssueHeader(
        issue_id=row.id,
        organisation_id=row.organisation_id,
        product_id=row.product_id,
        category=row.category,
        severity=row.severity,
        channel=row.channel,
        contract_level=row.contract_level,
        created_at=row.created_at,
    )


def _row_values(facts: IssueFacts) -> dict[str, Any]:
    values = facts.model_dump()
    for name, value in values.items():
        if isinstance(value, Compliance | Category | Channel | ContractLevel):
            values[name] = value.value
        elif isinstance(value, Severity | Tier):
            values[name] = int(value)
        elif isinstance(value, StrEnum):
            values[name] = value.value
    return values


def facts_of(row: IssueFactsRow) -> IssueFacts:
    """A stored row as the domain's facts (the inverse of what `refresh_facts` writes)."""
    return IssueFacts.model_validate({name: getattr(row, name) for name in _FACT_COLUMNS})


_FACTS_LIST = TypeAdapter(list[IssueFacts])
_ID_CHUNK = 500  # bound parameters per query, well under SQLite's limit
_FACTS_TABLE = IssueFactsRow.__table__


async def _facts_where(session: AsyncSession, *conditions: Any) -> list[IssueFacts]:
    """Matching rows as facts, read as plain rows (no ORM identity map) and validated in one
    call: reading a period's few thousand rows is most of a summary's cost."""
    result = await session.execute(sa.select(_FACTS_TABLE).where(*conditions))
    return _FACTS_LIST.validate_python([dict(row) for row in result.mappings()])


async def compute_facts(session: AsyncSession, issue_id: str) -> IssueFacts | None:
    """The facts of one issue from what is recorded now (None for an unknown issue)."""
    issue = await session.get(IssueRow, issue_id, populate_existing=True)
    if issue is None:
        return None
    query = sa.select(EventRow).where(EventRow.issue_id == issue_id).order_by(EventRow.seq)
    events = [_timeline_event(row) for row in await session.scalars(query)]
    sla = IssueSla.model_validate(issue.sla) if issue.sla else None
    return issue_facts(_header(issue), events, sla)


async def refresh_facts(session: AsyncSession, issue_id: str) -> None:
    """Rewrite the issue's facts row from its events (called with every recorded batch)."""
    facts = await compute_facts(session, issue_id)
    if facts is None:
        return
    values = _row_values(facts)
    await upsert(
        session,
        IssueFactsRow,
        values,
        [IssueFactsRow.issue_id],
        lambda excluded: {name: excluded[name] for name in values if name != "issue_id"},
    )


async def recompute_all(session: AsyncSession, chunk: int = 500) -> int:
    """Rebuild every issue's facts from its events; returns how many issues were computed."""
    done = 0
    after = ""
    while True:
        ids = list(
            await session.scalars(
                sa.select(IssueRow.id).where(IssueRow.id > after).order_by(IssueRow.id).limit(chunk)
            )
        )
        if not ids:
            return done
        for issue_id in ids:
            await refresh_facts(session, issue_id)
        done += len(ids)
        after = ids[-1]


# --- reading ------------------------------------------------------------------------------------


class StatsFilters(BaseModel):
    """Which issues a figure counts: every given criterion must hold (None means any).

    `organisation_ids` and `team_ids` are the caller's scope (a customer's organisation, a
    manager's teams); an issue belongs to a team when it names the team, or when the engineer
    who resolved (or holds) it is in the team.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation_ids: tuple[str, ...] | None = None
    team_ids: tuple[str, ...] | None = None
    engineer_id: str | None = None
    product_id: str | None = None
    severity: Severity | None = None
    category: Category | None = None
    channel: Channel | None = None
    contract_level: ContractLevel | None = None
    tier: Tier | None = None


def _conditions(filters: StatsFilters) -> list[Any]:
    f = IssueFactsRow
    conditions: list[Any] = []
    if filters.organisation_ids is not None:
        conditions.append(f.organisation_id.in_(filters.organisation_ids))
    if filters.team_ids is not None:
        members = sa.select(EngineerRow.id).where(EngineerRow.team_id.in_(filters.team_ids))
        conditions.append(sa.or_(f.team_id.in_(filters.team_ids), f.engineer_id.in_(members)))
    simple = {
        f.engineer_id: filters.engineer_id,
        f.product_id: filters.product_id,
        f.severity: int(filters.severity) if filters.severity is not None else None,
        f.category: filters.category.value if filters.category else None,
        f.channel: filters.channel.value if filters.channel else None,
        f.contract_level: filters.contract_level.value if filters.contract_level else None,
        f.tier: int(filters.tier) if filters.tier is not None else None,
    }
    conditions.extend(column == value for column, value in simple.items() if value is not None)
    return conditions


# The instants a figure's cohort is anchored on (see `domain.stats.figures`).
_ANCHORS = (
    IssueFactsRow.created_at,
    IssueFactsRow.closed_at,
    IssueFactsRow.cancelled_at,
    IssueFactsRow.first_response_at,
    IssueFactsRow.defect_linked_at,
    IssueFactsRow.defect_fixed_at,
)


async def facts_in(
    session: AsyncSession, filters: StatsFilters, period: Period
) -> list[IssueFacts]:
    """Facts of every issue one of whose anchors falls in the period (each an index range,
    united: the cost follows the period's volume, not the history's)."""
    conditions = _conditions(filters)
    parts = [
        sa.select(IssueFactsRow.issue_id).where(
            anchor >= period.start, anchor < period.end, *conditions
        )
        for anchor in _ANCHORS
    ]
    ids = sorted(await session.scalars(sa.union(*parts)))
    # Then by primary key, in chunks: a planner given `IN (SELECT ... UNION ...)` may scan the
    # whole table instead (PostgreSQL does at 100k rows).
    found: list[IssueFacts] = []
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        found.extend(await _facts_where(session, IssueFactsRow.issue_id.in_(chunk)))
    return found


def open_at_condition(at: datetime) -> Any:
    """In the backlog at `at` (`domain.stats.open_at`)."""
    f = IssueFactsRow
    return sa.and_(f.created_at <= at, sa.or_(f.ended_at.is_(None), f.ended_at > at))


async def backlog_at(
    session: AsyncSession, filters: StatsFilters, at: datetime
) -> list[IssueFacts]:
    """Facts of the issues open at `at`: still open ones, and those that ended later (two
    index ranges rather than one scan of the history)."""
    f = IssueFactsRow
    conditions = _conditions(filters)
    still_open = await _facts_where(session, f.ended_at.is_(None), f.created_at <= at, *conditions)
    ended_later = await _facts_where(session, f.ended_at > at, f.created_at <= at, *conditions)
    return still_open + ended_later


async def figures_of(session: AsyncSession, filters: StatsFilters, period: Period) -> Figures:
    """The figures of one period over the filtered issues: the dashboard's summary and the
    scheduled reports both come from here."""
    facts = await facts_in(session, filters, period)
    backlog = await backlog_at(session, filters, period.end)
    return figures(facts, period, [f.created_at for f in backlog])


async def report_audiences(session: AsyncSession) -> list[ReportAudience]:
    """Who gets the scheduled reports: each team's manager, and each organisation's customer
    contacts with an address (one report per team, one per organisation)."""
    audiences: list[ReportAudience] = []
    managers = await session.execute(
        sa.select(TeamRow.id, EngineerRow.id, EngineerRow.name, EngineerRow.email)
        .join(EngineerRow, EngineerRow.id == TeamRow.manager_id)
        .order_by(TeamRow.id)
    )
    for team_id, engineer_id, name, email in managers:
        manager = ReportRecipient(kind="manager", id=engineer_id, name=name, email=email)
        audiences.append(
            ReportAudience(scope=ReportScope.TEAM, scope_id=team_id, recipients=(manager,))
        )
    contacts = await session.scalars(
        sa.select(TokenRow)
        .where(
            TokenRow.role == Role.CUSTOMER,
            TokenRow.revoked_at.is_(None),
            TokenRow.organisation_id.is_not(None),
            TokenRow.contact_email.is_not(None),
        )
        .order_by(TokenRow.organisation_id, TokenRow.id)
    )
    by_organisation: dict[str, list[ReportRecipient]] = {}
    for token in contacts:
        if token.organisation_id is None:
            continue
        by_organisation.setdefault(token.organisation_id, []).append(
            ReportRecipient(
                kind="customer", id=token.id, name=token.contact_name, email=token.contact_email
            )
        )
    audiences.extend(
        ReportAudience(scope=ReportScope.ORGANISATION, scope_id=org, recipients=tuple(people))
        for org, people in by_organisation.items()
    )
    return audiences


async def engineer_teams(session: AsyncSession) -> dict[str, str]:
    """Each engineer's team, to attribute facts that name no team of their own."""
    rows = await session.execute(sa.select(EngineerRow.id, EngineerRow.team_id))
    return {engineer_id: team_id for engineer_id, team_id in rows}


def issue_ids_where(filters: StatsFilters, condition: Any) -> Any:
    """`issues.id IN (facts matching the filters and condition)`: a drill-down's restriction
    of the ordinary issue list."""
    query = sa.select(IssueFactsRow.issue_id).where(condition, *_conditions(filters))
    return IssueRow.id.in_(query)


def drill_down_condition(metric: DrillMetric, period: Period) -> Any:
    """The SQL form of the metric's cohort in `period` (as `domain.stats.figures` counts it)."""
    f = IssueFactsRow

    def within(column: Any) -> Any:
        return sa.and_(column >= period.start, column < period.end)

    created, closed = within(f.created_at), within(f.closed_at)
    conditions: dict[DrillMetric, Any] = {
        DrillMetric.CREATED: created,
        DrillMetric.CLOSED: closed,
        DrillMetric.CANCELLED: within(f.cancelled_at),
        DrillMetric.BACKLOG: open_at_condition(period.end),
        DrillMetric.RESPONDED: within(f.first_response_at),
        DrillMetric.FIRST_CONTACT_RESOLUTION: sa.and_(closed, f.first_contact_resolution),
        DrillMetric.REASSIGNED: sa.and_(closed, f.reassignments > 0),
        DrillMetric.REOPENED: sa.and_(closed, f.reopen_count > 0),
        DrillMetric.RATED: sa.and_(closed, f.satisfaction.is_not(None)),
        DrillMetric.OLA_BREACHED: sa.and_(
            closed,
            sa.or_(
                *(
                    c == Compliance.BREACHED.value
                    for c in (f.ola_tier_1, f.ola_tier_2, f.ola_tier_3)
                )
            ),
        ),
        DrillMetric.DEFECT_LINKED: within(f.defect_linked_at),
        DrillMetric.DEFECT_FIXED: within(f.defect_fixed_at),
    }
    for outcome in Compliance:
        conditions[DrillMetric(f"first_response_{outcome.value}")] = sa.and_(
            created, f.first_response_sla == outcome.value
        )
        conditions[DrillMetric(f"resolution_{outcome.value}")] = sa.and_(
            created, f.resolution_sla == outcome.value
        )
    return conditions[metric]


async def stored_facts(session: AsyncSession, issue_ids: Sequence[str]) -> list[IssueFacts]:
    """The stored rows of these issues, in id order (tests compare them with a recomputation)."""
    query = (
        sa.select(IssueFactsRow)
        .where(IssueFactsRow.issue_id.in_(list(issue_ids)))
        .order_by(IssueFactsRow.issue_id)
    )
    return [facts_of(row) for row in await session.scalars(query)]
