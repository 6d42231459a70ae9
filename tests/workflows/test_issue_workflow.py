"""IssueWorkflow in the time-skipping server: days of timers in seconds, real Temporal semantics.

Exact SLA timing is proven in the domain tests and on the dev server; here the clock may
jump past cancelled timers, so these tests assert order and once-ness.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.enums import ActorKind, Category, ClosureOutcome, IssueState, Severity, Tier
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CancelCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    Entitlement,
    EntitlementQuery,
    EscalateCommand,
    IssueIntake,
    IssueOutcome,
    IssueStatus,
    IssueWorkflowInput,
    LifecycleConfig,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
    SlaTargets,
)
from tests.workflows.fakes import FakeIssueActivities
from workflows.issue import COMMAND_REJECTED, IssueWorkflow

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok-acme", name="Ann Customer")
MANAGER = Actor(kind=ActorKind.MANAGER, id="mona", name="Mona")

CONFIG = LifecycleConfig(
    sla_targets={
        s: SlaTargets(first_response=timedelta(hours=1), resolution=timedelta(days=1))
        for s in Severity
    },
    confirmation_reminder_after=timedelta(days=3),
    auto_close_after=timedelta(days=7),
    reopen_window=timedelta(days=14),
)

HISTORIES: list[tuple[str, str]] = []


async def intake(env: WorkflowEnvironment) -> IssueIntake:
    return IssueIntake(
        issue_id=f"T-{uuid.uuid4().hex[:10]}",
        organisation_id="acme",
        product_id="edge-router",
        title="Router drops packets",
        description="Since the upgrade to 5.2 the router drops 3% of packets.",
        category=Category.INCIDENT,
        severity=Severity.MAJOR,
        reporter=CUSTOMER,
        created_at=await env.get_current_time(),
    )


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, task_queue: str, fakes: FakeIssueActivities
) -> AsyncIterator[None]:
    started = len(HISTORIES)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[IssueWorkflow],
        activities=fakes.all(),
    ):
        try:
            yield
        finally:
            # A workflow left running without a worker (or terminated with an activity in
            # flight) stops the test server's clock and stalls every later test: let each
            # one run to its natural end while the worker is still here.
            for workflow_id, _ in HISTORIES[started:]:
                handle = env.client.get_workflow_handle(workflow_id)
                with contextlib.suppress(Exception):
                    await finish(env, handle, timedelta(days=60))


async def start(
    env: WorkflowEnvironment, task_queue: str, config: LifecycleConfig = CONFIG
) -> WorkflowHandle[IssueWorkflow, object]:
    data = await intake(env)
    handle = await env.client.start_workflow(
        IssueWorkflow.run,
        IssueWorkflowInput(intake=data, config=config),
        id=f"issue-{data.issue_id}",
        task_queue=task_queue,
    )
    HISTORIES.append((handle.id, task_queue))
    return handle  # type: ignore[return-value]


async def finish(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], after: timedelta
) -> IssueOutcome:
    """Skip `after` of workflow time, then collect the result.

    The test server's automatic skipping (while awaiting a result) can stall after timers
    were cancelled, so time is advanced explicitly.
    """
    await env.sleep(after)
    outcome: IssueOutcome = await asyncio.wait_for(handle.result(), timeout=30)
    return outcome


async def wait_for(
    handle: WorkflowHandle[IssueWorkflow, object], state: IssueState, attempts: int = 200
) -> IssueStatus:
    for _ in range(attempts):
        status = await handle.query(IssueWorkflow.status)
        if status.state == state:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"issue never reached {state}; last: {status.state}")


async def test_issue_goes_from_intake_to_closure_when_the_customer_accepts(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        assigned = await wait_for(handle, IssueState.ASSIGNED)
        assert assigned.owner is not None and assigned.owner.engineer_id == "alice"
        assert assigned.entitlement is not None

        result = await handle.execute_update(
            IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER, message="On it.")
        )
        assert result.status.state == IssueState.IN_PROGRESS
        assert result.comment_id is not None
        result = await handle.execute_update(
            IssueWorkflow.propose_resolution,
            ProposeResolutionCommand(actor=ENGINEER, summary="Apply firmware 5.2.1."),
        )
        assert result.status.state == IssueState.AWAITING_CONFIRMATION
        result = await handle.execute_update(
            IssueWorkflow.confirm_closure,
            ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=5),
        )
        assert result.status.state == IssueState.CLOSED
        assert result.status.satisfaction == 5

        outcome = await finish(time_skipping_env, handle, CONFIG.reopen_window + timedelta(days=1))
        assert outcome.state == IssueState.CLOSED
        assert outcome.closure_outcome == ClosureOutcome.ACCEPTED

    issue_id = handle.id.removeprefix("issue-")
    assert fakes.kinds(issue_id) == [
        "created",
        "accepted",
        "assigned",
        "acknowledged",
        "resolution_proposed",
        "confirmation_requested",
        "closed",
        "archived",
    ]
    assert "confirmation_requested" in fakes.notification_kinds(issue_id)
    assert all(count == 1 for count in fakes.notify_calls.values())


async def test_rejected_resolution_returns_to_the_same_owner_then_closes_on_accept(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await handle.execute_update(
            IssueWorkflow.propose_resolution,
            ProposeResolutionCommand(actor=ENGINEER, summary="Reboot."),
        )
        rejected = await handle.execute_update(
            IssueWorkflow.confirm_closure,
            ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="Still dropping."),
        )
        assert rejected.status.state == IssueState.IN_PROGRESS
        assert rejected.status.owner is not None and rejected.status.owner.engineer_id == "alice"
        await handle.execute_update(
            IssueWorkflow.propose_resolution,
            ProposeResolutionCommand(actor=ENGINEER, summary="Firmware 5.2.1."),
        )
        closed = await handle.execute_update(
            IssueWorkflow.confirm_closure,
            ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=4),
        )
        assert closed.status.state == IssueState.CLOSED
    kinds = fakes.kinds(handle.id.removeprefix("issue-"))
    assert kinds.count("resolution_rejected") == 1
    assert kinds.index("resolution_rejected") < kinds.index("closed")


async def test_silence_after_a_proposed_resolution_sends_one_reminder_then_auto_closes(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        await handle.execute_update(
            IssueWorkflow.propose_resolution,
            ProposeResolutionCommand(actor=ENGINEER, summary="Fixed in 5.2.1."),
        )
        outcome = await finish(time_skipping_env, handle, timedelta(days=30))
        assert outcome.closure_outcome == ClosureOutcome.AUTO_CLOSED
    issue_id = handle.id.removeprefix("issue-")
    kinds = fakes.kinds(issue_id)
    assert kinds.count("confirmation_reminder") == 1
    assert kinds.index("confirmation_reminder") < kinds.index("closed")
    assert fakes.notification_kinds(issue_id).count("confirmation_reminder") == 1


async def test_cancel_ends_the_workflow_from_an_open_state(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        result = await handle.execute_update(
            IssueWorkflow.cancel, CancelCommand(actor=CUSTOMER, reason="Found it myself.")
        )
        assert result.status.state == IssueState.CANCELLED
        outcome = await handle.result()
        assert outcome.state == IssueState.CANCELLED


async def test_reopen_inside_the_window_resumes_work_and_outside_it_is_refused(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        for _ in range(2):
            await handle.execute_update(
                IssueWorkflow.propose_resolution,
                ProposeResolutionCommand(actor=ENGINEER, summary="Fixed."),
            )
            await handle.execute_update(
                IssueWorkflow.confirm_closure,
                ConfirmClosureCommand(actor=CUSTOMER, accept=True),
            )
            if _ == 0:
                reopened = await handle.execute_update(
                    IssueWorkflow.reopen, ReopenCommand(actor=CUSTOMER, reason="It is back.")
                )
                assert reopened.status.state == IssueState.IN_PROGRESS
                assert reopened.status.reopen_count == 1
        outcome = await finish(time_skipping_env, handle, timedelta(days=15))
        assert outcome.state == IssueState.CLOSED
        with pytest.raises(RPCError):  # the workflow has ended: nothing can reopen it
            await handle.execute_update(
                IssueWorkflow.reopen, ReopenCommand(actor=CUSTOMER, reason="Again.")
            )
    assert fakes.kinds(handle.id.removeprefix("issue-")).count("reopened") == 1


async def test_missed_deadlines_are_recorded_once_each_and_notify_the_manager(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await time_skipping_env.sleep(timedelta(days=2))
        status = await handle.query(IssueWorkflow.status)
        assert status.sla is not None
        assert [c.name for c in status.sla.clocks if c.breached] == ["first_response", "resolution"]
        assert status.breached
        await time_skipping_env.sleep(timedelta(days=1))
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))
        await handle.result()
    issue_id = handle.id.removeprefix("issue-")
    breaches = [
        e for e in fakes.events.values() if e.issue_id == issue_id and e.kind == "sla_breached"
    ]
    in_time_order = sorted(breaches, key=lambda e: e.at)
    assert [e.data["clock"] for e in in_time_order] == ["first_response", "resolution"]
    assert in_time_order[0].at < in_time_order[1].at  # 1 h target, then 1 day
    assert fakes.notification_kinds(issue_id).count("sla_breached") == 2


async def test_a_command_the_state_forbids_is_rejected_before_it_enters_history(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(
                IssueWorkflow.confirm_closure, ConfirmClosureCommand(actor=CUSTOMER, accept=True)
            )
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED
        assert "assigned" in str(cause)
        history = await handle.fetch_history()
        accepted = [
            e
            for e in history.events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]
        assert accepted == []
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))


async def test_escalation_dispatches_a_higher_tier_and_waiting_customer_round_trips(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        escalated = await handle.execute_update(
            IssueWorkflow.escalate,
            EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="Needs a routing expert"),
        )
        assert escalated.status.state == IssueState.ESCALATED
        assert escalated.status.tier == Tier.EXPERT
        assert escalated.status.owner is not None and escalated.status.owner.engineer_id == "bob"
        assert escalated.status.tier1_owner is not None
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                IssueWorkflow.escalate,
                EscalateCommand(actor=ENGINEER, to_tier=Tier.FRONTLINE, reason="back"),
            )
        waiting = await handle.execute_update(
            IssueWorkflow.request_info,
            RequestInfoCommand(actor=ENGINEER, question="Which firmware exactly?"),
        )
        assert waiting.status.state == IssueState.WAITING_CUSTOMER
        back = await handle.execute_update(
            IssueWorkflow.customer_reply, CustomerReplyCommand(actor=CUSTOMER, body="5.2.0")
        )
        assert back.status.state == IssueState.ESCALATED
        await handle.execute_update(
            IssueWorkflow.comment,
            CommentCommand(actor=ENGINEER, body="Reproduced in the lab."),
        )
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))
        await handle.result()


async def test_long_lived_issue_continues_as_new_and_keeps_its_state(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    config = CONFIG.model_copy(update={"max_events_per_run": 12})
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue, config)
        await wait_for(handle, IssueState.ASSIGNED)
        first_run = (await handle.describe()).run_id
        for i in range(8):
            await handle.execute_update(
                IssueWorkflow.comment, CommentCommand(actor=CUSTOMER, body=f"Detail {i}")
            )
        for _ in range(100):
            if (await handle.describe()).run_id != first_run:
                break
            await asyncio.sleep(0.05)
        latest = time_skipping_env.client.get_workflow_handle_for(IssueWorkflow.run, handle.id)
        status = await latest.query(IssueWorkflow.status)
        assert (await latest.describe()).run_id != first_run
        assert status.state == IssueState.ASSIGNED
        result = await latest.execute_update(
            IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER)
        )
        assert result.status.state == IssueState.IN_PROGRESS
        await latest.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))
        await latest.result()
    issue_id = handle.id.removeprefix("issue-")
    assert fakes.kinds(issue_id).count("commented") == 8
    assert fakes.written_more_than_once(issue_id) == {}  # nothing re-recorded across runs


async def test_a_failing_read_model_write_is_retried_and_written_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(fail_record_times=2)
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))
        await handle.result()
    issue_id = handle.id.removeprefix("issue-")
    assert fakes.kinds(issue_id)[:3] == ["created", "accepted", "assigned"]
    assert fakes.record_calls >= 2 + 2  # two failed attempts; intake's batch, the cancel's
    assert len(fakes.writes) == len(fakes.events)  # each event reached the read model once
    assert fakes.written_more_than_once(issue_id) == {}


class IntakeHeldOpen(FakeIssueActivities):
    """The fakes, with the entitlement lookup (mid-intake: after "created", before "accepted")
    held until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.looking_up = asyncio.Event()
        self.let_go = asyncio.Event()

    @activity.defn(name="itr.lookup_entitlement")
    async def lookup_entitlement(self, query: EntitlementQuery) -> Entitlement:
        self.looking_up.set()
        await self.let_go.wait()
        return await super().lookup_entitlement(query)


