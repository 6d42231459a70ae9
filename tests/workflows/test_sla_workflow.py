"""The SLA engine inside IssueWorkflow on the time-skipping server: every rule, durably.

Exact instants are proven in tests/domain/test_sla_rules.py and on the dev server; the
time-skipping clock may jump past cancelled timers, so these tests assert what fired, in
which order, how often, and that nothing fired early.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.calendar import BusinessCalendar
from domain.enums import (
    ActorKind,
    ContractLevel,
    IssueState,
    Severity,
    SlaClockKind,
    Tier,
)
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CancelCommand,
    ChangeSeverityCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    EscalateCommand,
    IssueWorkflowInput,
    LifecycleConfig,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    RequestInfoCommand,
    TimelineEvent,
)
from domain.sla import BreachAction, ResolvedPolicy, SlaPolicy, TierBudget
from tests.workflows.fakes import FakeIssueActivities
from tests.workflows.test_issue_workflow import CONFIG, CUSTOMER, ENGINEER, intake, wait_for
from workflows.issue import IssueWorkflow

ADMIN = Actor(kind=ActorKind.ADMIN, id="root", name="Root")
ALWAYS = BusinessCalendar.always()
SLA_HISTORIES: list[str] = []

Handle = WorkflowHandle[IssueWorkflow, object]


def policy(
    severity: Severity = Severity.MAJOR,
    *,
    first_response: timedelta = timedelta(hours=1),
    resolution: timedelta = timedelta(hours=10),
    calendar: BusinessCalendar = ALWAYS,
    budgets: dict[Tier, TierBudget] | None = None,
    actions: tuple[BreachAction, ...] = (BreachAction.NOTIFY_MANAGER,),
    version: int = 1,
) -> ResolvedPolicy:
    return ResolvedPolicy(
        policy=SlaPolicy(
            contract_level=ContractLevel.PREMIUM,
            severity=severity,
            first_response=first_response,
            resolution=resolution,
            calendar=calendar.name,
            tier_budgets=budgets or {},
            breach_actions=actions,
        ),
        calendar=calendar,
        version=version,
    )


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, task_queue: str, fakes: FakeIssueActivities, *, keep: bool = False
) -> AsyncIterator[None]:
    """A worker; on the way out (pass or fail) it ends the issues started meanwhile, since a
    workflow left running without a worker stalls the test server's clock for later tests.
    keep=True leaves them running (the restart test brings a new worker)."""
    started = len(SLA_HISTORIES)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[IssueWorkflow],
        activities=fakes.all(),
        # Without a cache there is no sticky queue: after this worker stops, the next
        # workflow task goes to the shared queue at once (the test server would otherwise
        # hold its clock until the dead worker's sticky queue timed out).
        max_cached_workflows=0 if keep else 1000,
    ):
        try:
            yield
        finally:
            if not keep:
                for workflow_id in SLA_HISTORIES[started:]:
                    with contextlib.suppress(Exception):
                        await end(env, env.client.get_workflow_handle(workflow_id))


async def start(
    env: WorkflowEnvironment,
    task_queue: str,
    severity: Severity = Severity.MAJOR,
    config: LifecycleConfig = CONFIG,
) -> Handle:
    data = (await intake(env)).model_copy(update={"severity": severity})
    handle = await env.client.start_workflow(
        IssueWorkflow.run,
        IssueWorkflowInput(intake=data, config=config),
        id=f"issue-{data.issue_id}",
        task_queue=task_queue,
    )
    SLA_HISTORIES.append(handle.id)
    return handle  # type: ignore[return-value]


async def end(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """Cancel the issue and let the workflow finish its reopen-less end (the test server's
    clock must not stall on a workflow left running)."""
    with contextlib.suppress(Exception):
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=ADMIN, reason="end"))
    await asyncio.wait_for(handle.result(), timeout=30)


def fired(fakes: FakeIssueActivities, handle: Handle) -> list[tuple[str, object]]:
    issue_id = handle.id.removeprefix("issue-")
    return [
        (str(e.data["clock"]), e.data["percent"])
        for e in sorted(
            fakes.events_of(issue_id, "sla_warning") + fakes.events_of(issue_id, "sla_breached"),
            key=lambda e: e.seq,
        )
    ]


def events(fakes: FakeIssueActivities, handle: Handle, kind: str) -> list[TimelineEvent]:
    return fakes.events_of(handle.id.removeprefix("issue-"), kind)


async def test_each_warning_and_the_breach_fire_once_in_order_and_never_early(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        created = (await wait_for(handle, IssueState.ASSIGNED)).created_at
        await time_skipping_env.sleep(timedelta(minutes=95))
        status = await handle.query(IssueWorkflow.status)
        assert status.breached and status.sla is not None
        await time_skipping_env.sleep(timedelta(hours=1))
        await end(time_skipping_env, handle)
    assert [f for f in fired(fakes, handle) if f[0] == "first_response"] == [
        ("first_response", 50),
        ("first_response", 75),
        ("first_response", 90),
        ("first_response", 100),
    ]
    for event in events(fakes, handle, "sla_warning") + events(fakes, handle, "sla_breached"):
        due = datetime.fromisoformat(str(event.data["due_at"]))
        assert event.at >= due, "a threshold fired before its instant"
        if event.data["clock"] == "first_response":  # 1 h around the clock: percent of it
            assert due - created == timedelta(hours=1) * int(str(event.data["percent"])) / 100
    kinds = fakes.notification_kinds(handle.id.removeprefix("issue-"))
    assert kinds.count("sla_breached") == 1 and kinds.count("sla_warning") >= 3


async def test_waiting_for_the_customer_pauses_and_the_reply_resumes_the_clocks(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await handle.execute_update(
            IssueWorkflow.request_info, RequestInfoCommand(actor=ENGINEER, question="Logs?")
        )
        waiting = await handle.query(IssueWorkflow.status)
        assert waiting.sla is not None
        resolution = waiting.sla.clock(SlaClockKind.RESOLUTION)
        assert resolution is not None and resolution.paused
        assert waiting.next_deadline is None
        report = await handle.query(IssueWorkflow.sla_clocks)
        views = {v.clock: v for v in report.clocks}
        assert views["resolution"].mode == "paused" and views["resolution"].deadline is None
        assert views["first_response"].mode == "stopped"
        assert views["tier_1"].mode == "paused"
        later = report.as_of + timedelta(hours=5)
        ahead = await handle.query(IssueWorkflow.sla_clocks, later)
        assert ahead.as_of == later
        paused = {v.clock: v.paused for v in ahead.clocks}
        assert paused["resolution"] == views["resolution"].paused + timedelta(hours=5)
        await time_skipping_env.sleep(timedelta(days=3))  # far past the 10 h target
        assert not [f for f in fired(fakes, handle) if f[0] == "resolution"]
        result = await handle.execute_update(
            IssueWorkflow.customer_reply, CustomerReplyCommand(actor=CUSTOMER, body="Here.")
        )
        assert result.status.sla is not None
        views = {v.clock: v for v in result.status.sla.views(await _now(time_skipping_env))}
        assert views["resolution"].mode == "running"
        assert views["resolution"].paused >= timedelta(days=3)
        assert views["resolution"].elapsed < timedelta(hours=1)
        await end(time_skipping_env, handle)
    clocks = [e.data for e in events(fakes, handle, "sla_clocks")]
    assert {"resolution": "paused", "tier_1": "paused"} in clocks
    assert {"resolution": "resumed", "tier_1": "resumed"} in clocks


async def test_a_rejected_resolution_resumes_the_resolution_clock(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=6))  # resolution at 60 %: 50 % fired
        await handle.execute_update(
            IssueWorkflow.propose_resolution,
            ProposeResolutionCommand(actor=ENGINEER, summary="Upgrade."),
        )
        await time_skipping_env.sleep(timedelta(days=1))  # stopped: nothing fires
        assert [f for f in fired(fakes, handle) if f[0] == "resolution"] == [("resolution", 50)]
        result = await handle.execute_update(
            IssueWorkflow.confirm_closure,
            ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="Still broken."),
        )
        assert result.status.sla is not None
        resolution = result.status.sla.clock(SlaClockKind.RESOLUTION)
        assert resolution is not None and resolution.running and resolution.cycle == 1
        await time_skipping_env.sleep(timedelta(hours=5))  # past 10 h of counted time
        await end(time_skipping_env, handle)
    assert [f for f in fired(fakes, handle) if f[0] == "resolution"] == [
        ("resolution", 50),
        ("resolution", 75),
        ("resolution", 90),
        ("resolution", 100),
    ]


async def test_a_tier_budget_breach_escalates_to_the_next_tier(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    budgets = {Tier.FRONTLINE: TierBudget(share=0.2), Tier.EXPERT: TierBudget(share=0.5)}
    promised = policy(budgets=budgets, actions=(BreachAction.NOTIFY_MANAGER, BreachAction.ESCALATE))
    fakes = FakeIssueActivities(policies={Severity.MAJOR: promised})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=2, minutes=30))  # tier 1 had 2 h
        status = await handle.query(IssueWorkflow.status)
        assert status.state == IssueState.ESCALATED and status.tier == Tier.EXPERT
        assert status.owner is not None and status.owner.engineer_id == "bob"
        assert status.sla is not None
        tier2 = status.sla.clock(SlaClockKind.TIER_2)
        assert tier2 is not None and tier2.running and tier2.target == timedelta(hours=5)
        await end(time_skipping_env, handle)
    escalations = events(fakes, handle, "escalated")
    assert len(escalations) == 1 and escalations[0].actor.kind == ActorKind.SYSTEM
    breach = events(fakes, handle, "sla_breached")
    assert [e.data["clock"] for e in breach][:1] == ["tier_1"]
    assert breach[0].seq < escalations[0].seq


def berlin_office_deadline(
    start: datetime, work: timedelta, holidays: frozenset[date] = frozenset()
) -> datetime:
    """Where `work` of Berlin office time (Monday to Friday, 09:00-17:00 local) after `start`
    ends: the expected deadline, worked out here day by day rather than asked of
    domain.calendar, whose answer the workflow under test uses."""
    berlin = ZoneInfo("Europe/Berlin")
    left, day = work, start.astimezone(berlin).date()
    while True:
        if day.weekday() < 5 and day not in holidays:
            opens = datetime.combine(day, time(9), berlin).astimezone(UTC)
            closes = datetime.combine(day, time(17), berlin).astimezone(UTC)
            begin = max(opens, start.astimezone(UTC))
            if begin < closes:
                if left <= closes - begin:
                    return begin + left
                left -= closes - begin
        day += timedelta(days=1)


async def test_a_weekend_and_a_holiday_inside_the_window_move_the_deadline(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    now = await _now(time_skipping_env)
    tomorrow = (now + timedelta(days=1)).date()
    office = BusinessCalendar.uniform(
        name="office",
        timezone="Europe/Berlin",
        intervals=[(time(9), time(17))],
        holidays=[tomorrow],
    )
    promised = policy(
        first_response=timedelta(hours=20), resolution=timedelta(hours=40), calendar=office
    )
    fakes = FakeIssueActivities(policies={Severity.MAJOR: promised})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        status = await wait_for(handle, IssueState.ASSIGNED)
        assert status.sla is not None
        first = status.sla.clock(SlaClockKind.FIRST_RESPONSE)
        assert first is not None
        expected = berlin_office_deadline(
            status.created_at, timedelta(hours=20), holidays=frozenset({tomorrow})
        )
        assert first.deadline(office) == expected
        # 20 business hours = 2.5 working days: with a holiday and possibly a weekend the
        # wall-clock span is longer than 3 days.
        assert expected - status.created_at > timedelta(days=3)
        await time_skipping_env.sleep(expected - status.created_at + timedelta(hours=1))
        await end(time_skipping_env, handle)
    breaches = [
        e for e in events(fakes, handle, "sla_breached") if e.data["clock"] == "first_response"
    ]
    assert len(breaches) == 1 and breaches[0].at >= expected
    assert datetime.fromisoformat(str(breaches[0].data["due_at"])) == expected


async def test_a_dst_change_inside_the_window_is_counted_in_business_time(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    office = BusinessCalendar.uniform(
        name="office", timezone="Europe/Berlin", intervals=[(time(9), time(17))]
    )
    now = await _now(time_skipping_env)
    # Enough business time to reach past the next spring-forward night in Berlin.
    spring = _next_dst_change(office, now)
    hours = office.business_time_between(now, spring) + timedelta(hours=24)
    promised = policy(first_response=timedelta(hours=1), resolution=hours, calendar=office)
    fakes = FakeIssueActivities(policies={Severity.MAJOR: promised})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        status = await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        expected = berlin_office_deadline(status.created_at, hours)
        assert expected > spring
        local = expected.astimezone(office.zone)
        assert time(9) <= local.time() <= time(17)
        assert (await handle.query(IssueWorkflow.status)).next_deadline == expected
        await time_skipping_env.sleep(expected - status.created_at + timedelta(hours=1))
        await end(time_skipping_env, handle)
    breaches = [e for e in events(fakes, handle, "sla_breached") if e.data["clock"] == "resolution"]
    assert len(breaches) == 1
    assert datetime.fromisoformat(str(breaches[0].data["due_at"])) == expected


async def test_a_severity_change_mid_flight_takes_the_new_targets_and_keeps_the_history(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    minor = policy(
        Severity.MINOR, first_response=timedelta(hours=4), resolution=timedelta(hours=40)
    )
    major = policy(
        Severity.MAJOR, first_response=timedelta(hours=1), resolution=timedelta(hours=10)
    )
    fakes = FakeIssueActivities(policies={Severity.MINOR: minor, Severity.MAJOR: major})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue, Severity.MINOR)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=6))  # 15 % of 40 h, 60 % of 10 h
        assert not [f for f in fired(fakes, handle) if f[0] == "resolution"]
        result = await handle.execute_update(
            IssueWorkflow.change_severity,
            ChangeSeverityCommand(actor=ENGINEER, severity=Severity.MAJOR, reason="All sites."),
        )
        assert result.status.severity == Severity.MAJOR
        assert result.status.sla is not None
        assert result.status.sla.policy.policy.resolution == timedelta(hours=10)
        await time_skipping_env.sleep(timedelta(minutes=1))
        assert [f for f in fired(fakes, handle) if f[0] == "resolution"] == [("resolution", 50)]
        await time_skipping_env.sleep(timedelta(hours=5))
        await end(time_skipping_env, handle)
    assert [f for f in fired(fakes, handle) if f[0] == "resolution"] == [
        ("resolution", 50),
        ("resolution", 75),
        ("resolution", 90),
        ("resolution", 100),
    ]
    assert len(events(fakes, handle, "severity_changed")) == 1


async def test_a_policy_edit_leaves_a_running_issue_alone_until_an_admin_reapplies_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=3))
        fakes.policies[Severity.MAJOR] = policy(resolution=timedelta(hours=4), version=2)
        await time_skipping_env.sleep(timedelta(hours=1))  # 4 h: the edit would breach now
        status = await handle.query(IssueWorkflow.status)
        assert status.sla is not None and status.sla.policy.version == 1
        assert not status.breached
        result = await handle.execute_update(
            IssueWorkflow.reapply_sla, ReapplySlaCommand(actor=ADMIN, reason="New contract")
        )
        assert result.status.sla is not None and result.status.sla.policy.version == 2
        resolution = result.status.sla.clock(SlaClockKind.RESOLUTION)
        assert resolution is not None and resolution.target == timedelta(hours=4)
        await time_skipping_env.sleep(timedelta(seconds=1))
        status = await handle.query(IssueWorkflow.status)
        assert status.breached  # recounted from history: 4 h counted of a 4 h target
        await end(time_skipping_env, handle)
    applied = events(fakes, handle, "sla_policy_applied")
    assert [e.data["version"] for e in applied] == [1, 2]


async def test_pending_sla_timers_survive_a_worker_restart(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    async with worker(time_skipping_env, task_queue, fakes, keep=True):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        # Quiet before the stop: only timers pending (an activity cut off by the shutdown
        # would hold the test server's clock until its timeout).
        for _ in range(200):
            described = await handle.describe()
            if (
                "issue_assigned" in fakes.notification_kinds(handle.id.removeprefix("issue-"))
                and not described.raw_description.pending_activities
                and not described.raw_description.HasField("pending_workflow_task")
            ):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the issue never came to rest with only its timers pending")
    # No worker: the timers wait in the server. A new worker (new process state) resumes.
    fresh = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    fresh.events = fakes.events
    fresh.writes = fakes.writes
    fresh.notifications = fakes.notifications
    fresh.notify_calls = fakes.notify_calls
    async with worker(time_skipping_env, task_queue, fresh):
        await time_skipping_env.sleep(timedelta(hours=2))
        assert (await handle.query(IssueWorkflow.status)).breached
        await end(time_skipping_env, handle)
    assert [f for f in fired(fresh, handle) if f[0] == "first_response"] == [
        ("first_response", 50),
        ("first_response", 75),
        ("first_response", 90),
        ("first_response", 100),
    ]
    assert all(count == 1 for count in fresh.notify_calls.values())


async def test_each_escalation_stops_the_tier_budget_and_starts_the_next(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    budgets = {
        Tier.FRONTLINE: TierBudget(share=0.2),
        Tier.EXPERT: TierBudget(share=0.4),
        Tier.RND: TierBudget(share=0.4),
    }
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy(budgets=budgets)})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=1))
        to_experts = await handle.execute_update(
            IssueWorkflow.escalate,
            EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="Needs an expert."),
        )
        await time_skipping_env.sleep(timedelta(minutes=30))
        to_rnd = await handle.execute_update(
            IssueWorkflow.escalate,
            EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="Firmware bug."),
        )
        await end(time_skipping_env, handle)
    assert to_experts.status.sla is not None and to_rnd.status.sla is not None
    tier1 = to_experts.status.sla.clock(SlaClockKind.TIER_1)
    tier2 = to_experts.status.sla.clock(SlaClockKind.TIER_2)
    assert tier1 is not None and tier1.stopped and tier1.consumed >= timedelta(hours=1)
    assert tier2 is not None and tier2.running and tier2.target == timedelta(hours=4)
    after = {c.name: c for c in to_rnd.status.sla.clocks}
    assert after["tier_2"].stopped and after["tier_2"].consumed >= timedelta(minutes=30)
    assert after["tier_3"].running and after["tier_3"].target == timedelta(hours=4)
    assert after["tier_1"].consumed == tier1.consumed  # a stopped budget stays as it was
    started = [e.data for e in events(fakes, handle, "sla_clocks")]
    assert {"tier_1": "stopped", "tier_2": "started"} in started
    assert {"tier_2": "stopped", "tier_3": "started"} in started


async def test_clocks_in_flight_survive_continue_as_new(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(policies={Severity.MAJOR: policy()})
    config = CONFIG.model_copy(update={"max_events_per_run": 14})
    async with worker(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue, config=config)
        await wait_for(handle, IssueState.ASSIGNED)
        first_run = (await handle.describe()).run_id
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await time_skipping_env.sleep(timedelta(hours=2))
        await handle.execute_update(
            IssueWorkflow.request_info, RequestInfoCommand(actor=ENGINEER, question="Logs?")
        )
        for i in range(6):  # the customer talks while the clock is paused: a new run
            await handle.execute_update(
                IssueWorkflow.comment, CommentCommand(actor=CUSTOMER, body=f"Detail {i}")
            )
        await time_skipping_env.sleep(timedelta(days=1))
        # (describe() cannot decode the unset ItrNextDeadline the time-skipping server keeps.)
        first = time_skipping_env.client.get_workflow_handle(handle.id, run_id=first_run)
        ended = (await first.fetch_history()).events[-1]
        assert ended.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        latest = time_skipping_env.client.get_workflow_handle_for(IssueWorkflow.run, handle.id)
        result = await latest.execute_update(
            IssueWorkflow.customer_reply, CustomerReplyCommand(actor=CUSTOMER, body="Here.")
        )
        assert result.status.sla is not None
        resolution = result.status.sla.clock(SlaClockKind.RESOLUTION)
        assert resolution is not None and resolution.running
        assert timedelta(hours=2) <= resolution.consumed < timedelta(hours=3)
        assert resolution.paused_total >= timedelta(days=1)
        assert len(resolution.segments) == 1 and resolution.fired == ()  # 20 %: nothing due
        await end(time_skipping_env, latest)


async def test_sla_histories_replay_with_the_current_code(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    assert SLA_HISTORIES, "run with the other tests of this module"
    histories: list[WorkflowHistory] = []
    for workflow_id in SLA_HISTORIES:
        handle = time_skipping_env.client.get_workflow_handle(workflow_id)
        histories.append(await handle.fetch_history())
    replayer = Replayer(
        workflows=[IssueWorkflow], data_converter=time_skipping_env.client.data_converter
    )
    results = await replayer.replay_workflows(_iter(histories), raise_on_replay_failure=False)
    assert len(results.replay_failures) == 0, results.replay_failures


async def _iter(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def _now(env: WorkflowEnvironment) -> datetime:
    return await env.get_current_time()


def _next_dst_change(calendar: BusinessCalendar, after: datetime) -> datetime:
    """The next instant the calendar's zone changes its UTC offset (hour resolution)."""
    zone = calendar.zone
    probe = after
    offset = after.astimezone(zone).utcoffset()
    for _ in range(24 * 400):
        probe += timedelta(hours=1)
        if probe.astimezone(zone).utcoffset() != offset:
            return probe
    raise AssertionError(f"no DST change in {zone} within 400 days of {after}")
