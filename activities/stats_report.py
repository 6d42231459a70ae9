"""Activities of the scheduled statistics reports: compose (the dashboard's own figures),
send through the notifier port, and e-mail (a sync activity: smtplib blocks)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from temporalio import activity

from db.repositories import stats as stats_repo
from db.repositories.stats import StatsFilters
from db.session import Database
from domain.stats import (
    DurationFigures,
    Figures,
    ReportAudience,
    ReportScope,
    StatsReport,
    StatsReportInput,
    StatsReports,
    report_period,
)
from integrations.notify.email import EmailNotifier
from integrations.notify.port import Notifier, OutboundMessage, Recipient


def _hours(figures: DurationFigures) -> str | None:
    return None if figures.median is None else str(timedelta(seconds=int(figures.median)))


def headline(figures: Figures, *, internal: bool) -> dict[str, str | int | None]:
    """The figures a report shows (customers: the service figures only)."""
    shown: dict[str, str | int | None] = {
        "created": figures.created,
        "closed": figures.closed,
        "cancelled": figures.cancelled,
        "backlog": figures.backlog,
        "median_response_business": _hours(figures.response_business),
        "median_resolution_business": _hours(figures.resolution_business),
        "first_response_sla_pct": _text(figures.first_response_sla.rate),
        "resolution_sla_pct": _text(figures.resolution_sla.rate),
    }
    if internal:
        shown |= {
            "first_contact_resolution_pct": _text(figures.first_contact_resolution),
            "reopen_rate_pct": _text(figures.reopen_rate),
            "satisfaction_mean": _text(figures.satisfaction.mean),
            "handoffs": figures.handoffs,
        }
    return shown


def _text(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


class StatsReportActivities:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        email: EmailNotifier | None,
        public_base_url: str,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._email = email
        self._base_url = public_base_url.rstrip("/")

    @activity.defn(name="itr.stats.compose_reports")
    async def compose(self, request: StatsReportInput) -> StatsReports:
        """One report per team (for its manager) and per organisation (for its contacts),
        over the last complete period, computed as `GET /stats/summary` computes it."""
        period = report_period(request)
        reports: list[StatsReport] = []
        async with self._db.session() as session:
            for audience in await stats_repo.report_audiences(session):
                filters = _filters(audience)
                counted = await stats_repo.figures_of(session, filters, period)
                shown = headline(counted, internal=audience.scope == ReportScope.TEAM)
                label = f"{audience.scope.value} {audience.scope_id}"
                start = period.start.astimezone(ZoneInfo(request.timezone)).date()
                subject = f"ITR {request.unit.value}ly statistics for {label} from {start}"
                body = "\n".join(
                    [
                        f"{subject} ({period.start.isoformat()} to {period.end.isoformat()}):",
                        "",
                        *(f"{name}: {'-' if v is None else v}" for name, v in shown.items()),
                    ]
                )
                reports.append(
                    StatsReport(
                        delivery_id=f"stats:{request.unit.value}:{period.start.isoformat()}:"
                        f"{audience.scope.value}:{audience.scope_id}",
                        audience=audience,
                        period=period,
                        subject=subject,
                        body=body,
                        figures=shown,
                        email=self._email is not None,
                    )
                )
        return StatsReports(period=period, reports=tuple(reports))

    def _message(self, report: StatsReport) -> OutboundMessage:
        audience = report.audience
        query = f"from={report.period.start.isoformat()}&to={report.period.end.isoformat()}"
        scope = "team_id" if audience.scope == ReportScope.TEAM else "organisation_id"
        return OutboundMessage(
            delivery_id=report.delivery_id,
            issue_id="",
            kind="stats_report",
            subject=report.subject,
            at=report.period.end,
            recipients=tuple(
                Recipient(kind=r.kind, id=r.id, name=r.name, email=r.email)
                for r in audience.recipients
            ),
            data={**report.figures, "body": report.body},
            issue_url=f"{self._base_url}/stats/summary?{query}&{scope}={audience.scope_id}",
        )

    @activity.defn(name="itr.stats.send_report")
    async def send(self, report: StatsReport) -> None:
        """Through the notifier port (log, signed webhook); receivers dedupe by delivery id."""
        await self._notifier.send(self._message(report))

    @activity.defn(name="itr.stats.email_report")
    def email(self, report: StatsReport) -> bool:
        """By SMTP (blocking, on the worker's thread pool); False when nobody has an address."""
        if self._email is None:
            return False
        return self._email.deliver(self._message(report))


def _filters(audience: ReportAudience) -> StatsFilters:
    if audience.scope == ReportScope.TEAM:
        return StatsFilters(team_ids=(audience.scope_id,))
    return StatsFilters(organisation_ids=(audience.scope_id,))
