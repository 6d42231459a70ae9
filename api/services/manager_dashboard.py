"""What the manager dashboard shows, gathered from the services the JSON API answers with:
the statistics of this period and the previous one (scoped per role by `stats`), the
breaches of this week, the figures by day, each visible team's workload (as dispatch counts
it) and the issues at risk in the next hour and the next day (`/sla/at-risk`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.schemas import AtRiskIssue, TeamWorkload
from api.services import dispatch as dispatch_service
from api.services import reference as reference_service
from api.services import sla as sla_service
from api.services import stats as stats_service
from api.stats_schemas import StatsSummary, StatsTimeseries
from domain.enums import Role
from domain.stats import BucketUnit

AT_RISK_LIMIT = 50


@dataclass(frozen=True)
class Dashboard:
    summary: StatsSummary
    week: StatsSummary
    by_day: StatsTimeseries
    workloads: list[tuple[str, TeamWorkload]]
    """(team name, its workload) for each team the viewer manages (every team: an admin)."""
    next_hour: list[AtRiskIssue]
    next_day: list[AtRiskIssue]
    """At risk within a day but not within the hour (those are in `next_hour`)."""


async def visible_teams(session: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    """A manager's teams (those naming them a manager), every team for an admin: the scope
    the statistics service applies."""
    teams = await reference_service.list_teams(session, None)
    if principal.role == Role.ADMIN:
        return [(t.id, t.name) for t in teams]
    return [(t.id, t.name) for t in teams if principal.engineer_id in t.manager_ids]


async def dashboard(
    session: AsyncSession, principal: Principal, period: BucketUnit, tz: str, now: datetime
) -> Dashboard:
    query = stats_service.StatsQuery(period=period, tz=tz)
    summary = await stats_service.summary(session, principal, query, now)
    week = await stats_service.summary(
        session, principal, stats_service.StatsQuery(period=BucketUnit.WEEK, tz=tz), now
    )
    by_day = await stats_service.timeseries(session, principal, query, BucketUnit.DAY, now)
    workloads = [
        (name, await dispatch_service.team_workload(session, team_id))
        for team_id, name in await visible_teams(session, principal)
    ]
    hour = await sla_service.at_risk(session, principal, timedelta(hours=1), AT_RISK_LIMIT, now)
    day = await sla_service.at_risk(session, principal, timedelta(days=1), AT_RISK_LIMIT, now)
    within_hour = {item.issue_id for item in hour}
    await session.commit()
    return Dashboard(
        summary=summary,
        week=week,
        by_day=by_day,
        workloads=workloads,
        next_hour=hour,
        next_day=[item for item in day if item.issue_id not in within_hour],
    )
