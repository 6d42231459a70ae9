"""SparePartWorkflow: one spare-part request of an on-site issue, a child of its workflow.

requested → picked → shipped → delivered → installed, or returned from picked, shipped or
delivered: each step an Update with a validator (who may take it and from which state are
`domain.onsite.PartRequest`'s rules). Each step is projected to the read model (with the time
spent in each state) and signalled to the issue, whose resolution clock may pause while the
part is on its way (the SLA policy's `pause_for_parts`). Ends once installed or returned.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.onsite import OnsiteActivities
    from domain.enums import EventKind
    from domain.ids import ONSITE_STEP_SIGNAL, workflow_id_for
    from domain.models import Actor
    from domain.onsite import (
        CANCELLABLE_PART_STATES,
        PartAction,
        PartRequest,
        PartSummary,
        TransitionRefused,
    )
    from domain.onsite_contracts import (
        CallOff,
        OnsiteStep,
        PartInput,
        PartOutcome,
        PartProjection,
        PartResult,
        PartStepCommand,
    )

from workflows.issue import READ_MODEL_RETRY, READ_MODEL_TIMEOUT, rejected

T = TypeVar("T")

STEP_EVENTS: dict[PartAction, EventKind] = {
    PartAction.PICK: EventKind.PART_PICKED,
    PartAction.SHIP: EventKind.PART_SHIPPED,
    PartAction.DELIVER: EventKind.PART_DELIVERED,
    PartAction.INSTALL: EventKind.PART_INSTALLED,
    PartAction.RETURN: EventKind.PART_RETURNED,
}


@workflow.defn
class SparePartWorkflow:
    @workflow.init
    def __init__(self, input: PartInput) -> None:
        self._input = input
        self._part = PartRequest.request(
            part_id=input.part_id,
            issue_id=input.issue_id,
            number=input.number,
            part_number=input.part_number,
            quantity=input.quantity,
            warehouse=input.warehouse,
            actor_name=input.requested_by.name,
            now=input.requested_at,
        )
        self._seq = 0
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: PartInput) -> PartOutcome:
        async with self._lock:
            await self._record()  # the request itself, before any step
        await workflow.wait_condition(lambda: self._part.finished)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PartOutcome(part=self._part)

    @workflow.query
    def part(self) -> PartRequest:
        return self._part

    # --- one Update per step ---------------------------------------------------------------

    @workflow.update
    async def pick(self, cmd: PartStepCommand) -> PartResult:
        return await self._move(PartAction.PICK, cmd)

    @pick.validator
    def _validate_pick(self, cmd: PartStepCommand) -> None:
        self._check(PartAction.PICK, cmd)

    @workflow.update
    async def ship(self, cmd: PartStepCommand) -> PartResult:
        return await self._move(PartAction.SHIP, cmd)

    @ship.validator
    def _validate_ship(self, cmd: PartStepCommand) -> None:
        self._check(PartAction.SHIP, cmd)

    @workflow.update
    async def deliver(self, cmd: PartStepCommand) -> PartResult:
        return await self._move(PartAction.DELIVER, cmd)

    @deliver.validator
    def _validate_deliver(self, cmd: PartStepCommand) -> None:
        self._check(PartAction.DELIVER, cmd)

    @workflow.update
    async def install(self, cmd: PartStepCommand) -> PartResult:
        return await self._move(PartAction.INSTALL, cmd)

    @install.validator
    def _validate_install(self, cmd: PartStepCommand) -> None:
        self._check(PartAction.INSTALL, cmd)

    @workflow.update
    async def return_part(self, cmd: PartStepCommand) -> PartResult:
        return await self._move(PartAction.RETURN, cmd)

    @return_part.validator
    def _validate_return_part(self, cmd: PartStepCommand) -> None:
        self._check(PartAction.RETURN, cmd)

    @workflow.signal
    async def issue_cancelled(self, call_off: CallOff) -> None:
        """The issue was cancelled: a part still in the warehouse is not sent (projected;
        one already on its way waits for the field engineer to return it)."""
        async with self._lock:
            if self._part.state in CANCELLABLE_PART_STATES:
                self._part = self._part.cancelled(workflow.now(), "ITR")
                await self._record()

    # --- internals -----------------------------------------------------------------------

    @staticmethod
    def _refusing(step: Callable[[], T]) -> T:
        try:
            return step()
        except TransitionRefused as exc:
            raise rejected(str(exc)) from None

    def _check(self, action: PartAction, cmd: PartStepCommand) -> None:
        self._refusing(lambda: self._part.check(action, cmd.actor.kind))

    async def _move(self, action: PartAction, cmd: PartStepCommand) -> PartResult:
        async with self._lock:
            now = workflow.now()
            self._part = self._refusing(
                lambda: self._part.moved(action, cmd.actor.kind, cmd.actor.name, now, cmd.reason)
            )
            await self._record()
            await self._signal(action, cmd.actor)
            return PartResult(part=self._part)

    async def _signal(self, action: PartAction, actor: Actor) -> None:
        part = self._part
        age = int(part.age(workflow.now()).total_seconds())
        summary = f"part {part.number} ({part.quantity} x {part.part_number}) {part.state.value}"
        if action == PartAction.RETURN and part.return_reason:
            summary += f": {part.return_reason[:200]}"
        step = OnsiteStep(
            child_id=part.part_id,
            seq=self._seq,
            kind=STEP_EVENTS[action],
            at=workflow.now(),
            actor=actor,
            summary=summary,
            part=PartSummary(
                part_id=part.part_id,
                number=part.number,
                part_number=part.part_number,
                quantity=part.quantity,
                state=part.state,
            ),
            data={"part_id": part.part_id, "since_requested_seconds": age},
        )
        issue = workflow.get_external_workflow_handle(workflow_id_for(part.issue_id))
        try:
            await issue.signal(ONSITE_STEP_SIGNAL, step)
        except FailureError as exc:  # the issue's lifecycle ended: nothing to tell
            workflow.logger.warning("part step not signalled to %s: %s", part.issue_id, exc)

    async def _record(self) -> None:
        self._seq += 1
        await workflow.execute_activity_method(
            OnsiteActivities.record_part,
            PartProjection(
                part=self._part,
                organisation_id=self._input.organisation_id,
                seq=self._seq,
                requested_by_name=self._input.requested_by.name,
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
