"""Statistics endpoints: summary, time series, breakdown (JSON or CSV), drill-down, recompute.

Every endpoint takes the same period (`period`+`at`, or `from`+`to`, in `tz`) and filters;
the rules (scoping per role, the figures, the formats) live in `api.services.stats`.
"""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from api.deps import PrincipalDep, SessionDep
from api.schemas import IssuePage, refuse_control_characters
from api.services import issues as issue_service
from api.services import stats as service
from api.stats_schemas import (
    RecomputeReport,
    StatsBreakdown,
    StatsDimension,
    StatsSummary,
    StatsTimeseries,
)
from domain.enums import Category, Channel, ContractLevel, Severity, Tier
from domain.stats import BucketUnit, DrillMetric

router = APIRouter(
    prefix="/stats", tags=["statistics"], dependencies=[Depends(refuse_control_characters)]
)

Id = Annotated[str | None, Query(max_length=64)]


def stats_query(
    period: Annotated[
        BucketUnit | None, Query(description="a local day, ISO week or month (default month)")
    ] = None,
    at: Annotated[date | None, Query(description="a day in the period (default today)")] = None,
    start: Annotated[
        datetime | None, Query(alias="from", description="range start (instead of period)")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="range end, exclusive")] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the buckets")] = "UTC",
    team_id: Id = None,
    engineer_id: Id = None,
    organisation_id: Id = None,
    product_id: Id = None,
    severity: Severity | None = None,
    category: Category | None = None,
    channel: Channel | None = None,
    contract_level: ContractLevel | None = None,
    tier: Tier | None = None,
) -> service.StatsQuery:
    return service.StatsQuery(
        period=period,
        at=at,
        start=start,
        end=end,
        tz=tz,
        team_id=team_id,
        engineer_id=engineer_id,
        organisation_id=organisation_id,
        product_id=product_id,
        severity=severity,
        category=category,
        channel=channel,
        contract_level=contract_level,
        tier=tier,
    )


QueryDep = Annotated[service.StatsQuery, Depends(stats_query)]


@router.get("/summary", response_model=StatsSummary)
async def summary(principal: PrincipalDep, session: SessionDep, query: QueryDep) -> StatsSummary:
    """Every figure of the period, and of the previous period to compare with."""
    return await service.summary(session, principal, query, datetime.now(UTC))


@router.get("/timeseries", response_model=StatsTimeseries)
async def timeseries(
    principal: PrincipalDep,
    session: SessionDep,
    query: QueryDep,
    bucket: BucketUnit = BucketUnit.DAY,
) -> StatsTimeseries:
    """The period cut into local days, weeks or months, each with its figures."""
    return await service.timeseries(session, principal, query, bucket, datetime.now(UTC))


@router.get(
    "/breakdown",
    response_model=StatsBreakdown,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def breakdown(
    principal: PrincipalDep,
    session: SessionDep,
    query: QueryDep,
    by: StatsDimension,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> StatsBreakdown | Response:
    """The figures per value of `by`; CSV with `format=csv` or `Accept: text/csv`."""
    report = await service.breakdown(session, principal, query, by, datetime.now(UTC))
    wants_csv = format == "csv" or (format is None and "text/csv" in (accept or ""))
    if wants_csv:
        return Response(
            service.breakdown_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="stats-by-{by.value}.csv"'},
        )
    return report


@router.get("/issues", response_model=IssuePage)
async def drill_down(
    principal: PrincipalDep,
    session: SessionDep,
    query: QueryDep,
    metric: DrillMetric,
    cursor: Annotated[str | None, Query(max_length=issue_service.MAX_CURSOR_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> IssuePage:
    """Which issues a figure counts, with the same period and filters (paged like /issues)."""
    return await service.drill_down(
        session, principal, query, metric, cursor, limit, datetime.now(UTC)
    )


@router.post("/recompute", response_model=RecomputeReport)
async def recompute(principal: PrincipalDep, session: SessionDep) -> RecomputeReport:
    """Rebuild every issue's facts from its recorded events (admin)."""
    return await service.recompute(session, principal)
