"""Composition root of the worker: connects Temporal, wires activities to their adapters, runs.

Scale out by starting more of these on the same task queue; stop one with SIGTERM or
Ctrl-C and it finishes its in-flight activities before leaving (graceful shutdown).
"""

import asyncio
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum
from typing import Any

import structlog
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.knowledge import KnowledgeActivities
from activities.notifications import NotificationActivities
from activities.onsite import OnsiteActivities
from activities.read_model import ReadModelActivities
from activities.stats_report import StatsReportActivities
from activities.tracker import DatabaseSyncStatusSink, TrackerActivities
from activities.tracker_poll import TrackerPollActivities
from config.settings import Settings, get_settings
from db.session import Database
from domain.knowledge import KnowledgeSweepRequest
from domain.models import TrackerPollRequest
from domain.stats import BucketUnit, StatsReportRequest
from integrations.jira import JiraTracker, load_jira_config
from integrations.notify.email import EmailNotifier, SmtpConfig
from integrations.notify.fanout import FanoutNotifier
from integrations.notify.log import LogNotifier
from integrations.notify.port import Notifier
from integrations.notify.webhook import WebhookNotifier
from temporal_client import connect_temporal
from workflows.issue import IssueWorkflow
from workflows.knowledge_sweep import KnowledgeSweepWorkflow
from workflows.spare_part import SparePartWorkflow
from workflows.stats_report import StatsReportWorkflow
from workflows.tracker_poll import TrackerPollWorkflow
from workflows.visit import VisitWorkflow

log = structlog.get_logger("itr.worker")


def build_notifier(settings: Settings) -> Notifier:
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.notify_webhook_url:
        notifiers.append(
            WebhookNotifier(
                settings.notify_webhook_url, settings.notify_webhook_secret.get_secret_value()
            )
        )
    return FanoutNotifier(notifiers)


def build_email(settings: Settings) -> EmailNotifier | None:
    """The SMTP adapter when ITR_SMTP_HOST is set (the statistics reports use it)."""
    if not settings.smtp_host:
        return None
    return EmailNotifier(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
        )
    )


def _status_sink(db: Database) -> DatabaseSyncStatusSink | None:
    """The tracker activities report sync progress through the loop that owns the Database;
    built outside a loop (no such owner), they simply do not report."""
    try:
        return DatabaseSyncStatusSink(db, asyncio.get_running_loop())
    except RuntimeError:
        return None


def build_activities(settings: Settings, db: Database, client: Client) -> Sequence[Any]:
    """Every activity the workflows call, bound to their adapters."""
    notifier = build_notifier(settings)
    knowledge = KnowledgeActivities(db, notifier, settings.public_base_url)
    read_model = ReadModelActivities(db, knowledge)
    notifications = NotificationActivities(db, notifier, settings.public_base_url)
    onsite = OnsiteActivities(db)
    reports = StatsReportActivities(db, notifier, build_email(settings), settings.public_base_url)
    activities: list[Any] = [
        knowledge.suggest_archiving,
        knowledge.deliver_prompts,
        reports.compose,
        reports.send,
        reports.email,
        read_model.record,
        read_model.lookup_entitlement,
        read_model.intake_facts,
        read_model.resolve_sla_policy,
        read_model.choose_owner,
        read_model.product_info,
        notifications.notify,
        onsite.record_visit,
        onsite.record_part,
        onsite.choose_field_engineer,
    ]
    if settings.tracker_config is not None:
        config = load_jira_config(settings.tracker_config)
        jira = JiraTracker(config)
        tracker = TrackerActivities(
            jira, settings.public_base_url, config.browse_url, _status_sink(db)
        )
        poll = TrackerPollActivities(db, jira, client)
        activities.extend(
            [tracker.create_defect, tracker.link_defect, tracker.mirror_comment, poll.poll]
        )
    return activities


