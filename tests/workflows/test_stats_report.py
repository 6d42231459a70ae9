"""StatsReportWorkflow in the time-skipping environment, with its real activities on a real
database: one report per team manager and per customer organisation, the dashboard's own
figures, through the notifier port and by e-mail (a local SMTP server)."""

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.stats_report import StatsReportActivities
from db.repositories import issues as issue_repo
from db.repositories import stats as stats_repo
from db.repositories.stats import StatsFilters
from db.session import Database
from domain.enums import ActorKind, Tier
from domain.models import (
    AcknowledgeCommand,
    Actor,
    ConfirmClosureCommand,
    OwnerChoice,
    ProposeResolutionCommand,
)
from domain.stats import BucketUnit, StatsReportInput, StatsReportRequest, report_period
from integrations.notify.email import EmailNotifier, SmtpConfig
from integrations.notify.port import OutboundMessage
from tests.db.builders import CUSTOMER, add_reference_data, batch_of, intake, opened
from tests.db.lifecycles import PREMIUM
from workflows.stats_report import StatsReportWorkflow


class RecordingNotifier:
    """An honest notifier: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


class Mailbox:
    """aiosmtpd handler keeping every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append(message_from_bytes(content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # the controller checks its port by connecting: no port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def record_closed_issue(database: Database, at: datetime) -> None:
    """An issue of acme, owned by e1 (team t1a, manager m1), closed within three hours."""
    issue = intake("R-1", created_at=at)
    case = opened(issue)
    owner = OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE)
    actor = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")
    hour = timedelta(hours=1)
    steps = [
        (case.register(at, CUSTOMER), issue),
        (case.accept(PREMIUM, at), None),
        (case.assign_initial(owner, at), None),
        (case.acknowledge(AcknowledgeCommand(actor=actor), at + hour), None),
        (
            case.propose_resolution(ProposeResolutionCommand(actor=actor, summary="f"), at + hour),
            None,
        ),
        (
            case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), at + 3 * hour),
            None,
        ),
    ]
    async with database.transaction() as session:
        for effects, with_intake in steps:
            await issue_repo.apply_record_batch(
                session, batch_of(case, effects, with_intake), "issue-R-1"
            )


async def test_the_weekly_report_sends_each_audience_the_dashboards_figures(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    database: Database,
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp
    async with database.transaction() as session:
        await add_reference_data(session)
    # The environment's clock, not ours: earlier tests may have skipped it ahead.
    now = await time_skipping_env.get_current_time()
    last_week = report_period(StatsReportInput(unit=BucketUnit.WEEK, timezone="UTC", now=now))
    await record_closed_issue(database, last_week.start + timedelta(hours=2))
    notifier = RecordingNotifier()
    email = EmailNotifier(SmtpConfig(host="127.0.0.1", port=port, starttls=False))
    activities = StatsReportActivities(database, notifier, email, "http://itr.test")
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            time_skipping_env.client,
            task_queue=task_queue,
            workflows=[StatsReportWorkflow],
            activities=[activities.compose, activities.send, activities.email],
            activity_executor=executor,
        ):
            result = await time_skipping_env.client.execute_workflow(
                StatsReportWorkflow.run,
                StatsReportRequest(unit=BucketUnit.WEEK),
                id=f"stats-report-{task_queue}",
                task_queue=task_queue,
            )
    # Teams t1a, t1b, t2 have managers; acme has a contact with an address.
    assert result.period == last_week
    assert (result.reports, result.emailed) == (4, 4)
    by_scope = {
        m.delivery_id.rsplit(":", 2)[-2] + ":" + m.delivery_id.rsplit(":", 1)[-1]: m
        for m in notifier.sent
    }
    team = by_scope["team:t1a"]
    async with database.session() as session:
        dashboard = await stats_repo.figures_of(session, StatsFilters(team_ids=("t1a",)), last_week)
    assert team.data["closed"] == dashboard.closed == 1
    assert team.data["first_contact_resolution_pct"] == "100"
    assert [r.email for r in team.recipients] == ["m1@itr.example"]
    customer = by_scope["organisation:acme"]
    assert customer.data["closed"] == 1
    assert "first_contact_resolution_pct" not in customer.data  # internal: staff only
    assert by_scope["team:t1b"].data["closed"] == 0
    addressed = sorted(m["To"] for m in mailbox.messages)
    assert any("jane@acme.example" in to for to in addressed)
    assert all(m["Message-ID"].startswith("<stats.week.") for m in mailbox.messages)
