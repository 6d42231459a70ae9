"""Tracker sync in the time-skipping server: the real TrackerActivities on a fake tracker."""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.tracker import TrackerActivities
from domain.enums import DefectOutcome, IssueState, Severity, Tier
from domain.models import (
    AcknowledgeCommand,
    CancelCommand,
    ChangeSeverityCommand,
    DefectChange,
    EscalateCommand,
    IssueStatus,
    LinkDefectCommand,
    LinkDefectInput,
    RetryTrackerSyncCommand,
    TrackerSyncReport,
)
from tests.workflows.fakes import FakeDefectTracker, FakeIssueActivities, browse_url
from tests.workflows.test_issue_workflow import CONFIG, ENGINEER, start, wait_for
from workflows.issue import COMMAND_REJECTED, IssueWorkflow

TRACKED = CONFIG.model_copy(update={"tracker_enabled": True})


@asynccontextmanager
async def running(
    env: WorkflowEnvironment,
    task_queue: str,
    fakes: FakeIssueActivities,
    tracker: FakeDefectTracker,
    sink: "RecordingSink | None" = None,
) -> AsyncIterator[list[WorkflowHandle[IssueWorkflow, object]]]:
    """A worker with the tracker activities; every issue is cancelled and finished after."""
    activities = TrackerActivities(tracker, "https://itr.example", browse_url, sink)  # type: ignore[arg-type]
    handles: list[WorkflowHandle[IssueWorkflow, object]] = []
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[IssueWorkflow],
            activities=[
                *fakes.all(),
                activities.create_defect,
                activities.link_defect,
                activities.mirror_comment,
            ],
            activity_executor=executor,
        ):
            try:
                yield handles
            finally:
                for handle in handles:
                    status = await handle.query(IssueWorkflow.status)
                    if status.state not in (IssueState.CLOSED, IssueState.CANCELLED):
                        await handle.execute_update(
                            IssueWorkflow.cancel, CancelCommand(actor=ENGINEER, reason="test over")
                        )
                    await asyncio.wait_for(handle.result(), timeout=30)


class RecordingSink:
    """A SyncStatusSink that keeps every report (the worker's one writes the read model)."""

    def __init__(self) -> None:
        self.reports: list[TrackerSyncReport] = []
        self.defect_ids: dict[str, tuple[str, str]] = {}

    def report(self, report: TrackerSyncReport) -> None:
        self.reports.append(report)

    def linked_issue_count(self, defect_key: str, defect_id: str | None = None) -> int | None:
        return None

    def record_defect_link(self, issue_id: str, defect_key: str, defect_id: str) -> None:
        self.defect_ids[issue_id] = (defect_key, defect_id)

    def defect_id_of(self, issue_id: str) -> str | None:
        recorded = self.defect_ids.get(issue_id)
        return recorded[1] if recorded else None


async def escalated_to_rnd(
    env: WorkflowEnvironment, task_queue: str, handles: list[WorkflowHandle[IssueWorkflow, object]]
) -> WorkflowHandle[IssueWorkflow, object]:
    handle = await start(env, task_queue, TRACKED)
    handles.append(handle)
    await wait_for(handle, IssueState.ASSIGNED)
    await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
    result = await handle.execute_update(
        IssueWorkflow.escalate,
        EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="Firmware bug"),
    )
    assert result.status.state == IssueState.ESCALATED
    return handle


async def settled(
    env: WorkflowEnvironment, handle: WorkflowHandle[IssueWorkflow, object]
) -> IssueStatus:
    """Skip time (tracker retries wait seconds) until the defect is linked or failed."""
    for _ in range(40):
        status = await handle.query(IssueWorkflow.status)
        if status.defect_key or status.tracker_sync_error:
            return status
        await env.sleep(timedelta(seconds=2))
    raise AssertionError(f"tracker sync never settled: {status}")


