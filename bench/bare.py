"""The baseline: a workflow with the issue lifecycle's shape and none of its work.

`BareLifecycleWorkflow` schedules the same activities, in the same order, awaited or
fired in the background the same way, and accepts the same number of updates as one
real issue (the plan is read from a real issue's history by `bench.lifecycle`), but
every activity is a no-op and there is no domain logic, read model or API. What the
full lifecycle costs on top of this is what ITR adds to bare Temporal.

Kept apart from `bench.lifecycle` so the workflow sandbox, which re-imports the module
defining a workflow, loads only temporalio and pydantic, as it does for `workflows/`.
"""

import asyncio
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

NOOP_ACTIVITY = "bench.noop"
ACTIVITY_TIMEOUT = timedelta(seconds=30)  # as IssueWorkflow's start_to_close


class PlannedActivity(BaseModel):
    """One activity of the real lifecycle: its name (for the report) and how it is awaited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    background: bool


class BarePlan(BaseModel):
    """Activities per phase: phase 0 is intake (the run), phase k the k-th update."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phases: tuple[tuple[PlannedActivity, ...], ...]

    @property
    def updates(self) -> int:
        return len(self.phases) - 1

    def describe(self) -> str:
        """One line per phase, e.g. `update 1: 1 awaited + 1 background`."""
        lines = []
        for index, phase in enumerate(self.phases):
            label = "intake" if index == 0 else f"update {index}"
            awaited = [a.name for a in phase if not a.background]
            background = [a.name for a in phase if a.background]
            lines.append(
                f"{label}: {len(awaited)} awaited {awaited} + {len(background)} background "
                f"{background}"
            )
        return "\n".join(lines)


@activity.defn(name=NOOP_ACTIVITY)
async def noop() -> None:
    """Returns at once: the baseline pays Temporal's scheduling cost and nothing else."""


@workflow.defn(name="BareLifecycleWorkflow")
class BareLifecycleWorkflow:
    """Intake activities in the run, then one update per remaining phase, then done.

    A lock serialises the run and the updates, as IssueWorkflow's does. Updates also wait
    for intake to finish: the client sends the first one right after the start, often into
    the very first workflow task, where the handler would otherwise take the lock before
    the run does. The real acknowledge cannot overtake intake either (POST /issues returns
    once the issue is dispatched, and the validator refuses an undispatched issue).
    """

    @workflow.init
    def __init__(self, plan: BarePlan) -> None:
        self._plan = plan
        self._lock = asyncio.Lock()
        self._done = 0
        self._intake_done = False
        self._background: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        async with self._lock:
            await self._phase(0)
            self._intake_done = True
        await workflow.wait_condition(lambda: self._done == plan.updates)
        while self._background:
            pending, self._background = self._background, []
            await asyncio.gather(*pending)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._done

    @workflow.update
    async def step(self, index: int) -> int:
        await workflow.wait_condition(lambda: self._intake_done)
        async with self._lock:
            await self._phase(index + 1)
            self._done += 1
            return self._done

    @step.validator
    def _validate_step(self, index: int) -> None:
        """Refuse out-of-order steps, standing in for the real state checks."""
        if index != self._done or index >= self._plan.updates:
            raise ApplicationError(f"step {index} out of order", non_retryable=True)

    async def _phase(self, index: int) -> None:
        for planned in self._plan.phases[index]:
            if planned.background:
                self._background.append(asyncio.create_task(self._noop()))
            else:
                await self._noop()

    async def _noop(self) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
