"""VisitWorkflow: one on-site visit of a field engineer, a child of its issue's workflow.

Scheduled for an appointment window agreed with the customer; reminds the engineer and the
customer `reminder_before` the window (a durable timer); waits for the engineer's check-in
until the window ends (then the visit is missed) and for the check-out (the time on site is
recorded). Each step is projected to the read model and signalled to the issue, which puts
it on the timeline. The rules are `domain.onsite.Visit`'s.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.onsite import OnsiteActivities
    from domain.enums import EventKind
    from domain.ids import ONSITE_STEP_SIGNAL, workflow_id_for
    from domain.models import SYSTEM_ACTOR, Actor, Audience, Notification
    from domain.onsite import TransitionRefused, Visit, VisitState, VisitSummary
    from domain.onsite_contracts import (
        CallOff,
        CheckInCommand,
        CheckOutCommand,
        OnsiteStep,
        VisitInput,
        VisitOutcome,
        VisitProjection,
        VisitResult,
        first_name,
    )

from workflows.issue import NOTIFY_RETRY, READ_MODEL_RETRY, READ_MODEL_TIMEOUT, rejected

T = TypeVar("T")


@workflow.defn
class VisitWorkflow:
    @workflow.init
    def __init__(self, input: VisitInput) -> None:
        self._input = input
        self._visit = Visit.schedule(
            visit_id=input.visit_id,
            issue_id=input.issue_id,
            number=input.number,
            engineer_id=input.engineer.engineer_id,
            engineer_name=input.engineer.engineer_name,
            window_start=input.window_start,
            window_end=input.window_end,
            reminder_before=input.reminder_before,
            # The issue checked the window against its clock at dispatch: schedule from it.
            now=input.dispatched_at,
        )
        self._seq = 0
        self._lock = asyncio.Lock()
        self._reminder: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, input: VisitInput) -> VisitOutcome:
        async with self._lock:
            await self._record(None)  # the scheduled visit, before any command
        await self._until(
            lambda: self._visit.state != VisitState.SCHEDULED, self._visit.reminder_at
        )
        async with self._lock:
            if self._visit.reminder_due(workflow.now()):
                await self._remind()
        await self._until(lambda: self._visit.state != VisitState.SCHEDULED, self._visit.window_end)
        async with self._lock:
            if self._visit.missed_by(workflow.now()):
                self._visit = self._visit.missed(workflow.now())
                await self._step(
                    EventKind.VISIT_MISSED,
                    SYSTEM_ACTOR,
                    f"visit {self._visit.number} missed: nobody checked in by "
                    f"{self._visit.window_end.isoformat()}; re-dispatch needed",
                )
        await workflow.wait_condition(
            lambda: (
                self._visit.state in (VisitState.COMPLETED, VisitState.MISSED, VisitState.CANCELLED)
            )
        )
        if self._reminder is not None:  # completing would abandon it
            await self._reminder
        await workflow.wait_condition(workflow.all_handlers_finished)
        return VisitOutcome(visit=self._visit)

    async def _until(self, done: Callable[[], bool], at: datetime) -> None:
        """Wait for `done` or the instant `at`, whichever first (a durable timer; again if
        it fired a moment before `at`, so the window's end is never judged too early)."""
        while not done() and (remaining := (at - workflow.now()).total_seconds()) > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(done, timeout=remaining)

    # --- queries and updates -------------------------------------------------------------

    @workflow.query
    def visit(self) -> Visit:
        return self._visit

    @workflow.update
    async def check_in(self, cmd: CheckInCommand) -> VisitResult:
        async with self._lock:
            now = workflow.now()
            self._visit = self._refusing(
                lambda: self._visit.checked_in(cmd.actor.kind, cmd.actor.id, now)
            )
            await self._step(
                EventKind.VISIT_CHECKED_IN,
                cmd.actor,
                f"visit {self._visit.number}: {first_name(cmd.actor.name)} checked in on site",
            )
            return VisitResult(visit=self._visit)

    @check_in.validator
    def _validate_check_in(self, cmd: CheckInCommand) -> None:
        self._refusing(
            lambda: self._visit.check_check_in(cmd.actor.kind, cmd.actor.id, workflow.now())
        )

    @workflow.update
    async def check_out(self, cmd: CheckOutCommand) -> VisitResult:
        async with self._lock:
            now = workflow.now()
            self._visit = self._refusing(
                lambda: self._visit.checked_out(cmd.actor.kind, cmd.actor.id, now, cmd.report)
            )
            on_site = self._visit.time_on_site or timedelta(0)
            minutes = int(on_site.total_seconds() // 60)
            await self._step(
                EventKind.VISIT_CHECKED_OUT,
                cmd.actor,
                f"visit {self._visit.number}: checked out after {minutes} min on site",
                {"time_on_site_seconds": int(on_site.total_seconds())},
            )
            return VisitResult(visit=self._visit)

    @check_out.validator
    def _validate_check_out(self, cmd: CheckOutCommand) -> None:
        self._refusing(lambda: self._visit.check_check_out(cmd.actor.kind, cmd.actor.id))

    @workflow.signal
    async def issue_cancelled(self, call_off: CallOff) -> None:
        """The issue was cancelled: a visit nobody started is called off (projected; the
        issue, being cancelled, is not told)."""
        async with self._lock:
            if self._visit.state == VisitState.SCHEDULED:
                self._visit = self._visit.cancelled()
                await self._record(SYSTEM_ACTOR)

    # --- internals -----------------------------------------------------------------------

    @staticmethod
    def _refusing(step: Callable[[], T]) -> T:
        try:
            return step()
        except TransitionRefused as exc:
            raise rejected(str(exc)) from None

    async def _remind(self) -> None:
        """Tell the engineer and the customer, in the background: a notifier outage must not
        hold the visit (a check-in waits for no webhook). The notification id makes it one
        message however often it is retried."""
        now = workflow.now()
        self._visit = self._visit.reminded(now)
        visit = self._visit
        window = f"{visit.window_start.isoformat()} to {visit.window_end.isoformat()}"
        notification = Notification(
            notification_id=f"{visit.visit_id}:reminder",
            issue_id=visit.issue_id,
            kind="visit_reminder",
            audience=Audience(engineer_id=visit.engineer_id, reporter=True),
            subject=f"{visit.issue_id}: on-site visit by {first_name(visit.engineer_name)} "
            f"from {window}",
            at=now,
            data={"visit_id": visit.visit_id, "window_start": visit.window_start.isoformat()},
        )
        self._reminder = asyncio.create_task(self._send(notification))
        await self._step(
            EventKind.VISIT_REMINDED,
            SYSTEM_ACTOR,
            f"visit {visit.number}: reminder sent to {first_name(visit.engineer_name)} "
            "and the customer",
        )

    async def _send(self, notification: Notification) -> None:
        try:
            await workflow.execute_activity_method(
                NotificationActivities.notify,
                notification,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=24),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:  # undeliverable for a day: the visit went on anyway
            workflow.logger.warning(
                "reminder %s abandoned: %s", notification.notification_id, exc.cause
            )

    async def _step(
        self,
        kind: EventKind,
        actor: Actor,
        summary: str,
        data: dict[str, str | int | None] | None = None,
    ) -> None:
        """Project the visit, then tell the issue (its timeline records the step once)."""
        await self._record(actor)
        visit = self._visit
        step = OnsiteStep(
            child_id=visit.visit_id,
            seq=self._seq,
            kind=kind,
            at=workflow.now(),
            actor=actor,
            summary=summary,
            visit=VisitSummary(
                visit_id=visit.visit_id,
                number=visit.number,
                state=visit.state,
                engineer_id=visit.engineer_id,
                engineer_name=visit.engineer_name,
                window_start=visit.window_start,
                window_end=visit.window_end,
            ),
            data={"visit_id": visit.visit_id, **(data or {})},
        )
        issue = workflow.get_external_workflow_handle(workflow_id_for(visit.issue_id))
        try:
            await issue.signal(ONSITE_STEP_SIGNAL, step)
        except FailureError as exc:  # the issue's lifecycle ended: nothing to tell
            workflow.logger.warning("visit step not signalled to %s: %s", visit.issue_id, exc)

    async def _record(self, actor: Actor | None) -> None:
        self._seq += 1
        await workflow.execute_activity_method(
            OnsiteActivities.record_visit,
            VisitProjection(
                visit=self._visit,
                organisation_id=self._input.organisation_id,
                seq=self._seq,
                dispatched_by_name=self._input.dispatched_by.name,
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
