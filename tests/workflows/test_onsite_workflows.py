"""On-site service in the time-skipping server: a visit reminded before its window, checked
in and out (time on site kept), a missed window asking for a re-dispatch, and spare parts
through every state, each step on the issue's timeline once."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import BusinessCalendar
from domain.enums import (
    ActorKind,
    Category,
    ContractLevel,
    IssueState,
    ServiceMode,
    Severity,
    SlaClockKind,
)
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CancelCommand,
    ConfirmClosureCommand,
    IssueIntake,
    IssueStatus,
    IssueWorkflowInput,
    LifecycleConfig,
    ProposeResolutionCommand,
    SlaTargets,
)
from domain.onsite import PartState, VisitState
from domain.onsite_contracts import (
    CheckInCommand,
    CheckOutCommand,
    DispatchVisitCommand,
    FieldEngineer,
    PartStepCommand,
    RequestPartCommand,
)
from domain.sla import ResolvedPolicy, SlaClock, SlaPolicy
from tests.support.temporal import binary, register_search_attributes
from tests.workflows.fakes import FakeIssueActivities, FakeOnsiteActivities
from workflows.issue import COMMAND_REJECTED, IssueWorkflow
from workflows.spare_part import SparePartWorkflow
from workflows.visit import VisitWorkflow

OWNER = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok-acme", name="Ann Customer")
FIELD = Actor(kind=ActorKind.FIELD_ENGINEER, id="felix", name="Felix Field")
OTHER_FIELD = Actor(kind=ActorKind.FIELD_ENGINEER, id="fiona", name="Fiona Far")
WAREHOUSE = Actor(kind=ActorKind.WAREHOUSE, id="tok-wh", name="Walter Warehouse")
ENGINEERS = (
    FieldEngineer(engineer_id="felix", engineer_name="Felix Field"),
    FieldEngineer(engineer_id="fiona", engineer_name="Fiona Far"),
)
REMINDER_BEFORE = timedelta(hours=6)
CONFIG = LifecycleConfig(
    sla_targets={
        s: SlaTargets(first_response=timedelta(hours=4), resolution=timedelta(days=10))
        for s in Severity
    },
    confirmation_reminder_after=timedelta(days=3),
    auto_close_after=timedelta(days=7),
    reopen_window=timedelta(days=1),
    visit_reminder_before=REMINDER_BEFORE,
)


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, task_queue: str, fakes: FakeIssueActivities
) -> AsyncIterator[FakeOnsiteActivities]:
    onsite = FakeOnsiteActivities(ENGINEERS)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[IssueWorkflow, VisitWorkflow, SparePartWorkflow],
        activities=[*fakes.all(), *onsite.all()],
    ):
        yield onsite


async def open_onsite_issue(
    env: WorkflowEnvironment, task_queue: str
) -> WorkflowHandle[IssueWorkflow, Any]:
    issue_id = f"T-{uuid.uuid4().hex[:10]}"
    intake = IssueIntake(
        issue_id=issue_id,
        organisation_id="acme",
        product_id="edge-router",
        title="Router has no power",
        description="The router's power supply failed after a storm.",
        category=Category.INCIDENT,
        severity=Severity.MAJOR,
        service_mode=ServiceMode.ON_SITE,
        reporter=CUSTOMER,
        created_at=await env.get_current_time(),
    )
    handle = await env.client.start_workflow(
        IssueWorkflow.run,
        IssueWorkflowInput(intake=intake, config=CONFIG),
        id=f"issue-{issue_id}",
        task_queue=task_queue,
    )
    await until(handle, lambda s: s.state == IssueState.ASSIGNED, "assignment")
    await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=OWNER))
    return handle


async def until(
    handle: WorkflowHandle[IssueWorkflow, Any], check: Callable[[IssueStatus], bool], what: str
) -> IssueStatus:
    for _ in range(200):
        status = await handle.query(IssueWorkflow.status)
        if check(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"the issue never showed {what}; last: {status}")


async def close(env: WorkflowEnvironment, handle: WorkflowHandle[IssueWorkflow, Any]) -> None:
    """Resolve, confirm and let the reopen window pass, so nothing is left running."""
    await handle.execute_update(
        IssueWorkflow.propose_resolution,
        ProposeResolutionCommand(actor=OWNER, summary="Power supply replaced on site."),
    )
    await handle.execute_update(
        IssueWorkflow.confirm_closure, ConfirmClosureCommand(actor=CUSTOMER, accept=True)
    )
    await env.sleep(CONFIG.reopen_window + timedelta(hours=1))
    await asyncio.wait_for(handle.result(), timeout=30)


async def dispatch(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[IssueWorkflow, Any],
    *,
    starts_in: timedelta = timedelta(days=1),
    engineer: FieldEngineer | None = None,
) -> tuple[str, WorkflowHandle[VisitWorkflow, Any]]:
    now = await env.get_current_time()
    result = await handle.execute_update(
        IssueWorkflow.dispatch_visit,
        DispatchVisitCommand(
            actor=OWNER,
            window_start=now + starts_in,
            window_end=now + starts_in + timedelta(hours=4),
            engineer=engineer,
        ),
    )
    assert result.status.onsite is not None
    active = result.status.onsite.active_visit
    assert active is not None
    visit = env.client.get_workflow_handle_for(VisitWorkflow.run, active.visit_id)
    return active.visit_id, visit


async def refused(call: Any, reason: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await call
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED
    assert reason in cause.message, cause.message


async def test_a_visit_is_reminded_before_its_window_then_checked_in_and_out(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, fakes = time_skipping_env, FakeIssueActivities()
    async with running(env, task_queue, fakes) as onsite:
        handle = await open_onsite_issue(env, task_queue)
        issue_id = handle.id.removeprefix("issue-")
        visit_id, visit = await dispatch(env, handle)
        assert visit_id == f"visit-{issue_id}-1"
        # Nobody named: the first field engineer by the deterministic order.
        projected = await eventually(lambda: onsite.visits.get(visit_id))
        assert projected.visit.engineer_id == "felix"
        await refused(
            handle.execute_update(
                IssueWorkflow.dispatch_visit,
                DispatchVisitCommand(
                    actor=OWNER,
                    window_start=await env.get_current_time() + timedelta(days=3),
                    window_end=await env.get_current_time() + timedelta(days=4),
                ),
            ),
            "one visit at a time",
        )

        await env.sleep(timedelta(days=1) - REMINDER_BEFORE + timedelta(minutes=1))
        reminder = await eventually(lambda: fakes.notifications.get(f"{visit_id}:reminder"))
        window = onsite.visits[visit_id].visit
        assert reminder.at < window.window_start
        assert reminder.at >= window.window_start - REMINDER_BEFORE
        assert reminder.audience.engineer_id == "felix" and reminder.audience.reporter

        await refused(
            visit.execute_update(VisitWorkflow.check_out, CheckOutCommand(actor=FIELD)),
            "check in first",
        )
        await refused(
            visit.execute_update(VisitWorkflow.check_in, CheckInCommand(actor=OTHER_FIELD)),
            "only they can check in",
        )
        await env.sleep(REMINDER_BEFORE)  # the window has started
        checked_in = await visit.execute_update(VisitWorkflow.check_in, CheckInCommand(actor=FIELD))
        assert checked_in.visit.state == VisitState.CHECKED_IN
        await env.sleep(timedelta(minutes=90))
        done = await visit.execute_update(
            VisitWorkflow.check_out, CheckOutCommand(actor=FIELD, report="PSU replaced.")
        )
        assert done.visit.state == VisitState.COMPLETED
        assert done.visit.time_on_site is not None
        assert done.visit.time_on_site >= timedelta(minutes=90)
        outcome = await asyncio.wait_for(visit.result(), timeout=30)
        assert outcome.visit.state == VisitState.COMPLETED
        projected = onsite.visits[visit_id].visit
        assert projected.time_on_site == done.visit.time_on_site
        await until(
            handle,
            lambda s: s.onsite is not None and s.onsite.visits[0].state == VisitState.COMPLETED,
            "the completed visit",
        )
        await close(env, handle)

    assert [k for k in fakes.kinds(issue_id) if k.startswith("visit_")] == [
        "visit_dispatched",
        "visit_reminded",
        "visit_checked_in",
        "visit_checked_out",
    ]
    (checked_out,) = fakes.events_of(issue_id, "visit_checked_out")
    assert checked_out.data["time_on_site_seconds"] == int(done.visit.time_on_site.total_seconds())
    assert not fakes.written_more_than_once(issue_id)


async def test_a_window_without_check_in_is_missed_and_the_issue_asks_for_a_re_dispatch(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, fakes = time_skipping_env, FakeIssueActivities()
    async with running(env, task_queue, fakes):
        handle = await open_onsite_issue(env, task_queue)
        issue_id = handle.id.removeprefix("issue-")
        fiona = ENGINEERS[1]
        visit_id, visit = await dispatch(env, handle, starts_in=timedelta(hours=2), engineer=fiona)
        await env.sleep(timedelta(hours=7))
        outcome = await asyncio.wait_for(visit.result(), timeout=30)
        assert outcome.visit.state == VisitState.MISSED
        status = await until(
            handle, lambda s: s.onsite is not None and s.onsite.redispatch_needed, "re-dispatch"
        )
        assert status.onsite is not None and status.onsite.active_visit is None
        missed = next(n for n in fakes.notifications.values() if n.kind == "visit_missed")
        assert "re-dispatch needed" in missed.subject
        assert missed.audience.owner and missed.audience.owner_manager
        # The window was nearer than the reminder lead: the reminder went out at once.
        assert f"{visit_id}:reminder" in fakes.notifications

        second_id, second = await dispatch(env, handle, starts_in=timedelta(days=1))
        assert second_id == f"visit-{issue_id}-2"
        status = await handle.query(IssueWorkflow.status)
        assert status.onsite is not None and not status.onsite.redispatch_needed
        await env.sleep(timedelta(days=1, minutes=1))
        await second.execute_update(VisitWorkflow.check_in, CheckInCommand(actor=FIELD))
        await second.execute_update(VisitWorkflow.check_out, CheckOutCommand(actor=FIELD))
        await asyncio.wait_for(second.result(), timeout=30)
        await close(env, handle)

    kinds = [k for k in fakes.kinds(issue_id) if k.startswith("visit_")]
    assert kinds[:3] == ["visit_dispatched", "visit_reminded", "visit_missed"]
    assert kinds.count("visit_missed") == 1 and kinds.count("visit_dispatched") == 2


async def test_spare_parts_go_through_every_state_to_installed_or_are_returned(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, fakes = time_skipping_env, FakeIssueActivities()
    async with running(env, task_queue, fakes) as onsite:
        handle = await open_onsite_issue(env, task_queue)
        issue_id = handle.id.removeprefix("issue-")
        parts = []
        for number in (1, 2):
            result = await handle.execute_update(
                IssueWorkflow.request_part,
                RequestPartCommand(actor=OWNER, part_number=f"PSU-{number}", warehouse="wh-1"),
            )
            assert result.status.onsite is not None
            assert result.status.onsite.parts[-1].part_id == f"part-{issue_id}-{number}"
            parts.append(
                env.client.get_workflow_handle_for(
                    SparePartWorkflow.run, f"part-{issue_id}-{number}"
                )
            )
        installed, returned = parts

        await refused(
            installed.execute_update(SparePartWorkflow.install, PartStepCommand(actor=FIELD)),
            "cannot install a part that is requested",
        )
        await refused(
            installed.execute_update(SparePartWorkflow.pick, PartStepCommand(actor=FIELD)),
            "a field_engineer cannot pick",
        )
        steps = [
            (SparePartWorkflow.pick, WAREHOUSE, PartState.PICKED),
            (SparePartWorkflow.ship, WAREHOUSE, PartState.SHIPPED),
            (SparePartWorkflow.deliver, FIELD, PartState.DELIVERED),
            (SparePartWorkflow.install, FIELD, PartState.INSTALLED),
        ]
        for update, actor, state in steps:
            await env.sleep(timedelta(hours=3))
            moved = await installed.execute_update(update, PartStepCommand(actor=actor))
            assert moved.part.state == state
        assert (await asyncio.wait_for(installed.result(), 30)).part.state == PartState.INSTALLED

        await returned.execute_update(SparePartWorkflow.pick, PartStepCommand(actor=WAREHOUSE))
        await refused(
            returned.execute_update(
                SparePartWorkflow.return_part, PartStepCommand(actor=WAREHOUSE)
            ),
            "a warehouse cannot return",
        )
        back = await returned.execute_update(
            SparePartWorkflow.return_part, PartStepCommand(actor=FIELD, reason="Wrong model.")
        )
        assert back.part.state == PartState.RETURNED and back.part.return_reason == "Wrong model."
        assert (await asyncio.wait_for(returned.result(), 30)).part.state == PartState.RETURNED

        status = await until(
            handle,
            lambda s: (
                s.onsite is not None
                and [p.state for p in s.onsite.parts] == [PartState.INSTALLED, PartState.RETURNED]
            ),
            "both parts final",
        )
        assert status.onsite is not None and not status.onsite.waiting_for_parts
        first = onsite.parts[f"part-{issue_id}-1"].part
        spent = first.time_in_states(await env.get_current_time())
        assert set(spent) == set(PartState) - {PartState.RETURNED, PartState.CANCELLED}
        assert spent[PartState.PICKED] >= timedelta(hours=3)
        assert first.age(await env.get_current_time()) >= timedelta(hours=12)
        await close(env, handle)

    assert [k for k in fakes.kinds(issue_id) if k.startswith("part_")] == [
        "part_requested",
        "part_requested",
        "part_picked",
        "part_shipped",
        "part_delivered",
        "part_installed",
        "part_picked",
        "part_returned",
    ]


async def eventually(probe: Callable[[], Any]) -> Any:
    for _ in range(200):
        found = probe()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of its own: after the issue signals its children (signal-external
    from a workflow whose run then completes), the shared test server's clock stopped
    skipping for every later test (the dev-server test covers the same path in real time)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary("temporal-test-server"),
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


async def test_cancelling_the_issue_calls_off_its_unstarted_visit_and_unsent_parts(
    own_time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, fakes = own_time_skipping_env, FakeIssueActivities()
    async with running(env, task_queue, fakes) as onsite:
        handle = await open_onsite_issue(env, task_queue)
        issue_id = handle.id.removeprefix("issue-")
        _, visit = await dispatch(env, handle)
        for number in (1, 2):
            await handle.execute_update(
                IssueWorkflow.request_part,
                RequestPartCommand(actor=OWNER, part_number=f"FAN-{number}", warehouse="wh-1"),
            )
        waiting = env.client.get_workflow_handle_for(SparePartWorkflow.run, f"part-{issue_id}-1")
        on_its_way = env.client.get_workflow_handle_for(SparePartWorkflow.run, f"part-{issue_id}-2")
        for update in (SparePartWorkflow.pick, SparePartWorkflow.ship):
            await on_its_way.execute_update(update, PartStepCommand(actor=WAREHOUSE))
        await until(
            handle,
            lambda s: s.onsite is not None and s.onsite.parts[1].state == PartState.SHIPPED,
            "the shipped part",
        )
        await handle.execute_update(
            IssueWorkflow.cancel, CancelCommand(actor=CUSTOMER, reason="Fixed it ourselves.")
        )
        assert (await asyncio.wait_for(visit.result(), 30)).visit.state == VisitState.CANCELLED
        assert (await asyncio.wait_for(waiting.result(), 30)).part.state == PartState.CANCELLED
        assert (await on_its_way.query(SparePartWorkflow.part)).state == PartState.SHIPPED
        back = await on_its_way.execute_update(
            SparePartWorkflow.return_part, PartStepCommand(actor=FIELD, reason="Not needed.")
        )
        assert back.part.state == PartState.RETURNED
        await asyncio.wait_for(on_its_way.result(), 30)
        await asyncio.wait_for(handle.result(), 30)
        assert onsite.visits[visit.id].visit.state == VisitState.CANCELLED
        assert onsite.parts[f"part-{issue_id}-1"].part.state == PartState.CANCELLED


async def test_the_resolution_clock_waits_while_a_part_is_on_its_way_if_the_policy_says_so(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    policy = ResolvedPolicy(
        policy=SlaPolicy(
            contract_level=ContractLevel.PREMIUM,
            severity=Severity.MAJOR,
            first_response=timedelta(hours=4),
            resolution=timedelta(days=10),
            pause_for_parts=True,
        ),
        calendar=BusinessCalendar.always(),
        version=1,
    )
    env, fakes = time_skipping_env, FakeIssueActivities(policies={Severity.MAJOR: policy})
    async with running(env, task_queue, fakes):
        handle = await open_onsite_issue(env, task_queue)
        issue_id = handle.id.removeprefix("issue-")
        await handle.execute_update(
            IssueWorkflow.request_part,
            RequestPartCommand(actor=OWNER, part_number="PSU-1", warehouse="wh-1"),
        )
        assert resolution(await handle.query(IssueWorkflow.status)).paused
        part = env.client.get_workflow_handle_for(SparePartWorkflow.run, f"part-{issue_id}-1")
        for update, actor in [
            (SparePartWorkflow.pick, WAREHOUSE),
            (SparePartWorkflow.ship, WAREHOUSE),
        ]:
            await env.sleep(timedelta(hours=2))
            await part.execute_update(update, PartStepCommand(actor=actor))
        await env.sleep(timedelta(hours=2))
        await part.execute_update(SparePartWorkflow.deliver, PartStepCommand(actor=FIELD))
        status = await until(handle, lambda s: not resolution(s).paused, "the resumed clock")
        assert resolution(status).paused_for(await env.get_current_time()) >= timedelta(hours=6)
        await part.execute_update(SparePartWorkflow.install, PartStepCommand(actor=FIELD))
        await asyncio.wait_for(part.result(), 30)
        await close(env, handle)
    clocks = [e.data for e in fakes.events_of(issue_id, "sla_clocks")]
    assert {"resolution": "paused"} in clocks and {"resolution": "resumed"} in clocks


def resolution(status: IssueStatus) -> SlaClock:
    clock = status.clock(SlaClockKind.RESOLUTION)
    assert clock is not None
    return clock
