"""The issue state machine: which command each state allows, and what it changes.

`IssueCase` is pure: it takes the current time as an argument and returns the effects
(timeline events, a comment, notifications) that the workflow then carries out through
activities. Validators call the `check_*` methods, handlers the command methods, so a
command the state forbids is refused with the same reason in both places.

The state machine is split by concern: `case_base` (recording), `case_sla` (the SLA
promise and its clocks), `case_tracker` (the R&D defect); `IssueCase` here holds the
lifecycle itself and is the one class the workflow uses.
"""

from datetime import datetime

from domain.case_base import (
    CUSTOMER_SIDE,
    REASSIGNABLE_STATES,
    WORKING_STATES,
    CommandForbidden,
    CommandRejected,
    Effects,
    FollowUp,
)
from domain.case_dispatch import DispatchRules
from domain.case_onsite import OnsiteRules
from domain.case_sla import SlaRules
from domain.case_tracker import TrackerRules, defect_outcome_applies
from domain.enums import (
    OPEN_STATES,
    ActorKind,
    ClosureOutcome,
    EventKind,
    IssueState,
    Tier,
    Visibility,
)
from domain.models import (
    SYSTEM_ACTOR,
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    Audience,
    CancelCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    Entitlement,
    EscalateCommand,
    IssueIntake,
    IssueStatus,
    LifecycleConfig,
    OwnerAnswer,
    OwnerChoice,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
)
from domain.sla import ResolvedPolicy
from domain.sla_tracking import IssueSla