def deployment_version(settings: Settings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(
        deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
    )


def deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    """Every worker declares its build (shown on each workflow task it completes and on the
    task queue's pollers). With versioning on, Temporal routes by it: new issues start on the
    current version, and an open issue moves to a newly promoted version at its next
    workflow task (AUTO_UPGRADE: weeks-long issues must not stay on old code; the new code
    replays their histories, which the replay corpus in tests/replay proves for every
    release)."""
    return WorkerDeploymentConfig(
        version=deployment_version(settings),
        use_worker_versioning=settings.worker_versioning,
        default_versioning_behavior=(
            VersioningBehavior.AUTO_UPGRADE
            if settings.worker_versioning
            else VersioningBehavior.UNSPECIFIED
        ),
    )


def build_worker(
    client: Client,
    settings: Settings,
    db: Database,
    executor: ThreadPoolExecutor,
    *,
    task_queue: str | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[
            IssueWorkflow,
            TrackerPollWorkflow,
            VisitWorkflow,
            SparePartWorkflow,
            StatsReportWorkflow,
            KnowledgeSweepWorkflow,
        ],
        activities=build_activities(settings, db, client),
        activity_executor=executor,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
        sticky_queue_schedule_to_start_timeout=settings.worker_sticky_timeout,
        deployment_config=deployment_config(settings),
    )


async def current_build_id(client: Client, settings: Settings) -> str | None:
    """The build id of the deployment's current version (None: none yet, or no deployment)."""
    try:
        answer = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(
                namespace=client.namespace, deployment_name=settings.worker_deployment
            )
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    current = answer.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def set_current_version(client: Client, settings: Settings) -> None:
    """Make this worker's build the deployment's current version: new workflow tasks (of new
    and, AUTO_UPGRADE, open issues) go to it. The server learns a version from its first
    poll, so this retries briefly while the worker's pollers are still arriving."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace,
        deployment_name=settings.worker_deployment,
        build_id=settings.worker_build_id,
        identity=client.identity,
    )
    for attempt in range(50):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError as exc:
            retryable = exc.status in (
                RPCStatusCode.NOT_FOUND,
                RPCStatusCode.FAILED_PRECONDITION,
                RPCStatusCode.UNAVAILABLE,
            )
            if not retryable or attempt == 49:
                raise
            await asyncio.sleep(0.2)


async def ensure_current_version(client: Client, settings: Settings) -> bool:
    """The first build of a versioned deployment becomes current by itself (nothing else
    could run its workflows); later builds are promoted explicitly (README, "Upgrading").
    True when this call made it current."""
    if not settings.worker_versioning or await current_build_id(client, settings) is not None:
        return False
    await set_current_version(client, settings)
    return True


def poll_schedule_id(settings: Settings) -> str:
    """Fixed per deployment (its task queue), so every worker agrees on the one schedule."""
    return f"itr-tracker-poll-{settings.temporal_task_queue}"


class ScheduleChange(StrEnum):
    """What `ensure_poll_schedule` did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    NO_TRACKER = "no_tracker"


async def ensure_poll_schedule(client: Client, settings: Settings) -> ScheduleChange:
    """Create the tracker poll schedule, or bring its interval in line with the Jira config;
    every worker calls this at start, so a lost webhook is caught within one poll interval
    and a changed `poll_interval` applies once a worker restarts with it."""
    if settings.tracker_config is None:
        return ScheduleChange.NO_TRACKER
    config = load_jira_config(settings.tracker_config)
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=config.poll_interval)])
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            TrackerPollWorkflow.run,
            TrackerPollRequest(),
            id=f"{poll_schedule_id(settings)}-run",
            task_queue=settings.temporal_task_queue,
        ),
        spec=spec,
        # One poll at a time; a tick while one runs is dropped (the next covers its window).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(poll_schedule_id(settings), schedule)
    except ScheduleAlreadyRunningError:
        pass
    else:
        return ScheduleChange.CREATED
    handle = client.get_schedule_handle(poll_schedule_id(settings))
    current = (await handle.describe()).schedule.spec.intervals
    if [i.every for i in current] == [config.poll_interval]:
        return ScheduleChange.UNCHANGED

    def retimed(update: ScheduleUpdateInput) -> ScheduleUpdate:
        """Only the interval changes; the action, policy and state stay as they are."""
        existing = update.description.schedule
        existing.spec = spec
        return ScheduleUpdate(schedule=existing)

    await handle.update(retimed)
    return ScheduleChange.UPDATED


REPORT_CRONS = {BucketUnit.WEEK: "0 6 * * 1", BucketUnit.MONTH: "0 6 1 * *"}
"""Weekly reports on Monday, monthly on the 1st, at 06:00 in ITR_STATS_REPORT_TIMEZONE."""


def report_schedule_id(settings: Settings, unit: BucketUnit) -> str:
    return f"itr-stats-{unit.value}ly-{settings.temporal_task_queue}"


