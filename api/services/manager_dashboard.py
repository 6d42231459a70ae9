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
AT_RISK_READ = 500  # the at-risk service's own maximum page


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


async def _at_risk(
    session: AsyncSession,
    principal: Principal,
    within: timedelta,
    teams: list[tuple[str, str]],
    now: datetime,
) -> list[AtRiskIssue]:
    """The at-risk list, narrowed to a manager's teams (an admin's: all of it). The service
    answers the soonest first; a wider page is read so the narrowing keeps enough."""
    items = await sla_service.at_risk(session, principal, within, AT_RISK_READ, now)
    if principal.role != Role.ADMIN:
        mine = {team_id for team_id, _ in teams}
        items = [item for item in items if item.team_id in mine]
    return items[:AT_RISK_LIMIT]


async def dashboard(
    session: AsyncSession, principal: Principal, period: BucketUnit, tz: str, now: datetime
) -> Dashboard:
    query = stats_service.StatsQuery(period=period, tz=tz)
    summary = await stats_service.summary(session, principal, query, now)
    week = await stats_service.summary(
        session, principal, stats_service.StatsQuery(period=BucketUnit.WEEK, tz=tz), now
    )
    by_day = await stats_service.timeseries(session, principal, query, BucketUnit.DAY, now)
    teams = await visible_teams(session, principal)
    workloads = [
        (name, await dispatch_service.team_workload(session, team_id)) for team_id, name in teams
    ]
    hour = await _at_risk(session, principal, timedelta(hours=1), teams, now)
    day = await _at_risk(session, principal, timedelta(days=1), teams, now)
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
