"""Operational statistics: who may see which figures, over which period, grouped how.

Every answer (summary, time series, breakdown, CSV, drill-down, scheduled report) is computed
by `domain.stats.figures` over the `issue_facts` rows the caller's scope and filters select,
so the dashboard, the export and the reports agree to the issue.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import forbidden, invalid
from api.schemas import IssuePage
from api.services import issues as issue_service
from api.stats_schemas import (
    INTERNAL_DIMENSIONS,
    RecomputeReport,
    StatsBreakdown,
    StatsBucket,
    StatsDimension,
    StatsFiguresRead,
    StatsGroup,
    StatsSummary,
    StatsTimeseries,
)
from db.repositories import reference as reference_repo
from db.repositories import stats as stats_repo
from db.repositories.stats import StatsFilters
from domain.enums import Category, Channel, ContractLevel, Role, Severity, Tier
from domain.stats import (
    BucketUnit,
    DrillMetric,
    Figures,
    IssueFacts,
    Period,
    bucket_containing,
    buckets,
    figures,
    previous_period,
)

MAX_BUCKETS = 400
MAX_RANGE = timedelta(days=3 * 366)
MIN_YEAR, MAX_YEAR = 1970, 2200
READERS = STAFF | {Role.CUSTOMER}


class StatsQuery(BaseModel):
    """The period and filters of a statistics request, as the route parsed them.

    Either `period` (a local day, ISO week or month in `tz`, the one holding `at`, default
    today) or an explicit range `start`..`end` (naive instants are read in `tz`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: BucketUnit | None = None
    at: date | None = None
    start: datetime | None = None
    end: datetime | None = None
    tz: str = "UTC"
    team_id: str | None = None
    engineer_id: str | None = None
    organisation_id: str | None = None
    product_id: str | None = None
    severity: Severity | None = None
    category: Category | None = None
    channel: Channel | None = None
    contract_level: ContractLevel | None = None
    tier: Tier | None = None


class _Resolved(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    period: Period
    previous: Period
    unit: BucketUnit | None
    zone: ZoneInfo
    filters: StatsFilters
    internal: bool


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid("query.tz", f"unknown IANA time zone {name!r}") from None


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _in_range(field: str, year: int) -> None:
    """Far-off years would overflow the calendar arithmetic (a 500); they are a 422."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise invalid(field, f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")


def resolve_period(query: StatsQuery, now: datetime) -> tuple[Period, Period, BucketUnit | None]:
    """The period asked for and the one it is compared with; 422 at the offending parameter."""
    zone = _zone(query.tz)
    for field, value in (
        ("query.at", query.at),
        ("query.from", query.start),
        ("query.to", query.end),
    ):
        if value is not None:
            _in_range(field, value.year)
    if query.start is not None or query.end is not None:
        if query.period is not None or query.at is not None:
            raise invalid("query.period", "give either period/at or from/to, not both")
        if query.start is None:
            raise invalid("query.from", "a range needs both from and to")
        if query.end is None:
            raise invalid("query.to", "a range needs both from and to")
        start, end = _aware(query.start, zone), _aware(query.end, zone)
        if end <= start:
            raise invalid("query.to", "must be after from")
        if end - start > MAX_RANGE:
            raise invalid("query.to", "a range spans at most three years")
        period = Period(start=start, end=end)
        return period, previous_period(period, None, zone), None
    unit = query.period or BucketUnit.MONTH
    period = bucket_containing(query.at or now.astimezone(zone).date(), unit, zone)
    return period, previous_period(period, unit, zone), unit


async def _scope(session: AsyncSession, principal: Principal, query: StatsQuery) -> StatsFilters:
    """The caller's scope, narrowed by the filters it asked for (403 beyond its scope)."""
    principal.require(READERS, "read statistics")
    internal = principal.role in STAFF
    if not internal and any(v is not None for v in (query.team_id, query.engineer_id, query.tier)):
        raise forbidden("customers see service figures only: no team, engineer or tier filter")
    organisations: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    if principal.role == Role.CUSTOMER:
        if principal.organisation_id is None:
            raise forbidden("this customer token names no organisation")
        if query.organisation_id not in (None, principal.organisation_id):
            raise forbidden("customers see their own organisation's figures only")
        organisations = (principal.organisation_id,)
    elif query.organisation_id is not None:
        organisations = (query.organisation_id,)
    if principal.role in (Role.MANAGER, Role.ENGINEER):
        teams = await _teams_of(session, principal)
        if query.team_id is not None:
            if query.team_id not in teams:
                raise forbidden(f"team {query.team_id!r} is not one of your teams")
            teams = (query.team_id,)
    elif query.team_id is not None:
        teams = (query.team_id,)
    return StatsFilters(
        organisation_ids=organisations,
        team_ids=teams,
        engineer_id=query.engineer_id,
        product_id=query.product_id,
        severity=query.severity,
        category=query.category,
        channel=query.channel,
        contract_level=query.contract_level,
        tier=query.tier,
    )


async def _teams_of(session: AsyncSession, principal: Principal) -> tuple[str, ...]:
    """A manager's teams (those whose manager_id is theirs); an engineer's own team."""
    if principal.engineer_id is None:
        return ()
    if principal.role == Role.MANAGER:
        teams = await reference_repo.list_teams(session)
        return tuple(t.id for t in teams if t.manager_id == principal.engineer_id)
    engineer = await reference_repo.get_engineer(session, principal.engineer_id)
    return (engineer.team_id,) if engineer is not None else ()


async def _resolve(
    session: AsyncSession, principal: Principal, query: StatsQuery, now: datetime
) -> _Resolved:
    period, previous, unit = resolve_period(query, now)
    filters = await _scope(session, principal, query)
    return _Resolved(
        period=period,
        previous=previous,
        unit=unit,
        zone=_zone(query.tz),
        filters=filters,
        internal=principal.role in STAFF,
    )


async def summary(
    session: AsyncSession, principal: Principal, query: StatsQuery, now: datetime
) -> StatsSummary:
    asked = await _resolve(session, principal, query, now)
    current = await stats_repo.figures_of(session, asked.filters, asked.period)
    before = await stats_repo.figures_of(session, asked.filters, asked.previous)
    return StatsSummary(
        period=asked.period,
        timezone=query.tz,
        figures=StatsFiguresRead.of(current, internal=asked.internal),
        previous_period=asked.previous,
        previous=StatsFiguresRead.of(before, internal=asked.internal),
    )


async def timeseries(
    session: AsyncSession,
    principal: Principal,
    query: StatsQuery,
    bucket: BucketUnit,
    now: datetime,
) -> StatsTimeseries:
    asked = await _resolve(session, principal, query, now)
    slices = buckets(asked.period, bucket, asked.zone)
    if len(slices) > MAX_BUCKETS:
        raise invalid(
            "query.bucket", f"the range holds {len(slices)} buckets (at most {MAX_BUCKETS})"
        )
    facts = await stats_repo.facts_in(session, asked.filters, asked.period)
    answer = []
    for part in slices:
        backlog = await stats_repo.backlog_at(session, asked.filters, part.end)
        counted = figures(facts, part, [f.created_at for f in backlog])
        answer.append(
            StatsBucket(period=part, figures=StatsFiguresRead.of(counted, internal=asked.internal))
        )
    return StatsTimeseries(
        period=asked.period, timezone=query.tz, bucket=bucket.value, buckets=answer
    )


def _grouper(by: StatsDimension, teams: dict[str, str]) -> Callable[[IssueFacts], str | None]:
    def team(f: IssueFacts) -> str | None:
        return f.team_id or (teams.get(f.engineer_id) if f.engineer_id else None)

    simple: dict[StatsDimension, Callable[[IssueFacts], Any]] = {
        StatsDimension.TEAM: team,
        StatsDimension.TIER: lambda f: int(f.tier),
        StatsDimension.ENGINEER: lambda f: f.engineer_id,
        StatsDimension.PRODUCT: lambda f: f.product_id,
        StatsDimension.ORGANISATION: lambda f: f.organisation_id,
        StatsDimension.CONTRACT_LEVEL: lambda f: f.contract_level,
        StatsDimension.SEVERITY: lambda f: int(f.severity),
        StatsDimension.CATEGORY: lambda f: f.category,
        StatsDimension.CHANNEL: lambda f: f.channel,
    }
    key = simple[by]

    def as_text(f: IssueFacts) -> str | None:
        value = key(f)
        return None if value is None else str(getattr(value, "value", value))

    return as_text


async def breakdown(
    session: AsyncSession,
    principal: Principal,
    query: StatsQuery,
    by: StatsDimension,
    now: datetime,
) -> StatsBreakdown:
    """The figures per value of one dimension, each compared with the previous period."""
    if principal.role not in STAFF and by in INTERNAL_DIMENSIONS:
        raise forbidden(f"customers cannot break figures down by {by.value}")
    asked = await _resolve(session, principal, query, now)
    group = _grouper(by, await stats_repo.engineer_teams(session))
    sides: list[dict[str | None, Figures]] = []
    for period in (asked.period, asked.previous):
        facts = await stats_repo.facts_in(session, asked.filters, period)
        backlog = await stats_repo.backlog_at(session, asked.filters, period.end)
        grouped: dict[str | None, list[IssueFacts]] = defaultdict(list)
        open_by: dict[str | None, list[datetime]] = defaultdict(list)
        for f in facts:
            grouped[group(f)].append(f)
        for f in backlog:
            open_by[group(f)].append(f.created_at)
        keys = set(grouped) | set(open_by)
        sides.append({k: figures(grouped[k], period, open_by[k]) for k in keys})
    current, before = sides
    names = await _labels(session, by)
    empty = Figures()
    ordered = sorted(set(current) | set(before), key=lambda k: (k is None, k or ""))
    return StatsBreakdown(
        by=by,
        period=asked.period,
        previous_period=asked.previous,
        timezone=query.tz,
        groups=[
            StatsGroup(
                key=k,
                label=names.get(k) if k is not None else None,
                figures=StatsFiguresRead.of(current.get(k, empty), internal=asked.internal),
                previous=StatsFiguresRead.of(before.get(k, empty), internal=asked.internal),
            )
            for k in ordered
        ],
    )


async def _labels(session: AsyncSession, by: StatsDimension) -> dict[str, str]:
    """Names for the ids a breakdown groups by (the other dimensions are their own labels)."""
    if by == StatsDimension.TEAM:
        return {t.id: t.name for t in await reference_repo.list_teams(session)}
    if by == StatsDimension.ENGINEER:
        return {e.id: e.name for e in await reference_repo.list_engineers(session)}
    if by == StatsDimension.PRODUCT:
        return {p.id: p.name for p in await reference_repo.list_products(session)}
    if by == StatsDimension.ORGANISATION:
        return {o.id: o.name for o in await reference_repo.list_organisations(session)}
    return {}


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


def breakdown_csv(report: StatsBreakdown) -> str:
    """One row per group, one column per figure (nested figures as dotted names), the
    previous period's as `previous.<figure>`; empty cells for figures not shown."""
    rows: list[dict[str, Any]] = []
    for group in report.groups:
        row: dict[str, Any] = {report.by.value: group.key or "", "label": group.label or ""}
        _flatten("", group.figures.model_dump(mode="json"), row)
        _flatten("previous", group.previous.model_dump(mode="json"), row)
        rows.append(row)
    columns: list[str] = [report.by.value, "label"]
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    return out.getvalue()


async def drill_down(
    session: AsyncSession,
    principal: Principal,
    query: StatsQuery,
    metric: DrillMetric,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> IssuePage:
    """Which issues a figure counts: the ordinary issue list, restricted to the cohort."""
    asked = await _resolve(session, principal, query, now)
    condition = stats_repo.drill_down_condition(metric, asked.period)
    return await issue_service.list_issues(
        session,
        principal,
        issue_service.IssueFilters(),
        issue_service.IssueSort.CREATED_DESC,
        cursor,
        limit,
        where=stats_repo.issue_ids_where(asked.filters, condition),
    )


async def recompute(session: AsyncSession, principal: Principal) -> RecomputeReport:
    """Rebuild every issue's facts from its events (after an upgrade, or to check)."""
    principal.require(frozenset({Role.ADMIN}), "recompute statistics")
    count = await stats_repo.recompute_all(session)
    await session.commit()
    return RecomputeReport(issues=count, finished_at=datetime.now(UTC))