async def update_accepted(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow accepted an update (it is then in history, waiting or done)."""
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            return True
    return False


async def test_a_command_sent_during_intake_waits_until_the_issue_is_registered(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = IntakeHeldOpen()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await asyncio.wait_for(fakes.looking_up.wait(), timeout=30)
        early = asyncio.create_task(
            handle.execute_update(
                IssueWorkflow.comment, CommentCommand(actor=CUSTOMER, body="More details")
            )
        )
        for _ in range(200):  # accepted, then waiting for the intake to finish
            if await update_accepted(handle):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the workflow never accepted the early comment")
        assert not early.done()
        fakes.let_go.set()
        result = await early
        assert result.comment_id is not None
        await handle.execute_update(IssueWorkflow.cancel, CancelCommand(actor=MANAGER, reason="x"))
        await handle.result()
    kinds = fakes.kinds(handle.id.removeprefix("issue-"))
    assert kinds[:4] == ["created", "accepted", "assigned", "commented"]


async def test_histories_recorded_by_this_suite_replay_with_the_current_code(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    assert HISTORIES, "run with the tests above"

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for workflow_id, _ in HISTORIES:
            handle = time_skipping_env.client.get_workflow_handle(workflow_id)
            yield await handle.fetch_history()

    replayer = Replayer(
        workflows=[IssueWorkflow], data_converter=time_skipping_env.client.data_converter
    )
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert len(results.replay_failures) == 0, results.replay_failures
