"""The manager dashboard (`/manage`): workload against capacity, issues at risk, breaches
and the operational statistics of this period against the previous one; every figure links
to the issues behind it (the statistics drill-down); and the dispatcher's assign page.

Everything shown is what the JSON API's services answer for the same principal: the
statistics service scopes a manager to their teams, the workload service counts the load
the way dispatch does, the at-risk service picks the clocks. No rule is computed here.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.auth import DISPATCHING, Principal
from api.deps import SessionDep, StateDep, TemporalDep
from api.errors import Problem
from api.schemas import BulkAssignBody, BulkOutcome, IssueRead
from api.services import dispatch as dispatch_service
from api.services import issue_dispatch as assign_service
from api.services import manager_dashboard as dashboard_service
from api.services import reference as reference_service
from api.services import stats as stats_service
from api.stats_schemas import StatsSummary
from domain.enums import Role
from domain.stats import BucketUnit, DrillMetric
from web.deps import PageForbidden, PrincipalPage, ViewerDep, verify_csrf
from web.forms import problem_errors, validation_errors
from web.i18n import N_, translations
from web.templating import render

router = APIRouter(prefix="/manage", include_in_schema=False, dependencies=[Depends(verify_csrf)])

MANAGING = frozenset({Role.MANAGER, Role.ADMIN})
PERIODS = (BucketUnit.WEEK, BucketUnit.MONTH)


def managing(principal: PrincipalPage) -> Principal:
    if principal.role not in MANAGING:
        raise PageForbidden()
    return principal


def dispatching(principal: PrincipalPage) -> Principal:
    if principal.role not in DISPATCHING:
        raise PageForbidden()
    return principal


ManagerDep = Annotated[Principal, Depends(managing)]
DispatcherDep = Annotated[Principal, Depends(dispatching)]
PeriodQuery = Annotated[BucketUnit, Query()]


@dataclass(frozen=True)
class Figure:
    """One figure of the dashboard, now and in the previous period, and what it links to."""

    label: str
    value: str
    previous: str
    metric: DrillMetric


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} %"


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.1f} h"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} / 5"


def figures(summary: StatsSummary) -> list[Figure]:
    """The operational figures (volume, backlog, SLA compliance, MTTR, satisfaction)."""
    now, before = summary.figures, summary.previous
    return [
        Figure(
            N_("Issues opened"), _count(now.created), _count(before.created), DrillMetric.CREATED
        ),
        Figure(N_("Issues closed"), _count(now.closed), _count(before.closed), DrillMetric.CLOSED),
        Figure(N_("Backlog"), _count(now.backlog), _count(before.backlog), DrillMetric.BACKLOG),
        Figure(
            N_("Resolution SLA met"),
            _percent(now.resolution_sla.rate),
            _percent(before.resolution_sla.rate),
            DrillMetric.RESOLUTION_MET,
        ),
        Figure(
            N_("Resolution SLA breached"),
            _count(now.resolution_sla.breached),
            _count(before.resolution_sla.breached),
            DrillMetric.RESOLUTION_BREACHED,
        ),
        Figure(
            N_("First response breached"),
            _count(now.first_response_sla.breached),
            _count(before.first_response_sla.breached),
            DrillMetric.FIRST_RESPONSE_BREACHED,
        ),
        Figure(
            N_("Mean time to resolve (business)"),
            _hours(now.resolution_business.mean),
            _hours(before.resolution_business.mean),
            DrillMetric.CLOSED,
        ),
        Figure(
            N_("Satisfaction"),
            _score(now.satisfaction.mean if now.satisfaction else None),
            _score(before.satisfaction.mean if before.satisfaction else None),
            DrillMetric.RATED,
        ),
    ]


def _local_day(moment: datetime, viewer_zone: Any) -> date:
    return moment.astimezone(viewer_zone).date()


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    viewer: ViewerDep,
    principal: ManagerDep,
    state: StateDep,
    session: SessionDep,
    period: PeriodQuery = BucketUnit.WEEK,
) -> HTMLResponse:
    now = datetime.now(UTC)
    if period not in PERIODS:
        period = BucketUnit.WEEK
    board = await dashboard_service.dashboard(session, principal, period, viewer.timezone.key, now)
    summary, week, series = board.summary, board.week, board.by_day
    t = translations(viewer.locale)
    chart = {
        "labels": [viewer.formats.day(b.period.start) for b in series.buckets],
        "series": [
            {
                "label": t.gettext(N_("Issues opened")),
                "data": [b.figures.created for b in series.buckets],
            },
            {
                "label": t.gettext(N_("Issues closed")),
                "data": [b.figures.closed for b in series.buckets],
            },
            {
                "label": t.gettext(N_("Backlog")),
                "data": [b.figures.backlog for b in series.buckets],
            },
        ],
        "compliance": {
            "label": t.gettext(N_("Resolution SLA met")),
            "data": [b.figures.resolution_sla.rate for b in series.buckets],
        },
    }
    context = {
        "period": period,
        "periods": PERIODS,
        "summary": summary,
        "last_day": viewer.formats.day(summary.period.end - timedelta(seconds=1)),
        "figures": figures(summary),
        "week": week,
        "at": _local_day(summary.period.start, viewer.timezone).isoformat(),
        "previous_at": _local_day(summary.previous_period.start, viewer.timezone).isoformat(),
        "week_at": _local_day(week.period.start, viewer.timezone).isoformat(),
        "workloads": board.workloads,
        "hour": board.next_hour,
        "day": board.next_day,
        "chart_json": json.dumps(chart),
        "now": now,
    }
    return render(request, viewer, state.settings, "manage/dashboard.html", context)


@router.get("/issues", response_class=HTMLResponse)
async def figure_issues(
    request: Request,
    viewer: ViewerDep,
    principal: ManagerDep,
    state: StateDep,
    session: SessionDep,
    metric: DrillMetric,
    period: PeriodQuery = BucketUnit.WEEK,
    at: date | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """The issues a figure counts: the statistics drill-down as an issue list."""
    query = stats_service.StatsQuery(period=period, at=at, tz=viewer.timezone.key)
    page = await stats_service.drill_down(
        session, principal, query, metric, cursor, 100, datetime.now(UTC)
    )
    shown, _, _ = stats_service.resolve_period(query, datetime.now(UTC))
    context = {
        "metric": metric,
        "period": period,
        "at": at,
        "items": page.items,
        "next_cursor": page.next_cursor,
        "start": shown.start,
        "last_day": viewer.formats.day(shown.end - timedelta(seconds=1)),
    }
    return render(request, viewer, state.settings, "manage/issues.html", context)


# --- assigning ------------------------------------------------------------------------------


async def _assign_context(session: Any, principal: Principal, team: str | None) -> dict[str, Any]:
    teams = await dashboard_service.visible_teams(session, principal)
    if principal.role == Role.DISPATCHER:
        teams = [(t.id, t.name) for t in await reference_service.list_teams(session, None)]
    team_id = team if team in {t for t, _ in teams} else (teams[0][0] if teams else None)
    items: list[IssueRead] = []
    if team_id is not None:
        page = await dispatch_service.team_queue(session, principal, team_id, None, None, 100)
        items = page.items
    engineers = await reference_service.list_engineers(session, None, None, True)
    return {
        "teams": teams,
        "team_id": team_id,
        "items": items,
        "engineers": [e for e in engineers if e.active],
    }


@router.get("/assign", response_class=HTMLResponse)
async def assign_page(
    request: Request,
    viewer: ViewerDep,
    principal: DispatcherDep,
    state: StateDep,
    session: SessionDep,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    context = await _assign_context(session, principal, team)
    context.update({"errors": {}, "results": None, "chosen": set(), "values": {}})
    return render(request, viewer, state.settings, "manage/assign.html", context)


@router.post("/assign", response_model=None)
async def assign_many(
    request: Request,
    viewer: ViewerDep,
    principal: DispatcherDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
) -> Response:
    """Assign the chosen issues (one or many) with the bulk-assign service: a result per
    issue, so one refusal never hides the others."""
    form = await request.form()
    chosen = [v for v in form.getlist("issue_id") if isinstance(v, str)][:200]
    values = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 2000}
    team = values.get("team") or None
    t = translations(viewer.locale)
    errors: dict[str, str] = {}
    results: list[BulkOutcome] | None = None
    try:
        body = BulkAssignBody.model_validate(
            {
                "issue_ids": chosen,
                "engineer_id": values.get("engineer_id", ""),
                "reason": values.get("reason") or None,
            }
        )
        results = await assign_service.assign_many(
            session,
            temporal,
            principal,
            body.issue_ids,
            body.engineer_id,
            body.reason,
            (values.get("idempotency_key") or None),
        )
    except ValidationError as exc:
        errors = validation_errors(exc, t)
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem_errors(problem, t)
    context = await _assign_context(session, principal, team)
    context.update({"errors": errors, "results": results, "chosen": set(chosen), "values": values})
    code = 422 if errors else status.HTTP_200_OK
    return render(request, viewer, state.settings, "manage/assign.html", context, code)