class IssueCase(DispatchRules, SlaRules, TrackerRules, OnsiteRules):
    """The whole lifecycle: construction, the automatic steps and the commands (the dispatch,
    SLA, tracker and on-site rules come from their own modules)."""

    # --- construction ------------------------------------------------------------------

    @classmethod
    def open(cls, intake: IssueIntake, config: LifecycleConfig) -> "IssueCase":
        """A NEW issue; its SLA clocks start (from the report's time) once the policy is known."""
        status = IssueStatus(
            issue_id=intake.issue_id,
            organisation_id=intake.organisation_id,
            product_id=intake.product_id,
            title=intake.title,
            category=intake.category,
            severity=intake.severity,
            service_mode=intake.service_mode,
            state=IssueState.NEW,
            created_at=intake.created_at,
            waiting_for="registration",
        )
        return cls(status, config)

    # --- helpers -----------------------------------------------------------------------

    # --- automatic steps ---------------------------------------------------------------

    def register(self, now: datetime, reporter: Actor) -> Effects:
        effects = Effects()
        self._event(effects, EventKind.CREATED, now, reporter, summary=self.status.title)
        return effects

    def accept(
        self, entitlement: Entitlement, now: datetime, policy: ResolvedPolicy | None = None
    ) -> Effects:
        """Classify and take the SLA promise: the resolved policy, or the default targets when
        no policy covers the contract level and severity. The clocks count from the report."""
        effects = Effects()
        previous = self.status.state
        resolved, fallback = self._policy_or_default(policy, self.status.severity)
        sla = IssueSla.begin(resolved, self.status.created_at, fallback)
        self._update(state=IssueState.ACCEPTED, entitlement=entitlement, accepted_at=now)
        self._event(
            effects,
            EventKind.ACCEPTED,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            summary=f"classified as {self.status.category.value}, severity "
            f"{int(self.status.severity)}, {entitlement.warranty_status.value}",
            data={
                "contract_level": entitlement.level.value if entitlement.level else None,
                "warranty_status": entitlement.warranty_status.value,
            },
        )
        # Promise first, then the clocks it starts (tier 1's budget), in timeline order.
        self._update(sla=sla)
        self._policy_event(effects, now, SYSTEM_ACTOR, "applied at intake")
        self._follow_sla(effects, now)
        return effects

    def assign_initial(self, owner: OwnerChoice, now: datetime) -> Effects:
        effects = Effects()
        self._take_owner(effects, owner, now, SYSTEM_ACTOR, "assigned by dispatch rule")
        return effects

    def no_owner_available(self, now: datetime, tier: Tier) -> Effects:
        """Dispatch found nobody: the managers hear of it and assign by hand."""
        effects = Effects()
        self._notify(
            effects,
            "no_owner_available",
            now,
            Audience(owner_manager=True),
            f"{self.status.issue_id} needs a tier-{int(tier)} owner; nobody is available",
        )
        return effects

    def on_time(self, now: datetime) -> Effects:
        """Fire everything due at `now`: SLA breaches, the confirmation reminder, auto-close."""
        effects = self.sla_due(now)
        effects.extend(self.offer_due(now))
        s = self.status
        if s.state == IssueState.AWAITING_CONFIRMATION:
            if s.auto_close_at is not None and s.auto_close_at <= now:
                self._close(effects, now, SYSTEM_ACTOR, ClosureOutcome.AUTO_CLOSED, None)
            elif (
                not s.confirmation_reminded
                and s.confirmation_reminder_at is not None
                and s.confirmation_reminder_at <= now
            ):
                self._update(confirmation_reminded=True)
                self._event(
                    effects,
                    EventKind.CONFIRMATION_REMINDER,
                    now,
                    SYSTEM_ACTOR,
                    summary=f"reminder sent; closes automatically at {s.auto_close_at}",
                )
                self._notify(
                    effects,
                    "confirmation_reminder",
                    now,
                    Audience(reporter=True),
                    f"Please confirm the resolution of {s.issue_id}",
                    self._confirmation_data(),
                )
        s = self.status
        if (
            s.state == IssueState.CLOSED
            and s.archived_at is None
            and s.reopen_until is not None
            and s.reopen_until <= now
        ):
            self._update(archived_at=now)
            self._event(
                effects,
                EventKind.ARCHIVED,
                now,
                SYSTEM_ACTOR,
                visibility=Visibility.INTERNAL,
                summary="reopen window ended",
            )
        return effects

    def next_wakeup(self) -> datetime | None:
        """The earliest instant at which `on_time` has something to do."""
        s = self.status
        candidates: list[datetime] = []
        if s.state in OPEN_STATES and s.sla is not None:
            checkpoint = s.sla.next_checkpoint
            if checkpoint is not None:
                candidates.append(checkpoint)
        if s.state in OPEN_STATES and s.offer is not None:
            candidates.append(s.offer.expires_at)
        if s.state == IssueState.AWAITING_CONFIRMATION:
            if s.auto_close_at is not None:
                candidates.append(s.auto_close_at)
            if not s.confirmation_reminded and s.confirmation_reminder_at is not None:
                candidates.append(s.confirmation_reminder_at)
        if s.state == IssueState.CLOSED and s.archived_at is None and s.reopen_until is not None:
            candidates.append(s.reopen_until)
        return min(candidates) if candidates else None

    # --- commands: checks ----------------------------------------------------------------

    def check_acknowledge(self, cmd: AcknowledgeCommand) -> None:
        self._require_state(frozenset({IssueState.ASSIGNED}), "acknowledge")
        self._require_authority(cmd.actor, "acknowledge")

    def check_comment(self, cmd: CommentCommand) -> None:
        self._require_state(OPEN_STATES | {IssueState.CLOSED}, "comment on")
        if cmd.visibility == Visibility.INTERNAL and cmd.actor.kind in CUSTOMER_SIDE:
            raise CommandRejected("customers cannot write internal comments")
        self._require_comment_right(cmd)

    def check_assign(self, cmd: AssignCommand) -> None:
        self._require_state(REASSIGNABLE_STATES, "assign")
        self._require_authority(cmd.actor, "assign")
        owner = self.status.owner
        if owner is not None and owner.engineer_id == cmd.engineer.engineer_id:
            raise CommandRejected(f"{cmd.engineer.engineer_name} already owns this issue")
        expected = Tier.FRONTLINE if self.status.state == IssueState.ACCEPTED else self.status.tier
        if cmd.engineer.tier != expected:
            raise CommandRejected(
                f"{cmd.engineer.engineer_name} works at tier {int(cmd.engineer.tier)} but the "
                f"issue is at tier {int(expected)}; escalate to change tiers"
            )

    def check_escalate(self, cmd: EscalateCommand) -> None:
        self._require_state(
            frozenset({IssueState.ASSIGNED, IssueState.IN_PROGRESS, IssueState.ESCALATED}),
            "escalate",
        )
        self._require_authority(cmd.actor, "escalate")
        if cmd.to_tier <= self.status.tier:
            raise CommandRejected(
                f"the issue is already at tier {int(self.status.tier)}; "
                "escalation must go to a higher tier"
            )
        if cmd.engineer is not None and cmd.engineer.tier != cmd.to_tier:
            raise CommandRejected(
                f"{cmd.engineer.engineer_name} works at tier {int(cmd.engineer.tier)}, "
                f"not tier {int(cmd.to_tier)}"
            )
        if cmd.defect_key is not None:
            if cmd.to_tier != Tier.RND:
                raise CommandRejected("only an escalation to tier 3 (R&D) can name a defect")
            self._require_tracker()
        manual = cmd.actor.kind != ActorKind.SYSTEM and cmd.actor.scope is not None
        if manual and cmd.summary is None:
            raise CommandRejected(
                "an escalation needs a summary of what was tried, besides the reason"
            )

    def check_request_info(self, cmd: RequestInfoCommand) -> None:
        self._require_state(WORKING_STATES, "request information on")
        self._require_authority(cmd.actor, "request information on")

    def check_customer_reply(self, cmd: CustomerReplyCommand) -> None:
        self._require_state(frozenset({IssueState.WAITING_CUSTOMER}), "reply to")
        self._require_authority(cmd.actor, "reply on")

    def check_propose_resolution(self, cmd: ProposeResolutionCommand) -> None:
        self._require_state(WORKING_STATES, "propose a resolution for")
        self._require_authority(cmd.actor, "propose a resolution for")

    def check_confirm_closure(self, cmd: ConfirmClosureCommand) -> None:
        self._require_state(frozenset({IssueState.AWAITING_CONFIRMATION}), "confirm closure of")
        self._require_authority(cmd.actor, "confirm closure of")
        if not cmd.accept and cmd.comment is None:
            raise CommandRejected("a rejection needs a comment saying what is still wrong")

    def check_reopen(self, cmd: ReopenCommand, now: datetime) -> None:
        self._require_state(frozenset({IssueState.CLOSED}), "reopen")
        self._require_authority(cmd.actor, "reopen")
        until = self.status.reopen_until
        if self.status.archived_at is not None or (until is not None and now > until):
            raise CommandRejected(f"the reopen window ended at {until}")

    def check_cancel(self, cmd: CancelCommand) -> None:
        self._require_state(OPEN_STATES, "cancel")
        self._require_authority(cmd.actor, "cancel")

    # --- commands: effects -------------------------------------------------------------

    def acknowledge(self, cmd: AcknowledgeCommand, now: datetime) -> Effects:
        self.check_acknowledge(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.IN_PROGRESS, first_response_at=now)
        self._event(effects, EventKind.ACKNOWLEDGED, now, cmd.actor, from_state=previous)
        if cmd.message:
            self._comment(effects, now, cmd.actor, cmd.message, Visibility.PUBLIC)
            self._notify(
                effects,
                "engineer_comment",
                now,
                Audience(reporter=True),
                f"{self.status.issue_id}: first response from {cmd.actor.name}",
            )
        return effects

    def comment(self, cmd: CommentCommand, now: datetime) -> Effects:
        self.check_comment(cmd)
        effects = Effects()
        self._comment(effects, now, cmd.actor, cmd.body, cmd.visibility)
        customer = cmd.actor.kind in CUSTOMER_SIDE
        if (
            not customer
            and cmd.visibility == Visibility.PUBLIC
            and self.status.first_response_at is None
        ):
            self._update(first_response_at=now)
        data: dict[str, str | int | None] = {
            "comment_id": effects.comment.comment_id if effects.comment else None
        }
        if cmd.guidance:
            data["guidance"] = 1
        self._event(
            effects,
            EventKind.COMMENTED,
            now,
            cmd.actor,
            visibility=cmd.visibility,
            summary="guidance" if cmd.guidance else "",
            data=data,
        )
        if customer:
            self._notify(
                effects,
                "customer_comment",
                now,
                Audience(owner=True),
                f"{self.status.issue_id}: new comment from {cmd.actor.name}",
            )
        elif cmd.visibility == Visibility.PUBLIC:
            self._notify(
                effects,
                "engineer_comment",
                now,
                Audience(reporter=True),
                f"{self.status.issue_id}: new comment from {cmd.actor.name}",
            )
        return effects

    def assign(self, cmd: AssignCommand, now: datetime) -> Effects:
        self.check_assign(cmd)
        effects = Effects()
        self._take_owner(effects, cmd.engineer, now, cmd.actor, cmd.reason or "assigned manually")
        return effects

    def escalate(
        self,
        cmd: EscalateCommand,
        now: datetime,
        owner: OwnerChoice | None,
        answer: OwnerAnswer | None = None,
    ) -> Effects:
        """Escalate to `cmd.to_tier`; `owner` is the named or dispatched engineer, if any
        (`answer`, when routed, says which team's queue takes it if nobody qualifies). An
        owner whose team wants offers gets the issue offered; the reason and the summary of
        what was tried stay internal (customers read a neutral line)."""
        self.check_escalate(cmd)
        effects = Effects()
        previous = self.status.state
        offered = owner is not None and owner.offer_timeout is not None
        queue = answer.team_id if answer is not None and owner is None else None
        changes: dict[str, object] = {}
        if owner is None:  # the target tier's queue (unknown without one), never tier 1's team
            changes["team_id"] = queue
        self._update(
            state=IssueState.ESCALATED,
            tier=cmd.to_tier,
            owner=None if offered else owner,
            offer=None,
            declined_ids=(),
            escalated_at=now,
            **changes,
        )
        tried = f"; tried: {cmd.summary[:500]}" if cmd.summary else ""
        self._event(
            effects,
            EventKind.ESCALATED,
            now,
            cmd.actor,
            from_state=previous,
            summary=f"to tier {int(cmd.to_tier)}: {cmd.reason}{tried}",
            data={
                "tier": int(cmd.to_tier),
                "engineer_id": owner.engineer_id if owner else None,
                "reason": cmd.reason[:500],
                **({"summary": cmd.summary[:2000]} if cmd.summary else {}),
            },
        )
        if owner is not None and offered:
            self._offer(effects, owner, now, cmd.actor, f"escalated: {cmd.reason[:200]}")
        elif owner is not None:
            self._notify(
                effects,
                "issue_escalated",
                now,
                Audience(engineer_id=owner.engineer_id),
                f"{self.status.issue_id} escalated to you (tier {int(cmd.to_tier)})",
                {"reason": cmd.reason[:500]},
            )
        else:
            if queue is not None:
                why = (answer.why if answer else None) or "nobody is available"
                self._event(
                    effects,
                    EventKind.QUEUED,
                    now,
                    SYSTEM_ACTOR,
                    visibility=Visibility.INTERNAL,
                    summary=f"waits in the queue of team {queue} for a tier-"
                    f"{int(cmd.to_tier)} engineer: {why[:500]}",
                    data={"team_id": queue, "tier": int(cmd.to_tier), "why": why[:500]},
                )
            self._notify(
                effects,
                "issue_escalated_unowned",
                now,
                Audience(owner_manager=True, team_id=queue, dispatchers=queue is not None),
                f"{self.status.issue_id} escalated to tier {int(cmd.to_tier)} with no engineer "
                "available",
            )
        return effects

    # --- the defect tracker ------------------------------------------------------------

    def request_info(self, cmd: RequestInfoCommand, now: datetime) -> Effects:
        self.check_request_info(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.WAITING_CUSTOMER, previous_state=previous)
        self._comment(effects, now, cmd.actor, cmd.question, Visibility.PUBLIC)
        if self.status.first_response_at is None:
            self._update(first_response_at=now)
        self._event(effects, EventKind.INFO_REQUESTED, now, cmd.actor, from_state=previous)
        self._notify(
            effects,
            "info_requested",
            now,
            Audience(reporter=True),
            f"{self.status.issue_id}: we need information from you",
            {"question": cmd.question[:2000]},
        )
        return effects

    def customer_reply(self, cmd: CustomerReplyCommand, now: datetime) -> Effects:
        self.check_customer_reply(cmd)
        effects = Effects()
        back_to = self.status.previous_state or IssueState.IN_PROGRESS
        self._update(state=back_to, previous_state=None)
        self._comment(effects, now, cmd.actor, cmd.body, Visibility.PUBLIC)
        self._event(
            effects,
            EventKind.CUSTOMER_REPLIED,
            now,
            cmd.actor,
            from_state=IssueState.WAITING_CUSTOMER,
        )
        self._notify(
            effects,
            "customer_replied",
            now,
            Audience(owner=True),
            f"{self.status.issue_id}: the customer replied",
        )
        return effects

    def propose_resolution(self, cmd: ProposeResolutionCommand, now: datetime) -> Effects:
        self.check_propose_resolution(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(
            state=IssueState.RESOLVED,
            resolved_at=now,
            resolution_summary=cmd.summary[:2000],
            # The proposal is a public answer: it counts as the first response if none
            # came before (an issue escalated straight from assignment).
            first_response_at=self.status.first_response_at or now,
        )
        self._comment(effects, now, cmd.actor, cmd.summary, Visibility.PUBLIC)
        self._event(effects, EventKind.RESOLUTION_PROPOSED, now, cmd.actor, from_state=previous)
        self._update(
            state=IssueState.AWAITING_CONFIRMATION,
            confirmation_reminder_at=now + self.config.confirmation_reminder_after,
            confirmation_reminded=False,
            auto_close_at=now + self.config.auto_close_after,
        )
        self._event(
            effects,
            EventKind.CONFIRMATION_REQUESTED,
            now,
            SYSTEM_ACTOR,
            from_state=IssueState.RESOLVED,
            summary=f"closes automatically at {self.status.auto_close_at} without an answer",
        )
        self._notify(
            effects,
            "confirmation_requested",
            now,
            Audience(reporter=True),
            f"Please confirm the resolution of {self.status.issue_id}",
            self._confirmation_data(),
        )
        return effects

    def _confirmation_data(self) -> dict[str, str | int | None]:
        s = self.status
        return {
            "resolution": s.resolution_summary,
            "answer_with": f"POST /issues/{s.issue_id}/confirmation "
            '{"accept": true|false, "satisfaction": 1-5, "comment": "..."}',
            "auto_close_at": s.auto_close_at.isoformat() if s.auto_close_at else None,
        }

    def confirm_closure(self, cmd: ConfirmClosureCommand, now: datetime) -> Effects:
        self.check_confirm_closure(cmd)
        effects = Effects()
        if cmd.comment:
            self._comment(effects, now, cmd.actor, cmd.comment, Visibility.PUBLIC)
        if cmd.accept:
            self._close(effects, now, cmd.actor, ClosureOutcome.ACCEPTED, cmd.satisfaction)
            return effects
        self._update(
            state=IssueState.IN_PROGRESS,
            resolved_at=None,
            confirmation_reminder_at=None,
            auto_close_at=None,
            confirmation_reminded=False,
            satisfaction=cmd.satisfaction,
        )
        self._event(
            effects,
            EventKind.RESOLUTION_REJECTED,
            now,
            cmd.actor,
            from_state=IssueState.AWAITING_CONFIRMATION,
            summary="the customer rejected the proposed resolution",
        )
        self._notify(
            effects,
            "resolution_rejected",
            now,
            Audience(owner=True),
            f"{self.status.issue_id}: the customer rejected the resolution",
        )
        return effects

    def _close(
        self,
        effects: Effects,
        now: datetime,
        actor: Actor,
        outcome: ClosureOutcome,
        satisfaction: int | None,
    ) -> None:
        previous = self.status.state
        self._update(
            state=IssueState.CLOSED,
            closed_at=now,
            closure_outcome=outcome,
            satisfaction=satisfaction,
            reopen_until=now + self.config.reopen_window,
            auto_close_at=None,
            confirmation_reminder_at=None,
        )
        self._event(
            effects,
            EventKind.CLOSED,
            now,
            actor,
            from_state=previous,
            summary=outcome.value,
            data={"outcome": outcome.value, "satisfaction": satisfaction},
        )
        self._notify(
            effects,
            "issue_closed",
            now,
            Audience(owner=True, reporter=True),
            f"{self.status.issue_id} is closed ({outcome.value})",
            {
                "reopen_until": self.status.reopen_until.isoformat()
                if self.status.reopen_until
                else None
            },
        )

    def reopen(self, cmd: ReopenCommand, now: datetime) -> Effects:
        self.check_reopen(cmd, now)
        effects = Effects()
        self._update(
            state=IssueState.IN_PROGRESS,
            closed_at=None,
            closure_outcome=None,
            reopen_until=None,
            resolved_at=None,
            reopen_count=self.status.reopen_count + 1,
            sla=self.status.sla.reopened(now) if self.status.sla else None,
        )
        self._comment(effects, now, cmd.actor, cmd.reason, Visibility.PUBLIC)
        self._event(effects, EventKind.REOPENED, now, cmd.actor, from_state=IssueState.CLOSED)
        self._notify(
            effects,
            "issue_reopened",
            now,
            Audience(owner=True),
            f"{self.status.issue_id} was reopened",
            {"reason": cmd.reason[:2000]},
        )
        return effects

    def cancel(self, cmd: CancelCommand, now: datetime) -> Effects:
        self.check_cancel(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.CANCELLED, cancelled_at=now)
        self._comment(effects, now, cmd.actor, cmd.reason, Visibility.PUBLIC)
        self._event(effects, EventKind.CANCELLED, now, cmd.actor, from_state=previous)
        self._notify(
            effects,
            "issue_cancelled",
            now,
            Audience(owner=True, reporter=True),
            f"{self.status.issue_id} was cancelled",
        )
        return effects

    # --- SLA commands ------------------------------------------------------------------


__all__ = [
    "CommandForbidden",
    "CommandRejected",
    "Effects",
    "FollowUp",
    "IssueCase",
    "defect_outcome_applies",
]
