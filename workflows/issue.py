"""IssueWorkflow: one durable workflow per customer issue, from intake to closure.

The lifecycle rules live in the pure `domain.lifecycle.IssueCase`; this class only turns
commands into Temporal Updates (validated before they enter history), sleeps until the
next deadline, and carries out the effects through idempotent activities.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.onsite import OnsiteActivities
    from activities.read_model import ReadModelActivities
    from activities.tracker import TrackerActivities
    from domain.allowed_commands import AllowedCommands, AllowedCommandsQuery, answer_for
    from domain.enums import (
        ContractLevel,
        EventKind,
        Severity,
        Tier,
    )
    from domain.ids import ISSUE_CANCELLED_SIGNAL, PART_WORKFLOW_TYPE, VISIT_WORKFLOW_TYPE
    from domain.lifecycle import CommandForbidden, CommandRejected, Effects, FollowUp, IssueCase
    from domain.models import (
        SYSTEM_ACTOR,
        AcceptOfferCommand,
        AcknowledgeCommand,
        AssignCommand,
        CancelCommand,
        ChangeSeverityCommand,
        ClaimCommand,
        CommandResult,
        CommentCommand,
        ConfirmClosureCommand,
        CreateDefectInput,
        CustomerReplyCommand,
        DeclineOfferCommand,
        DefectChange,
        DefectComment,
        DefectLink,
        EntitlementQuery,
        EscalateCommand,
        HandBackCommand,
        HandOverCommand,
        IntakeFactsQuery,
        IssueOutcome,
        IssueStatus,
        IssueWorkflowInput,
        LinkDefectCommand,
        LinkDefectInput,
        MirrorCommentInput,
        Notification,
        OwnerAnswer,
        OwnerQuery,
        ProductQuery,
        ProposeResolutionCommand,
        ReapplySlaCommand,
        RecordBatch,
        ReopenCommand,
        RequestInfoCommand,
        RetryTrackerSyncCommand,
        SlaClocksReport,
        SlaPolicyQuery,
    )
    from domain.onsite import part_workflow_id, visit_workflow_id
    from domain.onsite_contracts import (
        CallOff,
        DispatchVisitCommand,
        FieldEngineerAnswer,
        FieldEngineerQuery,
        OnsiteStep,
        PartInput,
        RequestPartCommand,
        VisitInput,
    )
    from domain.sla import ResolvedPolicy
    from workflows.search_attributes import updates_for

COMMAND_REJECTED = "CommandRejected"
# The actor may not give this command on this issue (the API answers 403, not 409).
COMMAND_FORBIDDEN = "CommandForbidden"
READ_MODEL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# A read-model call takes milliseconds (a database busy beyond its 5 s lock wait fails and
# retries). The timeout is what a worker killed mid-call costs: the call is only retried
# when it expires, and intake (or the command) holds the issue until then, clocks included.
# Timeouts are not part of replay: changing them needs no patch.
READ_MODEL_TIMEOUT = timedelta(seconds=10)
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))
# Starts at a few seconds: Jira's search index lags, and the retry finds a created defect by label.
TRACKER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=3), maximum_interval=timedelta(minutes=10)
)
TRACKER_CREATE_WINDOW = timedelta(hours=24)
# A link is part of an engineer's command: a few quick tries, then the command is refused.
TRACKER_LINK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=4), maximum_attempts=3
)
DESCRIPTION_EXCERPT_CHARS = 2_000
MIRROR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)
)
# Histories recorded before mirroring existed must replay without the new activities.
MIRROR_PATCH = "mirror-to-tracker"
# The same for the "another customer is affected" comment added later.
IMPACT_PATCH = "mirror-impact-to-tracker"
# Runs used to wait for their notifications and tracker calls before continuing as new, so an
# outage of the webhook or Jira held back every SLA timer. They now carry that work into the
# next run instead; histories recorded before (tests/replay/histories/v1) still drain.
CARRY_PATCH = "carry-background-work"
# Intake that finds nobody (or an offer) queues the issue in its team or offers it, with a
# timeline entry; histories recorded before only told the managers.
QUEUE_PATCH = "dispatch-queue-and-offers"
# Intake used to ask for the contract, the SLA policy and the owner in three activities and
# record each step apart (6 activities in sequence); it now asks once and records once (2).
# Histories recorded before (tests/replay/histories/v1..v3) replay the old way.
LEAN_INTAKE_PATCH = "lean-intake"
# How long a due continue-as-new waits for background work in flight before carrying it over.
CARRY_AFTER = timedelta(minutes=1)


def rejected(reason: str, *, forbidden: bool = False) -> ApplicationError:
    """The error the API turns into 409 (403 when forbidden) with this reason."""
    kind = COMMAND_FORBIDDEN if forbidden else COMMAND_REJECTED
    return ApplicationError(reason, type=kind, non_retryable=True)


def refusal(exc: CommandRejected) -> ApplicationError:
    return rejected(str(exc), forbidden=isinstance(exc, CommandForbidden))


@workflow.defn
class IssueWorkflow:
    @workflow.init
    def __init__(self, input: IssueWorkflowInput) -> None:
        self._input = input
        if input.carried is not None:
            self._case = IssueCase(
                input.carried,
                input.config,
                input.carried_seq,
                defect_pending=input.pending_defect_creation,  # restarted by run()
            )
        else:
            self._case = IssueCase.open(input.intake, input.config)
        self._run_start_seq = self._case.seq
        self._lock = asyncio.Lock()
        self._registered = input.carried is not None
        self._changed = False
        self._notifications: list[asyncio.Task[None]] = []
        self._tracker_tasks: list[asyncio.Task[None]] = []
        # What the tasks above still have to do, for the next run if this one continues.
        self._unsent: dict[str, Notification] = {}
        self._unmirrored: dict[str, MirrorCommentInput] = {}
        self._search_attributes: str | None = None
        # When continue-as-new became due while background work was still in flight.
        self._continue_due_since: datetime | None = None

    @workflow.run
    async def run(self, input: IssueWorkflowInput) -> IssueOutcome:
        if input.carried is None:
            async with self._lock:
                await self._intake()
            self._registered = True
        else:
            self._resume_background_work(input)
        while not self._case.finished:
            async with self._lock:
                await self._apply(self._case.on_time(workflow.now()))
            if self._case.finished:
                break
            if self._should_continue_as_new():
                if workflow.patched(CARRY_PATCH):
                    await self._continue_without_waiting(input)
                else:
                    await self._drain()  # the v1 way: the clocks waited for the outside world
                    if self._may_continue():
                        workflow.continue_as_new(self._continued(input))
            wakeup = self._next_wakeup()
            timeout = None
            if wakeup is not None:
                timeout = max((wakeup - workflow.now()).total_seconds(), 0.001)
            self._changed = False
            with contextlib.suppress(TimeoutError):  # the next deadline came first
                await workflow.wait_condition(self._should_wake, timeout=timeout)
        # Finished: no clock is left to hold back, and completing would abandon these.
        await self._drain()
        await workflow.wait_condition(workflow.all_handlers_finished)
        status = self._case.status
        return IssueOutcome(
            issue_id=status.issue_id, state=status.state, closure_outcome=status.closure_outcome
        )

    def _continued(self, input: IssueWorkflowInput) -> IssueWorkflowInput:
        """The next run's input: the issue, and the background work still under way (each
        activity is idempotent by its delivery id, marker or label, so one that this run
        had nearly finished is not done twice)."""
        return IssueWorkflowInput(
            intake=input.intake,
            config=input.config,
            carried=self._case.status,
            carried_seq=self._case.seq,
            pending_notifications=tuple(self._unsent.values()),
            pending_mirrors=tuple(self._unmirrored.values()),
            pending_defect_creation=self._case.defect_pending,
        )

    async def _continue_without_waiting(self, input: IssueWorkflowInput) -> None:
        """Continue as new once the background work in flight is done (usually within
        moments), or after CARRY_AFTER with what is still unfinished carried into the next
        run. Either way the loop keeps sleeping only until the next clock, never longer."""
        # A yield, not a timer: background work started in this activation schedules its
        # activity first (continue-as-new must be the last command).
        await asyncio.sleep(0)
        now = workflow.now()
        if self._continue_due_since is None:
            self._continue_due_since = now
        waited_enough = now >= self._continue_due_since + CARRY_AFTER
        if self._may_continue() and (waited_enough or not self._background_busy()):
            workflow.continue_as_new(self._continued(input))

    def _background_busy(self) -> bool:
        return any(not t.done() for t in self._notifications + self._tracker_tasks)

    def _next_wakeup(self) -> datetime | None:
        """The next clock checkpoint, or the moment to stop waiting for background work
        before continuing as new, whichever comes first."""
        wakeup = self._case.next_wakeup()
        if self._continue_due_since is not None:
            hand_over = self._continue_due_since + CARRY_AFTER
            if hand_over > workflow.now() and (wakeup is None or hand_over < wakeup):
                return hand_over
        return wakeup

    def _should_wake(self) -> bool:
        """A command or signal changed the issue, or the background work that a due
        continue-as-new waits for is done."""
        if self._changed:
            return True
        return self._continue_due_since is not None and not self._background_busy()

    def _may_continue(self) -> bool:
        """No command or signal is half-way: continuing now would cut it off."""
        return not self._lock.locked() and workflow.all_handlers_finished()

    def _resume_background_work(self, input: IssueWorkflowInput) -> None:
        """Restart what the previous run handed over, in the background as it was."""
        for notification in input.pending_notifications:
            self._start_notification(notification)
        for mirror in input.pending_mirrors:
            self._start_mirror(mirror)
        if input.pending_defect_creation:
            self._start_defect_creation()

    # --- queries -------------------------------------------------------------------------

    @workflow.query
    def status(self) -> IssueStatus:
        return self._case.status

    @workflow.query
    def sla_clocks(self, at: datetime | None = None) -> SlaClocksReport:
        """Each clock's elapsed, remaining and paused business time as of `at` (default: the
        workflow's time, i.e. its last task, which may be long ago for a quiet issue; pass
        the current instant, e.g. `temporal workflow query --type sla_clocks --input
        '"2026-11-24T10:00:00Z"'`). No clocks before intake."""
        as_of = at or workflow.now()
        sla = self._case.status.sla
        return SlaClocksReport(as_of=as_of, clocks=sla.views(as_of) if sla else ())

    @workflow.query
    def allowed_commands(self, query: AllowedCommandsQuery) -> AllowedCommands:
        """Each command with whether `query.actor` may send it now and why not, from the same
        checks the Updates' validators run (a query: nothing enters the history)."""
        return answer_for(self._case, query.actor, query.at or workflow.now())

    # --- updates -------------------------------------------------------------------------

    @workflow.update
    async def intake_dispatched(self) -> IssueStatus:
        """The status once intake has registered, classified and dispatched the issue (and
        recorded each step). The API starts the workflow together with this Update, so
        `POST /issues` answers with the owner in one round trip instead of polling the read
        model. Changes nothing: no validator, no command in the history but the Update's own
        accepted and completed events; histories without it replay unchanged."""
        await workflow.wait_condition(lambda: self._registered)
        return self._case.status

    @workflow.update
    async def acknowledge(self, cmd: AcknowledgeCommand) -> CommandResult:
        return await self._command(lambda now: self._case.acknowledge(cmd, now))

    @acknowledge.validator
    def _validate_acknowledge(self, cmd: AcknowledgeCommand) -> None:
        self._check(lambda: self._case.check_acknowledge(cmd))

    @workflow.update
    async def comment(self, cmd: CommentCommand) -> CommandResult:
        return await self._command(lambda now: self._case.comment(cmd, now))

    @comment.validator
    def _validate_comment(self, cmd: CommentCommand) -> None:
        self._check(lambda: self._case.check_comment(cmd))

    @workflow.update
    async def assign(self, cmd: AssignCommand) -> CommandResult:
        return await self._command(lambda now: self._case.assign(cmd, now))

    @assign.validator
    def _validate_assign(self, cmd: AssignCommand) -> None:
        self._check(lambda: self._case.check_assign(cmd))

    @workflow.update
    async def escalate(self, cmd: EscalateCommand) -> CommandResult:
        async with self._turn():
            self._check(lambda: self._case.check_escalate(cmd))
            link = None
            if cmd.defect_key is not None:  # linked before anything changes: refusal is clean
                link = await self._link_in_tracker(cmd.defect_key)
            answer = await self._escalation_answer(cmd)
            result = await self._execute(
                lambda now: self._case.escalate(cmd, now, answer.owner, answer)
            )
            if link is not None:
                await self._apply(self._case.link_defect(link, workflow.now(), cmd.actor))
                result = result.model_copy(update={"status": self._case.status})
            elif self._case.needs_defect_creation():
                self._start_defect_creation()
            return result

    @escalate.validator
    def _validate_escalate(self, cmd: EscalateCommand) -> None:
        self._check(lambda: self._case.check_escalate(cmd))

    @workflow.update
    async def link_defect(self, cmd: LinkDefectCommand) -> CommandResult:
        async with self._turn():
            self._check(lambda: self._case.check_link_defect(cmd))
            link = await self._link_in_tracker(cmd.defect_key)
            return await self._execute(lambda now: self._case.link_defect(link, now, cmd.actor))

    @link_defect.validator
    def _validate_link_defect(self, cmd: LinkDefectCommand) -> None:
        self._check(lambda: self._case.check_link_defect(cmd))

    @workflow.update
    async def retry_tracker_sync(self, cmd: RetryTrackerSyncCommand) -> CommandResult:
        """Re-run defect creation once an admin fixed what made the tracker refuse for good."""
        async with self._turn():
            self._check(lambda: self._case.check_retry_tracker_sync(cmd))
            result = await self._execute(lambda now: self._case.retry_tracker_sync(cmd, now))
            if self._case.needs_defect_creation():
                self._start_defect_creation()
            return result

    @retry_tracker_sync.validator
    def _validate_retry_tracker_sync(self, cmd: RetryTrackerSyncCommand) -> None:
        self._check(lambda: self._case.check_retry_tracker_sync(cmd))

    # --- signals -------------------------------------------------------------------------

    @workflow.signal
    async def defect_changed(self, change: DefectChange) -> None:
        """A Signal, not an Update: the tracker cannot be refused, and a change that no longer
        fits the issue (late, duplicated, out of order) is recorded and ignored, never failed."""
        async with self._turn():
            tier = self._case.tier_taking_over(change)
            owner = (await self._choose_owner(tier)).owner if tier is not None else None
            await self._apply(self._case.defect_changed(change, workflow.now(), owner))
            self._changed = True

    @workflow.signal
    async def defect_commented(self, comment: DefectComment) -> None:
        """A Signal like defect_changed: R&D's words are recorded, never refused."""
        async with self._turn():
            await self._apply(self._case.defect_commented(comment, workflow.now()))
            self._changed = True

    @workflow.update
    async def request_info(self, cmd: RequestInfoCommand) -> CommandResult:
        return await self._command(lambda now: self._case.request_info(cmd, now))

    @request_info.validator
    def _validate_request_info(self, cmd: RequestInfoCommand) -> None:
        self._check(lambda: self._case.check_request_info(cmd))

    @workflow.update
    async def customer_reply(self, cmd: CustomerReplyCommand) -> CommandResult:
        return await self._command(lambda now: self._case.customer_reply(cmd, now))

    @customer_reply.validator
    def _validate_customer_reply(self, cmd: CustomerReplyCommand) -> None:
        self._check(lambda: self._case.check_customer_reply(cmd))

    @workflow.update
    async def propose_resolution(self, cmd: ProposeResolutionCommand) -> CommandResult:
        return await self._command(lambda now: self._case.propose_resolution(cmd, now))

    @propose_resolution.validator
    def _validate_propose_resolution(self, cmd: ProposeResolutionCommand) -> None:
        self._check(lambda: self._case.check_propose_resolution(cmd))

    @workflow.update
    async def confirm_closure(self, cmd: ConfirmClosureCommand) -> CommandResult:
        return await self._command(lambda now: self._case.confirm_closure(cmd, now))

    @confirm_closure.validator
    def _validate_confirm_closure(self, cmd: ConfirmClosureCommand) -> None:
        self._check(lambda: self._case.check_confirm_closure(cmd))

    @workflow.update
    async def reopen(self, cmd: ReopenCommand) -> CommandResult:
        return await self._command(lambda now: self._case.reopen(cmd, now))

    @reopen.validator
    def _validate_reopen(self, cmd: ReopenCommand) -> None:
        self._check(lambda: self._case.check_reopen(cmd, workflow.now()))

    @workflow.update
    async def change_severity(self, cmd: ChangeSeverityCommand) -> CommandResult:
        """Re-rate the impact: the new severity's policy is looked up, the clocks keep their
        history, and R&D hears of it on the linked defect."""
        async with self._turn():
            self._check(lambda: self._case.check_change_severity(cmd))
            policy = await self._resolve_policy(cmd.severity)
            return await self._execute(lambda now: self._case.change_severity(cmd, policy, now))

    @change_severity.validator
    def _validate_change_severity(self, cmd: ChangeSeverityCommand) -> None:
        self._check(lambda: self._case.check_change_severity(cmd))

    @workflow.update
    async def reapply_sla(self, cmd: ReapplySlaCommand) -> CommandResult:
        """Measure the issue against the policy as it is now (an admin's explicit command)."""
        async with self._turn():
            self._check(lambda: self._case.check_reapply_sla(cmd))
            policy = await self._resolve_policy(self._case.status.severity)
            return await self._execute(lambda now: self._case.reapply_sla(cmd, policy, now))

    @reapply_sla.validator
    def _validate_reapply_sla(self, cmd: ReapplySlaCommand) -> None:
        self._check(lambda: self._case.check_reapply_sla(cmd))

    @workflow.update
    async def cancel(self, cmd: CancelCommand) -> CommandResult:
        result = await self._command(lambda now: self._case.cancel(cmd, now))
        await self._call_off_onsite()  # nothing for an issue without visits or parts
        return result

    @cancel.validator
    def _validate_cancel(self, cmd: CancelCommand) -> None:
        self._check(lambda: self._case.check_cancel(cmd))

    # --- on-site service (VisitWorkflow, SparePartWorkflow are children) -----------------
    #
    # New Updates and a new Signal: histories recorded before them never ran them, so they
    # need no patch. The children are started with ABANDON: they outlive a continue-as-new
    # of the issue and signal it by workflow id (whatever its current run).

    @workflow.update
    async def dispatch_visit(self, cmd: DispatchVisitCommand) -> CommandResult:
        """Send a field engineer (named, or chosen by region) for the agreed window."""
        async with self._turn():
            self._check(lambda: self._case.check_dispatch_visit(cmd, workflow.now()))
            engineer = cmd.engineer
            if engineer is None:
                engineer = (await self._choose_field_engineer()).engineer
            if engineer is None:
                raise rejected("no active field engineer is available; name one")
            number = self._case.onsite.next_visit_number
            visit_id = visit_workflow_id(self._case.status.issue_id, number)
            result = await self._execute(
                lambda now: self._case.dispatch_visit(cmd, engineer, visit_id, now)
            )
            status = self._case.status
            await workflow.start_child_workflow(
                VISIT_WORKFLOW_TYPE,
                VisitInput(
                    visit_id=visit_id,
                    issue_id=status.issue_id,
                    organisation_id=status.organisation_id,
                    number=number,
                    engineer=engineer,
                    window_start=cmd.window_start,
                    window_end=cmd.window_end,
                    reminder_before=self._input.config.visit_reminder_before,
                    dispatched_by=cmd.actor,
                    dispatched_at=workflow.now(),
                ),
                id=visit_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            return result

    @dispatch_visit.validator
    def _validate_dispatch_visit(self, cmd: DispatchVisitCommand) -> None:
        self._check(lambda: self._case.check_dispatch_visit(cmd, workflow.now()))

    @workflow.update
    async def request_part(self, cmd: RequestPartCommand) -> CommandResult:
        """Ask a warehouse for a spare part; its own workflow follows it to installation."""
        async with self._turn():
            self._check(lambda: self._case.check_request_part(cmd))
            status = self._case.status
            number = self._case.onsite.next_part_number
            part_id = part_workflow_id(status.issue_id, number)
            result = await self._execute(lambda now: self._case.request_part(cmd, part_id, now))
            await workflow.start_child_workflow(
                PART_WORKFLOW_TYPE,
                PartInput(
                    part_id=part_id,
                    issue_id=status.issue_id,
                    organisation_id=status.organisation_id,
                    number=number,
                    part_number=cmd.part_number,
                    quantity=cmd.quantity,
                    warehouse=cmd.warehouse,
                    requested_by=cmd.actor,
                    requested_at=workflow.now(),
                ),
                id=part_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            return result

    @request_part.validator
    def _validate_request_part(self, cmd: RequestPartCommand) -> None:
        self._check(lambda: self._case.check_request_part(cmd))

    @workflow.signal
    async def onsite_step(self, step: OnsiteStep) -> None:
        """A visit or part took a step: recorded through the normal path, once per step
        (a repeated signal carries a sequence number the issue has already seen)."""
        async with self._turn():
            await self._apply(self._case.onsite_step(step, workflow.now()))
            self._changed = True

    async def _call_off_onsite(self) -> None:
        """A cancelled issue tells its visits and parts (by workflow id); a child that has
        already ended is not an error."""
        for child_id in self._case.children_to_call_off():
            child = workflow.get_external_workflow_handle(child_id)
            try:
                await child.signal(
                    ISSUE_CANCELLED_SIGNAL, CallOff(reason="the issue was cancelled")
                )
            except FailureError as exc:
                workflow.logger.warning("%s not called off: %s", child_id, exc)

    async def _choose_field_engineer(self) -> FieldEngineerAnswer:
        status = self._case.status
        return await workflow.execute_activity_method(
            OnsiteActivities.choose_field_engineer,
            FieldEngineerQuery(issue_id=status.issue_id, organisation_id=status.organisation_id),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )

    # --- dispatch: claims, offers, hand-back, hand-over (issue 9) ---------------------------

    @workflow.update
    async def claim(self, cmd: ClaimCommand) -> CommandResult:
        """Take the issue from its team's queue. Of two claims validated together, the first
        handler to run reserves the issue at once (before waiting for its turn), so the
        other is refused with the reason: exactly one wins."""
        self._check(lambda: self._case.check_claim(cmd))
        self._case.reserve_claim(cmd)
        try:
            return await self._command(lambda now: self._case.claim(cmd, now))
        finally:
            self._case.release_claim()

    @claim.validator
    def _validate_claim(self, cmd: ClaimCommand) -> None:
        self._check(lambda: self._case.check_claim(cmd))

    @workflow.update
    async def accept_offer(self, cmd: AcceptOfferCommand) -> CommandResult:
        return await self._command(lambda now: self._case.accept_offer(cmd, now))

    @accept_offer.validator
    def _validate_accept_offer(self, cmd: AcceptOfferCommand) -> None:
        self._check(lambda: self._case.check_accept_offer(cmd, workflow.now()))

    @workflow.update
    async def decline_offer(self, cmd: DeclineOfferCommand) -> CommandResult:
        """Pass: the issue is offered to the next engineer (or queued) in the same update."""
        return await self._command(lambda now: self._case.decline_offer(cmd, now))

    @decline_offer.validator
    def _validate_decline_offer(self, cmd: DeclineOfferCommand) -> None:
        self._check(lambda: self._case.check_decline_offer(cmd))

    @workflow.update
    async def hand_back(self, cmd: HandBackCommand) -> CommandResult:
        return await self._command(lambda now: self._case.hand_back(cmd, now))

    @hand_back.validator
    def _validate_hand_back(self, cmd: HandBackCommand) -> None:
        self._check(lambda: self._case.check_hand_back(cmd))

    @workflow.update
    async def hand_over(self, cmd: HandOverCommand) -> CommandResult:
        """Move the issue away from an engineer going off duty: their substitute is asked
        first; the next owner is chosen before the engineer is released."""
        async with self._turn():
            self._check(lambda: self._case.check_hand_over(cmd))
            answer = await self._choose_owner(
                self._case.status.tier,
                exclude=(cmd.engineer_id,),
                substitute_for=cmd.engineer_id,
            )
            return await self._execute(lambda now: self._case.hand_over(cmd, answer, now))

    @hand_over.validator
    def _validate_hand_over(self, cmd: HandOverCommand) -> None:
        self._check(lambda: self._case.check_hand_over(cmd))

    async def _reoffer(self, reason: str) -> None:
        """An offer expired or was declined: the next engineer of the same team, or its queue."""
        if not self._case.wants_reoffer():
            return
        status = self._case.status
        answer = await self._choose_owner(
            status.tier, team_id=status.team_id, exclude=status.declined_ids
        )
        await self._apply(self._case.reoffer(answer, workflow.now(), reason))

    # --- internals -----------------------------------------------------------------------

    def _check(self, check: Callable[[], None]) -> None:
        """Run a domain check; a refusal becomes an ApplicationError the API maps to 409."""
        try:
            check()
        except CommandRejected as exc:
            raise refusal(exc) from None

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """A handler's turn: after intake (an update can arrive in the very first workflow
        task, before `run` took the lock) and holding the lock."""
        await workflow.wait_condition(lambda: self._registered)
        async with self._lock:
            # What came due before this turn (the timer may not have run yet, e.g. after a
            # worker outage) is recorded, with its actions, before the handler checks the
            # state or calls anything: a breach escalation happens first, then the command
            # is judged against the state it produced.
            await self._catch_up()
            yield

    async def _command(self, step: Callable[..., Effects]) -> CommandResult:
        async with self._turn():
            return await self._execute(step)

    async def _catch_up(self) -> None:
        """Record the SLA thresholds due by now (with their actions), once each."""
        await self._apply(self._case.sla_due(workflow.now()))

    async def _execute(self, step: Callable[..., Effects]) -> CommandResult:
        """Apply a command under the lock (the state may have moved since validation).

        Thresholds that came due while the handler waited on an activity are recorded in
        the same step, before the command can stop their clock; their actions (escalate,
        raise the severity) run after it, against the state the command left."""
        now = workflow.now()
        effects = self._case.sla_due(now)
        try:
            effects.extend(step(now))
        except CommandRejected as exc:
            await self._apply(effects)
            raise refusal(exc) from None
        await self._apply(effects)
        self._changed = True
        return CommandResult(
            status=self._case.status,
            comment_id=effects.comment.comment_id if effects.comment else None,
        )

    async def _intake(self) -> None:
        """Register, classify (entitlement from the contract) and dispatch to tier 1."""
        if workflow.patched(LEAN_INTAKE_PATCH):
            await self._lean_intake()
            return
        intake = self._input.intake
        await self._apply(self._case.register(workflow.now(), intake.reporter))
        entitlement = await workflow.execute_activity_method(
            ReadModelActivities.lookup_entitlement,
            EntitlementQuery(
                organisation_id=intake.organisation_id,
                product_id=intake.product_id,
                on=workflow.now().date(),
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
        policy = await self._resolve_policy(intake.severity, entitlement.level)
        await self._apply(self._case.accept(entitlement, workflow.now(), policy))
        answer = await self._choose_owner(Tier.FRONTLINE)
        owner = answer.owner
        routed = owner is None or owner.offer_timeout is not None
        if routed and workflow.patched(QUEUE_PATCH):
            await self._apply(self._case.queue_or_assign(answer, workflow.now()))
        elif owner is None:
            await self._apply(self._case.no_owner_available(workflow.now(), Tier.FRONTLINE))
        else:
            await self._apply(self._case.assign_initial(owner, workflow.now()))

    async def _lean_intake(self) -> None:
        """The same steps from one look-up activity, recorded as one batch: the domain
        registers, accepts and dispatches in turn, as before, at one instant."""
        intake = self._input.intake
        reported = workflow.now()
        facts = await workflow.execute_activity_method(
            ReadModelActivities.intake_facts,
            IntakeFactsQuery(
                entitlement=EntitlementQuery(
                    organisation_id=intake.organisation_id,
                    product_id=intake.product_id,
                    on=reported.date(),
                ),
                severity=intake.severity,
                policy_on=intake.created_at.date(),
                owner=self._owner_query(Tier.FRONTLINE),
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
        now = workflow.now()
        effects = self._case.register(reported, intake.reporter)
        effects.extend(self._case.accept(facts.entitlement, now, facts.policy.policy))
        answer = facts.owner
        routed = answer.owner is None or answer.owner.offer_timeout is not None
        if routed:
            effects.extend(self._case.queue_or_assign(answer, now))
        else:
            assert answer.owner is not None
            effects.extend(self._case.assign_initial(answer.owner, now))
        await self._apply(effects)

    async def _link_in_tracker(self, defect_key: str) -> DefectLink:
        """Check the named defect exists and link back to us; any failure refuses the command."""
        try:
            return await workflow.execute_activity_method(
                TrackerActivities.link_defect,
                LinkDefectInput(
                    issue_id=self._case.status.issue_id,
                    defect_key=defect_key,
                    title=self._case.status.title,
                ),
                start_to_close_timeout=timedelta(seconds=20),
                retry_policy=TRACKER_LINK_RETRY,
            )
        except ActivityError as exc:
            raise rejected(f"cannot link {defect_key}: {_cause(exc)}") from None

    def _start_defect_creation(self) -> None:
        """Create the defect in the background: Jira may take minutes, commands must not wait."""
        self._case.defect_creation_started()
        self._tracker_tasks.append(asyncio.create_task(self._create_defect()))

    async def _create_defect(self) -> None:
        status, intake = self._case.status, self._input.intake
        try:
            product = await workflow.execute_activity_method(
                ReadModelActivities.product_info,
                ProductQuery(product_id=status.product_id),
                start_to_close_timeout=READ_MODEL_TIMEOUT,
                retry_policy=READ_MODEL_RETRY,
            )
            link = await workflow.execute_activity_method(
                TrackerActivities.create_defect,
                CreateDefectInput(
                    issue_id=status.issue_id,
                    product_id=status.product_id,
                    product_version=product.current_version or "",
                    title=status.title,
                    description_excerpt=intake.description[:DESCRIPTION_EXCERPT_CHARS],
                    severity=status.severity,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=TRACKER_CREATE_WINDOW,
                retry_policy=TRACKER_RETRY,
            )
        except ActivityError as exc:
            async with self._lock:
                self._case.defect_creation_ended()
                await self._apply(self._case.tracker_sync_failed(_cause(exc), workflow.now()))
                self._changed = True
            return
        async with self._lock:
            self._case.defect_creation_ended()
            await self._apply(self._case.link_defect(link, workflow.now(), SYSTEM_ACTOR))
            self._changed = True

    async def _resolve_policy(
        self, severity: Severity, level: ContractLevel | None = None
    ) -> ResolvedPolicy | None:
        """The policy in force now for the contract level (default: the issue's entitlement)
        and this severity, with the organisation's contract overrides as of the report."""
        status = self._case.status
        if level is None and status.entitlement is not None:
            level = status.entitlement.level
        answer = await workflow.execute_activity_method(
            ReadModelActivities.resolve_sla_policy,
            SlaPolicyQuery(
                organisation_id=status.organisation_id,
                contract_level=level,
                severity=severity,
                on=status.created_at.date(),
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )
        return answer.policy

    async def _follow_up(self, follow_up: FollowUp) -> None:
        """A breach action that needs the outside world: escalate, or raise the severity.
        Runs under the lock like a command; a state that moved on makes it a no-op."""
        if follow_up.escalate_to is not None:
            await self._escalate_on_breach(follow_up.escalate_to, follow_up.reason)
        if follow_up.raise_to is not None:
            await self._raise_on_breach(follow_up.raise_to, follow_up.reason)
        if follow_up.reoffer:
            await self._reoffer(follow_up.reason)
        self._changed = True

    async def _escalate_on_breach(self, tier: Tier, reason: str) -> None:
        cmd = EscalateCommand(actor=SYSTEM_ACTOR, to_tier=tier, reason=reason)
        try:
            self._case.check_escalate(cmd)
        except CommandRejected:
            return
        answer = await self._escalation_answer(cmd)
        await self._apply(self._case.escalate(cmd, workflow.now(), answer.owner, answer))
        if self._case.needs_defect_creation():
            self._start_defect_creation()

    async def _escalation_answer(self, cmd: EscalateCommand) -> OwnerAnswer:
        """Who takes an escalation, by hand or on a budget breach alike: the named engineer,
        or the routing rules at the target tier (its team's queue when nobody qualifies)."""
        if cmd.engineer is not None:
            return OwnerAnswer(owner=cmd.engineer)
        return await self._choose_owner(cmd.to_tier)

    async def _raise_on_breach(self, severity: Severity, reason: str) -> None:
        cmd = ChangeSeverityCommand(actor=SYSTEM_ACTOR, severity=severity, reason=reason)
        try:
            self._case.check_change_severity(cmd)
        except CommandRejected:
            return
        policy = await self._resolve_policy(severity)
        await self._apply(self._case.change_severity(cmd, policy, workflow.now()))

    async def _choose_owner(
        self,
        tier: Tier,
        *,
        team_id: str | None = None,
        exclude: tuple[str, ...] = (),
        substitute_for: str | None = None,
    ) -> OwnerAnswer:
        """Ask the routing rules for an owner at `tier`, with everything they match on.

        Retried by Temporal until it answers: a hand-off is taken only after, so while the
        choice fails the previous owner keeps the issue."""
        return await workflow.execute_activity_method(
            ReadModelActivities.choose_owner,
            self._owner_query(
                tier, team_id=team_id, exclude=exclude, substitute_for=substitute_for
            ),
            start_to_close_timeout=READ_MODEL_TIMEOUT,
            retry_policy=READ_MODEL_RETRY,
        )

    def _owner_query(
        self,
        tier: Tier,
        *,
        team_id: str | None = None,
        exclude: tuple[str, ...] = (),
        substitute_for: str | None = None,
    ) -> OwnerQuery:
        status, intake = self._case.status, self._input.intake
        return OwnerQuery(
            issue_id=status.issue_id,
            product_id=status.product_id,
            tier=tier,
            organisation_id=status.organisation_id,
            category=status.category,
            severity=status.severity,
            service_mode=status.service_mode,
            channel=intake.channel,
            exclude_engineer_ids=exclude,
            team_id=team_id,
            substitute_for=substitute_for,
        )

    async def _apply(self, effects: Effects) -> None:
        """Record first (read-your-writes for the API), then announce in the background."""
        if effects.events or effects.comment:
            created = any(e.kind == EventKind.CREATED for e in effects.events)
            await workflow.execute_activity_method(
                ReadModelActivities.record,
                RecordBatch(
                    status=self._case.status,
                    events=tuple(effects.events),
                    comment=effects.comment,
                    intake=self._input.intake if created else None,
                ),
                start_to_close_timeout=READ_MODEL_TIMEOUT,
                retry_policy=READ_MODEL_RETRY,
            )
        self._upsert_search_attributes()
        self._mirror_to_tracker(effects)
        for notification in effects.notifications:
            self._start_notification(notification)
        for follow_up in effects.follow_ups:
            await self._follow_up(follow_up)

    def _mirror_to_tracker(self, effects: Effects) -> None:
        """Start telling R&D what the domain says it should hear of this step."""
        mirrors = self._case.tracker_mirrors(effects)
        if mirrors.comments and workflow.patched(MIRROR_PATCH):
            for mirror in mirrors.comments:
                self._start_mirror(mirror)
        if mirrors.impact is not None and workflow.patched(IMPACT_PATCH):
            self._start_mirror(mirrors.impact)

    def _start_mirror(self, mirror: MirrorCommentInput) -> None:
        self._unmirrored[mirror.marker] = mirror
        self._tracker_tasks.append(asyncio.create_task(self._mirror(mirror)))

    def _start_notification(self, notification: Notification) -> None:
        self._unsent[notification.notification_id] = notification
        self._notifications.append(asyncio.create_task(self._notify(notification)))

    async def _mirror(self, mirror: MirrorCommentInput) -> None:
        try:
            await workflow.execute_activity_method(
                TrackerActivities.mirror_comment,
                mirror,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=TRACKER_CREATE_WINDOW,
                retry_policy=MIRROR_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("mirroring %s abandoned: %s", mirror.marker, _cause(exc))
        finally:
            self._unmirrored.pop(mirror.marker, None)

    async def _notify(self, notification: Notification) -> None:
        try:
            await workflow.execute_activity_method(
                NotificationActivities.notify,
                notification,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=24),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "notification %s abandoned: %s", notification.notification_id, exc.cause
            )
        finally:
            self._unsent.pop(notification.notification_id, None)

    async def _drain(self) -> None:
        """Wait for work in flight: a finished or continued run would abandon it."""
        while self._notifications or self._tracker_tasks:
            pending = self._notifications + self._tracker_tasks
            self._notifications, self._tracker_tasks = [], []
            await asyncio.gather(*pending)

    def _upsert_search_attributes(self) -> None:
        updates = updates_for(self._case.status)
        fingerprint = repr([(u.key.name, getattr(u, "value", None)) for u in updates])
        if fingerprint != self._search_attributes:
            self._search_attributes = fingerprint
            workflow.upsert_search_attributes(updates)

    def _should_continue_as_new(self) -> bool:
        """Keep each run's history small: continue as new when Temporal suggests or we decide."""
        too_many = self._case.seq - self._run_start_seq >= self._input.config.max_events_per_run
        return too_many or workflow.info().is_continue_as_new_suggested()


def _cause(error: ActivityError) -> str:
    """The tracker's own message rather than Temporal's wrapper."""
    cause = error.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    message = getattr(cause, "message", None) or str(cause or error)
    return str(message)[:500]