async def ensure_report_schedules(client: Client, settings: Settings) -> list[str]:
    """Create the weekly and monthly statistics report schedules if absent (every worker
    calls this at start, as it does for the tracker poll); returns the ids it created."""
    created = []
    for unit, cron in REPORT_CRONS.items():
        schedule_id = report_schedule_id(settings, unit)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                StatsReportWorkflow.run,
                StatsReportRequest(unit=unit, timezone=settings.stats_report_timezone),
                id=f"{schedule_id}-run",
                task_queue=settings.temporal_task_queue,
            ),
            spec=ScheduleSpec(
                cron_expressions=[cron], time_zone_name=settings.stats_report_timezone
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            continue
        created.append(schedule_id)
    return created


def knowledge_schedule_id(settings: Settings) -> str:
    """One knowledge sweep per deployment (its task queue), whichever worker creates it."""
    return f"itr-knowledge-sweep-{settings.temporal_task_queue}"


async def ensure_knowledge_schedule(client: Client, settings: Settings) -> ScheduleChange:
    """Create the knowledge sweep schedule, or bring its interval and staleness in line with
    the settings (`ITR_KNOWLEDGE_SWEEP_INTERVAL`, `ITR_KNOWLEDGE_STALE_AFTER`)."""
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=settings.knowledge_sweep_interval)])
    action = ScheduleActionStartWorkflow(
        KnowledgeSweepWorkflow.run,
        KnowledgeSweepRequest(stale_after=settings.knowledge_stale_after),
        id=f"{knowledge_schedule_id(settings)}-run",
        task_queue=settings.temporal_task_queue,
    )
    schedule = Schedule(
        action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)
    )
    try:
        await client.create_schedule(knowledge_schedule_id(settings), schedule)
    except ScheduleAlreadyRunningError:
        pass
    else:
        return ScheduleChange.CREATED
    handle = client.get_schedule_handle(knowledge_schedule_id(settings))
    described = (await handle.describe()).schedule
    intervals = [i.every for i in described.spec.intervals]
    if intervals == [settings.knowledge_sweep_interval] and _same_sweep_request(
        described.action, settings
    ):
        return ScheduleChange.UNCHANGED

    def retimed(update: ScheduleUpdateInput) -> ScheduleUpdate:
        existing = update.description.schedule
        existing.spec = spec
        existing.action = action
        return ScheduleUpdate(schedule=existing)

    await handle.update(retimed)
    return ScheduleChange.UPDATED


def _same_sweep_request(action: object, settings: Settings) -> bool:
    """Whether the schedule already starts the sweep with the configured staleness."""
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.args:
        return False
    payload = action.args[0]
    if isinstance(payload, KnowledgeSweepRequest):
        return payload.stale_after == settings.knowledge_stale_after
    try:
        decoded = pydantic_data_converter.payload_converter.from_payloads(
            [payload], [KnowledgeSweepRequest]
        )[0]
    except (TypeError, ValueError):
        return False
    return bool(decoded.stale_after == settings.knowledge_stale_after)


def metrics_runtime(settings: Settings) -> Runtime | None:
    """Temporal SDK metrics (task latencies, slots, failures) on a Prometheus endpoint."""
    if settings.metrics_port is None:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")
        )
    )


async def run_worker(settings: Settings | None = None, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM when no event is given), then drain."""
    settings = settings or get_settings()
    stop = stop or _stop_on_signals()
    db = Database(settings.database_url)
    client = await connect_temporal(settings, metrics_runtime(settings))
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        worker = build_worker(client, settings, db, executor)
        change = await ensure_poll_schedule(client, settings)
        if change in (ScheduleChange.CREATED, ScheduleChange.UPDATED):
            log.info(f"tracker poll schedule {change}", schedule_id=poll_schedule_id(settings))
        for schedule_id in await ensure_report_schedules(client, settings):
            log.info("statistics report schedule created", schedule_id=schedule_id)
        change = await ensure_knowledge_schedule(client, settings)
        if change in (ScheduleChange.CREATED, ScheduleChange.UPDATED):
            log.info(
                f"knowledge sweep schedule {change}", schedule_id=knowledge_schedule_id(settings)
            )
        async with worker:
            if await ensure_current_version(client, settings):
                log.info("first build of the deployment made current")
            log.info(
                "worker started",
                task_queue=settings.temporal_task_queue,
                deployment=settings.worker_deployment,
                build_id=settings.worker_build_id,
                versioning=settings.worker_versioning,
            )
            await stop.wait()
            log.info("worker stopping: finishing in-flight tasks")
    await db.dispose()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


if __name__ == "__main__":
    asyncio.run(run_worker())
