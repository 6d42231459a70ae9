"""A timer canary for the fault run: how punctually the Temporal server itself fires timers.

An SLA event recorded late is ITR's fault only if Temporal fired its timer on time. The
canary is a tiny workflow on its own task queue, run by a worker inside the benchmark's
process (never killed), that sleeps `TICK` at a time for the whole run. Its history says,
for every timer, when it was due (started + duration) and when the server fired it; the
spans where the server fired timers late (after its restart, while it catches up, or
starved of CPU) are the server's, not the issue workflow's, and are reported as such.

Kept apart from `bench.fault_run` so the workflow sandbox imports only this small module.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

TASK_QUEUE = "itr-fault-run-timer-canary"
TICK = timedelta(seconds=1)  # the server rounds shorter timers up to about a second
# A canary timer fired later than this after its due time shows the server was late.
LATE_AFTER = 0.5  # seconds


@workflow.defn
class TimerCanaryWorkflow:
    """Sleeps one tick at a time until told to stop."""

    def __init__(self) -> None:
        self._stop = False

    @workflow.run
    async def run(self) -> int:
        ticks = 0
        while not self._stop:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._stop, timeout=TICK)
            ticks += 1
        return ticks

    @workflow.signal
    def stop(self) -> None:
        self._stop = True


@dataclass(frozen=True)
class CanaryTimer:
    """One canary timer: when it was due and when the server fired it (epoch seconds)."""

    due: float
    fired: float

    @property
    def late(self) -> float:
        return self.fired - self.due


def late_spans(timers: Sequence[CanaryTimer], late_after: float = LATE_AFTER) -> list[CanaryTimer]:
    """The canary timers the server fired more than `late_after` seconds after they were due:
    from each one's due time to its firing, the server was not firing timers on time."""
    return [t for t in timers if t.late > late_after]


async def canary_timers(handle: WorkflowHandle[TimerCanaryWorkflow, int]) -> list[CanaryTimer]:
    """Every timer of the canary's history, paired started -> fired."""
    history = await handle.fetch_history()
    due: dict[int, float] = {}
    timers: list[CanaryTimer] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started = event.event_time.ToDatetime(UTC).timestamp()
            length = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            due[event.event_id] = started + length.total_seconds()
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started_id = event.timer_fired_event_attributes.started_event_id
            if started_id in due:
                fired = event.event_time.ToDatetime(UTC).timestamp()
                timers.append(CanaryTimer(due=due[started_id], fired=fired))
    return timers


@contextlib.asynccontextmanager
async def running_canary(
    client: Client, workflow_id: str
) -> AsyncIterator[WorkflowHandle[TimerCanaryWorkflow, int]]:
    """Run the canary (and its worker, in this process) for the duration of the block."""
    worker = Worker(client, task_queue=TASK_QUEUE, workflows=[TimerCanaryWorkflow])
    running = asyncio.create_task(worker.run())
    handle = await client.start_workflow(
        TimerCanaryWorkflow.run, id=workflow_id, task_queue=TASK_QUEUE
    )
    try:
        yield handle
    finally:
        with contextlib.suppress(Exception):
            await handle.signal(TimerCanaryWorkflow.stop)
            await asyncio.wait_for(handle.result(), timeout=30)
        await worker.shutdown()
        with contextlib.suppress(Exception):
            await running