async def test_escalation_to_rnd_creates_one_defect_even_when_the_response_was_lost(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes, tracker = FakeIssueActivities(), FakeDefectTracker(lose_create_responses=1)
    sink = RecordingSink()
    async with running(time_skipping_env, task_queue, fakes, tracker, sink) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        status = await settled(time_skipping_env, handle)

    # Pending from the first attempt, the transient error stays visible until success clears it.
    assert [(r.attempt, r.pending, r.last_error, r.keep_last_error) for r in sink.reports] == [
        (1, True, None, False),
        (1, True, "connection lost after Jira accepted", False),
        (2, True, None, True),
        (2, False, None, False),
    ]

    assert status.defect_key == "RND-1" and status.tracker_sync_error is None
    assert status.defect_url == browse_url("RND-1")
    assert sink.defect_ids == {status.issue_id: ("RND-1", "RND-1")}, "the fake's id is its key"
    assert tracker.create_calls == 2 and len(tracker.drafts) == 1
    draft = tracker.drafts[0]
    assert draft.product_version == "4.2.1" and draft.product == "edge-router"
    assert draft.issue_url == f"https://itr.example/issues/{status.issue_id}"
    assert "drops 3% of packets" in draft.actual_behaviour
    assert "Ann" not in draft.model_dump_json()  # no customer personal data
    assert fakes.kinds(status.issue_id).count("defect_linked") == 1


async def test_fixed_defect_returns_to_tier1_owner_and_asks_the_customer_to_confirm(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes, tracker = FakeIssueActivities(), FakeDefectTracker()
    async with running(time_skipping_env, task_queue, fakes, tracker) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        key = (await settled(time_skipping_env, handle)).defect_key
        assert key is not None
        fixed = DefectChange(
            defect_key=key, outcome=DefectOutcome.FIXED, dedupe_key="d-1", fix_versions=("4.3.0",)
        )
        await handle.signal(IssueWorkflow.defect_changed, fixed)
        status = await wait_for(handle, IssueState.AWAITING_CONFIRMATION)
        # A redelivered or late change no longer fits: recorded, ignored, workflow unharmed.
        await handle.signal(IssueWorkflow.defect_changed, fixed)
        await handle.signal(
            IssueWorkflow.defect_changed,
            fixed.model_copy(update={"outcome": DefectOutcome.WONT_FIX, "dedupe_key": "d-2"}),
        )
        for _ in range(100):
            if fakes.kinds(status.issue_id).count("defect_update_ignored") == 2:
                break
            await asyncio.sleep(0.05)
        after = await handle.query(IssueWorkflow.status)

    assert status.tier == Tier.FRONTLINE
    assert status.owner is not None and status.owner.engineer_id == "alice"
    assert status.resolution_summary is not None and "4.3.0" in status.resolution_summary
    assert after.state == IssueState.AWAITING_CONFIRMATION
    kinds = fakes.kinds(status.issue_id)
    fixed_at = kinds.index("defect_fixed")
    assert kinds[fixed_at : fixed_at + 3] == [
        "defect_fixed",
        "resolution_proposed",
        "confirmation_requested",
    ]
    assert kinds.count("defect_update_ignored") == 2
    assert "confirmation_requested" in fakes.notification_kinds(status.issue_id)


async def test_wont_fix_sends_the_issue_to_tier2_and_a_reopen_brings_it_back_to_rnd(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes, tracker = FakeIssueActivities(), FakeDefectTracker()
    async with running(time_skipping_env, task_queue, fakes, tracker) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        key = (await settled(time_skipping_env, handle)).defect_key
        assert key is not None
        await handle.signal(
            IssueWorkflow.defect_changed,
            DefectChange(
                defect_key=key, outcome=DefectOutcome.WONT_FIX, dedupe_key="d", reason="Won't Fix"
            ),
        )
        for _ in range(100):
            status = await handle.query(IssueWorkflow.status)
            if status.tier == Tier.EXPERT:
                break
            await asyncio.sleep(0.05)

        await handle.signal(
            IssueWorkflow.defect_changed,
            DefectChange(defect_key=key, outcome=DefectOutcome.REOPENED, dedupe_key="r"),
        )
        for _ in range(100):
            waiting = await handle.query(IssueWorkflow.status)
            if waiting.tier == Tier.RND:
                break
            await asyncio.sleep(0.05)

    assert status.state == IssueState.ESCALATED and status.tier == Tier.EXPERT
    assert status.owner is not None and status.owner.engineer_id == "bob"
    assert waiting.state == IssueState.ESCALATED and waiting.tier == Tier.RND
    assert waiting.owner is not None and waiting.owner.engineer_id == "rita"
    kinds = fakes.kinds(status.issue_id)
    assert kinds.index("defect_wont_fix") < kinds.index("defect_reopened")


async def test_permanent_tracker_error_is_visible_and_the_issue_stays_escalated(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    tracker = FakeDefectTracker(permanent_error="no Jira project for product", existing=("RND-7",))
    sink = RecordingSink()
    async with running(time_skipping_env, task_queue, fakes, tracker, sink) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        failed = await settled(time_skipping_env, handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                IssueWorkflow.link_defect, LinkDefectCommand(actor=ENGINEER, defect_key="RND-99")
            )
        linked = await handle.execute_update(
            IssueWorkflow.link_defect, LinkDefectCommand(actor=ENGINEER, defect_key="RND-7")
        )

    assert tracker.create_calls == 1  # non-retryable: no retry storm
    assert [(r.pending, r.last_error) for r in sink.reports] == [
        (True, None),
        (False, "no Jira project for product"),
    ]
    assert failed.state == IssueState.ESCALATED and failed.tier == Tier.RND
    assert failed.tracker_sync_error is not None and "no Jira project" in failed.tracker_sync_error
    assert "tracker_sync_failed" in fakes.kinds(failed.issue_id)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED
    assert "RND-99 does not exist" in cause.message
    assert linked.status.defect_key == "RND-7" and linked.status.tracker_sync_error is None
    assert ("RND-7", failed.issue_id) in tracker.links


async def test_linking_is_refused_without_a_tracker_or_below_tier3(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes, tracker = FakeIssueActivities(), FakeDefectTracker(existing=("RND-1",))
    async with running(time_skipping_env, task_queue, fakes, tracker) as handles:
        untracked = await start(time_skipping_env, task_queue)
        handles.append(untracked)
        await wait_for(untracked, IssueState.ASSIGNED)
        tracked = await start(time_skipping_env, task_queue, TRACKED)
        handles.append(tracked)
        await wait_for(tracked, IssueState.ASSIGNED)
        reasons = []
        for handle in (untracked, tracked):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    IssueWorkflow.link_defect, LinkDefectCommand(actor=ENGINEER, defect_key="RND-1")
                )
            assert isinstance(refused.value.cause, ApplicationError)
            reasons.append(refused.value.cause.message)

    assert "no defect tracker" in reasons[0]
    assert "escalated to tier 3" in reasons[1]
    assert tracker.links == []


async def test_retrying_the_tracker_sync_is_refused_until_it_failed_and_creates_the_defect_after(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    tracker = FakeDefectTracker(permanent_error="no Jira project for product")
    async with running(time_skipping_env, task_queue, fakes, tracker) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        failed = await settled(time_skipping_env, handle)
        tracker._permanent = None  # the admin fixed the Jira configuration
        retried = await handle.execute_update(
            IssueWorkflow.retry_tracker_sync, RetryTrackerSyncCommand(actor=ENGINEER)
        )
        linked = await settled(time_skipping_env, handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                IssueWorkflow.retry_tracker_sync, RetryTrackerSyncCommand(actor=ENGINEER)
            )

    assert failed.tracker_sync_error is not None
    assert retried.status.tracker_sync_error is None
    assert linked.defect_key == "RND-1" and tracker.create_calls == 2
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED
    assert "already linked to RND-1" in cause.message
    assert fakes.kinds(failed.issue_id).count("tracker_sync_retried") == 1


async def test_a_severity_change_is_told_to_r_and_d_on_the_linked_defect_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes, tracker = FakeIssueActivities(), FakeDefectTracker()
    async with running(time_skipping_env, task_queue, fakes, tracker) as handles:
        handle = await escalated_to_rnd(time_skipping_env, task_queue, handles)
        status = await settled(time_skipping_env, handle)
        await handle.execute_update(
            IssueWorkflow.change_severity,
            ChangeSeverityCommand(actor=ENGINEER, severity=Severity.CRITICAL, reason="All sites."),
            id="severity-once",
        )
        await time_skipping_env.sleep(timedelta(seconds=5))
    impact = [
        (key, body) for marker, key, body in tracker.comment_posts if marker.startswith("severity:")
    ]
    assert len(impact) == 1  # every post counted: the adapter's marker dedupe hides none
    assert impact[0][0] == status.defect_key
    assert "Customer impact changed: severity 2 -> 1 (All sites.)" in impact[0][1]


class FailingLinkSink(RecordingSink):
    """The read model refuses the defect id (database down)."""

    def record_defect_link(self, issue_id: str, defect_key: str, defect_id: str) -> None:
        raise ConnectionError("database is down")


def test_a_defect_id_that_cannot_be_recorded_fails_the_attempt_so_it_is_retried() -> None:
    tracker = FakeDefectTracker(existing=("RND-7",))
    sink = FailingLinkSink()
    activities = TrackerActivities(tracker, "https://itr.example", browse_url, sink)
    request = LinkDefectInput(issue_id="ISS-1", defect_key="RND-7", title="Packets dropped")

    with pytest.raises(ApplicationError) as failed:
        ActivityEnvironment().run(activities.link_defect, request)

    assert not failed.value.non_retryable and "cannot record the id of RND-7" in str(failed.value)
    working = RecordingSink()
    linked = ActivityEnvironment().run(
        TrackerActivities(tracker, "https://itr.example", browse_url, working).link_defect,
        request,
    )
    assert linked.defect_id == "RND-7" and working.defect_ids == {"ISS-1": ("RND-7", "RND-7")}
