"""The issue state machine: which command each state allows, and what it changes.

`IssueCase` is pure: it takes the current time as an argument and returns the effects
(timeline events, a comment, notifications) that the workflow then carries out through
activities. Validators call the `check_*` methods, handlers the command methods, so a
command the state forbids is refused with the same reason in both places.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.enums import (
    ActorKind,
    ClosureOutcome,
    DefectOutcome,
    EventKind,
    IssueState,
    SlaClockKind,
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
    CommentRecord,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    DefectChange,
    DefectComment,
    DefectLink,
    Entitlement,
    EscalateCommand,
    IssueIntake,
    IssueStatus,
    LifecycleConfig,
    LinkDefectCommand,
    Notification,
    OwnerChoice,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
    RetryTrackerSyncCommand,
    SlaClock,
    TimelineEvent,
)

WORKING_STATES = frozenset({IssueState.IN_PROGRESS, IssueState.ESCALATED})
OPEN_STATES = frozenset(s for s in IssueState if s not in (IssueState.CLOSED, IssueState.CANCELLED))
REASSIGNABLE_STATES = frozenset(
    {
        IssueState.ACCEPTED,
        IssueState.ASSIGNED,
        IssueState.IN_PROGRESS,
        IssueState.ESCALATED,
        IssueState.WAITING_CUSTOMER,
        IssueState.AWAITING_CONFIRMATION,
    }
)
CUSTOMER_SIDE = frozenset({ActorKind.CUSTOMER, ActorKind.INTEGRATION})
# Where a reopened defect pulls its issues back to R&D from (fixed or refused earlier).
DEFECT_REOPEN_STATES = frozenset(
    {IssueState.IN_PROGRESS, IssueState.ESCALATED, IssueState.AWAITING_CONFIRMATION}
)


def defect_outcome_applies(state: IssueState, tier: Tier, outcome: DefectOutcome) -> bool:
    """Whether an issue in this state and tier waits for this tracker outcome; shared by the
    workflow and the tracker poll (which reads the read model, so it can skip stale changes)."""
    waiting = state == IssueState.ESCALATED and tier == Tier.RND
    if outcome == DefectOutcome.REOPENED:
        return state in DEFECT_REOPEN_STATES and not waiting
    return waiting


class CommandRejected(Exception):
    """A command the issue's current state does not allow; the message is shown to the client."""


@dataclass
class Effects:
    """What one step changed, for the workflow to record and announce."""

    events: list[TimelineEvent] = field(default_factory=list)
    comment: CommentRecord | None = None
    notifications: list[Notification] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.comment or self.notifications)


def _waiting_for(status: IssueStatus) -> str:
    owner = status.owner.engineer_name if status.owner else None
    match status.state:
        case IssueState.NEW:
            return "registration"
        case IssueState.ACCEPTED:
            return "assignment to a tier-1 engineer"
        case IssueState.ASSIGNED:
            return f"first response by {owner}"
        case IssueState.IN_PROGRESS:
            return f"work by {owner}" if owner else "an owner"
        case IssueState.ESCALATED:
            who = owner or f"a tier-{int(status.tier)} engineer to take it"
            return f"tier-{int(status.tier)} work by {who}" if owner else who
        case IssueState.WAITING_CUSTOMER:
            return "the customer's reply"
        case IssueState.RESOLVED | IssueState.AWAITING_CONFIRMATION:
            return "the customer's confirmation"
        case IssueState.CLOSED:
            return (
                "nothing; the customer may reopen until the window ends"
                if not (status.archived_at)
                else "nothing"
            )
        case IssueState.CANCELLED:
            return "nothing"


class IssueCase:
    """One issue's lifecycle state plus the counter that makes every record id deterministic."""

    def __init__(self, status: IssueStatus, config: LifecycleConfig, seq: int = 0) -> None:
        self.status = status
        self.config = config
        self.seq = seq

    # --- construction ------------------------------------------------------------------

    @classmethod
    def open(cls, intake: IssueIntake, config: LifecycleConfig) -> "IssueCase":
        """A NEW issue whose SLA clocks start when the customer reported it."""
        targets = config.sla_targets[intake.severity]
        clocks = (
            SlaClock(
                kind=SlaClockKind.FIRST_RESPONSE,
                due_at=intake.created_at + targets.first_response,
            ),
            SlaClock(kind=SlaClockKind.RESOLUTION, due_at=intake.created_at + targets.resolution),
        )
        status = IssueStatus(
            issue_id=intake.issue_id,
            organisation_id=intake.organisation_id,
            product_id=intake.product_id,
            title=intake.title,
            category=intake.category,
            severity=intake.severity,
            service_mode=intake.service_mode,
            state=IssueState.NEW,
            clocks=clocks,
            created_at=intake.created_at,
            waiting_for="registration",
        )
        return cls(status, config)

    # --- helpers -----------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _update(self, **changes: Any) -> None:
        status = self.status.model_copy(update=changes)
        self.status = status.model_copy(update={"waiting_for": _waiting_for(status)})

    def _event(
        self,
        effects: Effects,
        kind: EventKind,
        at: datetime,
        actor: Actor,
        *,
        summary: str = "",
        from_state: IssueState | None = None,
        visibility: Visibility = Visibility.PUBLIC,
        data: dict[str, str | int | None] | None = None,
    ) -> None:
        seq = self._next_seq()
        effects.events.append(
            TimelineEvent(
                issue_id=self.status.issue_id,
                seq=seq,
                at=at,
                kind=kind,
                actor=actor,
                from_state=from_state,
                to_state=self.status.state,
                visibility=visibility,
                summary=summary,
                data=data or {},
            )
        )
        self._update(revision=seq)

    def _comment(
        self, effects: Effects, at: datetime, author: Actor, body: str, visibility: Visibility
    ) -> None:
        effects.comment = CommentRecord(
            comment_id=f"{self.status.issue_id}:c{self._next_seq()}",
            issue_id=self.status.issue_id,
            at=at,
            author=author,
            body=body,
            visibility=visibility,
        )
        self._update(revision=self.seq)

    def _notify(
        self,
        effects: Effects,
        kind: str,
        at: datetime,
        audience: Audience,
        subject: str,
        data: dict[str, str | int | None] | None = None,
    ) -> None:
        effects.notifications.append(
            Notification(
                notification_id=f"{self.status.issue_id}:n{self._next_seq()}",
                issue_id=self.status.issue_id,
                kind=kind,
                audience=audience,
                subject=subject,
                at=at,
                data=data or {},
            )
        )
        self._update(revision=self.seq)

    def _set_clock(self, kind: SlaClockKind, clock: SlaClock) -> None:
        self._update(clocks=tuple(clock if c.kind == kind else c for c in self.status.clocks))

    def _meet_clock(self, kind: SlaClockKind, at: datetime) -> None:
        clock = self.status.clock(kind)
        if clock is not None and clock.met_at is None:
            self._set_clock(kind, clock.model_copy(update={"met_at": at}))

    def _require_state(self, allowed: frozenset[IssueState], action: str) -> None:
        if self.status.state not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise CommandRejected(
                f"cannot {action} an issue in state '{self.status.state.value}' "
                f"(allowed in: {names})"
            )

    @property
    def finished(self) -> bool:
        """True once nothing more can happen: cancelled, or closed past its reopen window."""
        return self.status.state == IssueState.CANCELLED or self.status.archived_at is not None

    # --- automatic steps ---------------------------------------------------------------

    def register(self, now: datetime, reporter: Actor) -> Effects:
        effects = Effects()
        self._event(effects, EventKind.CREATED, now, reporter, summary=self.status.title)
        return effects

    def accept(self, entitlement: Entitlement, now: datetime) -> Effects:
        effects = Effects()
        previous = self.status.state
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

    def _take_owner(
        self, effects: Effects, owner: OwnerChoice, now: datetime, actor: Actor, reason: str
    ) -> None:
        previous = self.status.state
        changes: dict[str, Any] = {"owner": owner}
        if owner.tier == Tier.FRONTLINE:
            changes["tier1_owner"] = owner
        first = previous == IssueState.ACCEPTED
        if first:
            changes["state"] = IssueState.ASSIGNED
            changes["assigned_at"] = now
        self._update(**changes)
        self._event(
            effects,
            EventKind.ASSIGNED if first else EventKind.REASSIGNED,
            now,
            actor,
            from_state=previous,
            summary=f"owner: {owner.engineer_name} (tier {int(owner.tier)}); {reason}",
            data={"engineer_id": owner.engineer_id, "tier": int(owner.tier)},
        )
        self._notify(
            effects,
            "issue_assigned",
            now,
            Audience(engineer_id=owner.engineer_id),
            f"{self.status.issue_id} is yours: {self.status.title}",
            {"severity": int(self.status.severity)},
        )

    def on_time(self, now: datetime) -> Effects:
        """Fire everything due at `now`: SLA breaches, the confirmation reminder, auto-close."""
        effects = Effects()
        if self.status.state in OPEN_STATES:
            for clock in self.status.clocks:
                if clock.running and clock.due_at <= now:
                    self._set_clock(clock.kind, clock.model_copy(update={"breached_at": now}))
                    self._event(
                        effects,
                        EventKind.SLA_BREACHED,
                        now,
                        SYSTEM_ACTOR,
                        visibility=Visibility.INTERNAL,
                        summary=f"{clock.kind.value} deadline {clock.due_at.isoformat()} missed",
                        data={"clock": clock.kind.value, "due_at": clock.due_at.isoformat()},
                    )
                    self._notify(
                        effects,
                        "sla_breached",
                        now,
                        Audience(owner_manager=True),
                        f"SLA breach on {self.status.issue_id}: {clock.kind.value}",
                        {"clock": clock.kind.value, "due_at": clock.due_at.isoformat()},
                    )
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
        if s.state in OPEN_STATES:
            candidates.extend(c.due_at for c in s.clocks if c.running)
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

    def check_comment(self, cmd: CommentCommand) -> None:
        self._require_state(OPEN_STATES | {IssueState.CLOSED}, "comment on")
        if cmd.visibility == Visibility.INTERNAL and cmd.actor.kind in CUSTOMER_SIDE:
            raise CommandRejected("customers cannot write internal comments")

    def check_assign(self, cmd: AssignCommand) -> None:
        self._require_state(REASSIGNABLE_STATES, "assign")
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

    def _require_tracker(self) -> None:
        if not self.config.tracker_enabled:
            raise CommandRejected("no defect tracker is configured for this issue")

    def check_link_defect(self, cmd: LinkDefectCommand) -> None:
        self._require_tracker()
        if self.status.state != IssueState.ESCALATED or self.status.tier != Tier.RND:
            raise CommandRejected(
                "only an issue escalated to tier 3 (R&D) can be linked to a defect; "
                f"this one is {self.status.state.value} at tier {int(self.status.tier)}"
            )
        if self.status.defect_key is not None:
            raise CommandRejected(f"the issue is already linked to {self.status.defect_key}")

    def wants_defect(self) -> bool:
        """Escalated to R&D with a tracker but no defect yet: one must be created."""
        s = self.status
        return (
            self.config.tracker_enabled
            and s.state == IssueState.ESCALATED
            and s.tier == Tier.RND
            and s.defect_key is None
        )

    def check_request_info(self, cmd: RequestInfoCommand) -> None:
        self._require_state(WORKING_STATES, "request information on")

    def check_customer_reply(self, cmd: CustomerReplyCommand) -> None:
        self._require_state(frozenset({IssueState.WAITING_CUSTOMER}), "reply to")

    def check_propose_resolution(self, cmd: ProposeResolutionCommand) -> None:
        self._require_state(WORKING_STATES, "propose a resolution for")

    def check_confirm_closure(self, cmd: ConfirmClosureCommand) -> None:
        self._require_state(frozenset({IssueState.AWAITING_CONFIRMATION}), "confirm closure of")
        if not cmd.accept and cmd.comment is None:
            raise CommandRejected("a rejection needs a comment saying what is still wrong")

    def check_reopen(self, cmd: ReopenCommand, now: datetime) -> None:
        self._require_state(frozenset({IssueState.CLOSED}), "reopen")
        until = self.status.reopen_until
        if self.status.archived_at is not None or (until is not None and now > until):
            raise CommandRejected(f"the reopen window ended at {until}")

    def check_cancel(self, cmd: CancelCommand) -> None:
        self._require_state(OPEN_STATES, "cancel")

    # --- commands: effects -------------------------------------------------------------

    def acknowledge(self, cmd: AcknowledgeCommand, now: datetime) -> Effects:
        self.check_acknowledge(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.IN_PROGRESS, first_response_at=now)
        self._meet_clock(SlaClockKind.FIRST_RESPONSE, now)
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
            self._meet_clock(SlaClockKind.FIRST_RESPONSE, now)
        self._event(
            effects,
            EventKind.COMMENTED,
            now,
            cmd.actor,
            visibility=cmd.visibility,
            data={"comment_id": effects.comment.comment_id if effects.comment else None},
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

    def escalate(self, cmd: EscalateCommand, now: datetime, owner: OwnerChoice | None) -> Effects:
        """Escalate to `cmd.to_tier`; `owner` is the named or dispatched engineer, if any."""
        self.check_escalate(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.ESCALATED, tier=cmd.to_tier, owner=owner, escalated_at=now)
        self._event(
            effects,
            EventKind.ESCALATED,
            now,
            cmd.actor,
            from_state=previous,
            summary=f"to tier {int(cmd.to_tier)}: {cmd.reason}",
            data={
                "tier": int(cmd.to_tier),
                "engineer_id": owner.engineer_id if owner else None,
                "reason": cmd.reason[:500],
            },
        )
        if owner is not None:
            self._notify(
                effects,
                "issue_escalated",
                now,
                Audience(engineer_id=owner.engineer_id),
                f"{self.status.issue_id} escalated to you (tier {int(cmd.to_tier)})",
                {"reason": cmd.reason[:500]},
            )
        else:
            self._notify(
                effects,
                "issue_escalated_unowned",
                now,
                Audience(owner_manager=True),
                f"{self.status.issue_id} escalated to tier {int(cmd.to_tier)} with no engineer "
                "available",
            )
        return effects

    # --- the defect tracker ------------------------------------------------------------

    def link_defect(self, link: DefectLink, now: datetime, actor: Actor) -> Effects:
        """Remember the defect the issue waits on (created by us or named by an engineer)."""
        effects = Effects()
        self._update(defect_key=link.key, defect_url=link.url, tracker_sync_error=None)
        how = "created" if link.created else "linked"
        self._event(
            effects,
            EventKind.DEFECT_LINKED,
            now,
            actor,
            visibility=Visibility.INTERNAL,
            summary=f"R&D defect {link.key} {how}",
            data={"defect_key": link.key, "defect_url": link.url, "created": int(link.created)},
        )
        return effects

    def tracker_sync_failed(self, reason: str, now: datetime) -> Effects:
        """The tracker refused for good: visible on the issue, managers told, issue unchanged."""
        effects = Effects()
        self._update(tracker_sync_error=reason[:500])
        self._event(
            effects,
            EventKind.TRACKER_SYNC_FAILED,
            now,
            SYSTEM_ACTOR,
            visibility=Visibility.INTERNAL,
            summary=f"the defect could not be created: {reason[:500]}",
        )
        self._notify(
            effects,
            "tracker_sync_failed",
            now,
            Audience(owner=True, owner_manager=True),
            f"{self.status.issue_id}: the R&D defect could not be created; link one by hand",
            {"reason": reason[:500]},
        )
        return effects

    def check_retry_tracker_sync(self, cmd: RetryTrackerSyncCommand) -> None:
        self._require_tracker()
        if self.status.defect_key is not None:
            raise CommandRejected(f"the issue is already linked to {self.status.defect_key}")
        if self.status.tracker_sync_error is None:
            raise CommandRejected("the defect tracker sync has not failed for this issue")
        if self.status.state != IssueState.ESCALATED or self.status.tier != Tier.RND:
            raise CommandRejected(
                "only an issue waiting on R&D needs its defect; "
                f"this one is {self.status.state.value} at tier {int(self.status.tier)}"
            )

    def retry_tracker_sync(self, cmd: RetryTrackerSyncCommand, now: datetime) -> Effects:
        """Clear the error and record who retried; the workflow then creates the defect again."""
        self.check_retry_tracker_sync(cmd)
        effects = Effects()
        previous = self.status.tracker_sync_error
        self._update(tracker_sync_error=None)
        self._event(
            effects,
            EventKind.TRACKER_SYNC_RETRIED,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"defect creation retried after: {previous}",
        )
        return effects

    def defect_change_applies(self, change: DefectChange) -> bool:
        """Whether the issue is still in a state this tracker change is meant for."""
        s = self.status
        if s.defect_key != change.defect_key:
            return False
        return defect_outcome_applies(s.state, s.tier, change.outcome)

    def defect_commented(self, comment: DefectComment, now: datetime) -> Effects:
        """R&D's comment becomes an internal comment for the owner (never shown to customers,
        never mirrored back to the tracker); a comment on another defect is ignored."""
        effects = Effects()
        if self.status.defect_key != comment.defect_key:
            return effects
        author = Actor(
            kind=ActorKind.INTEGRATION,
            id="tracker",
            name=f"R&D {comment.author_name} on {comment.defect_key}"[:200],
        )
        self._comment(effects, now, author, comment.body, Visibility.INTERNAL)
        self._event(
            effects,
            EventKind.DEFECT_COMMENTED,
            now,
            author,
            visibility=Visibility.INTERNAL,
            summary=f"R&D commented on {comment.defect_key}",
            data={"defect_key": comment.defect_key, "tracker_comment_id": comment.comment_id},
        )
        self._notify(
            effects,
            "defect_commented",
            now,
            Audience(owner=True),
            f"{self.status.issue_id}: R&D commented on {comment.defect_key}",
        )
        return effects

    def defect_changed(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        """Apply R&D's decision; a change that no longer fits is recorded and ignored."""
        if not self.defect_change_applies(change):
            effects = Effects()
            self._event(
                effects,
                EventKind.DEFECT_UPDATE_IGNORED,
                now,
                SYSTEM_ACTOR,
                visibility=Visibility.INTERNAL,
                summary=f"{change.defect_key} is now {change.outcome.value}; nothing to do for "
                f"an issue {self.status.state.value} at tier {int(self.status.tier)}",
                data={"defect_key": change.defect_key, "dedupe_key": change.dedupe_key},
            )
            return effects
        if change.outcome == DefectOutcome.FIXED:
            return self._defect_fixed(change, now)
        if change.outcome == DefectOutcome.WONT_FIX:
            return self._defect_wont_fix(change, now, owner)
        return self._defect_reopened(change, now, owner)

    def _defect_fixed(self, change: DefectChange, now: datetime) -> Effects:
        effects = Effects()
        previous = self.status.state
        versions = ", ".join(change.fix_versions) or "the next release"
        self._update(
            state=IssueState.IN_PROGRESS, tier=Tier.FRONTLINE, owner=self.status.tier1_owner
        )
        self._event(
            effects,
            EventKind.DEFECT_FIXED,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            summary=f"fix available in {versions}",
            data={"defect_key": change.defect_key, "fix_versions": versions},
        )
        if self.status.owner is not None:
            self._notify(
                effects,
                "defect_fixed",
                now,
                Audience(owner=True),
                f"{self.status.issue_id}: R&D fixed {change.defect_key} (in {versions})",
            )
        proposal = ProposeResolutionCommand(
            actor=SYSTEM_ACTOR,
            summary=f"R&D fixed the defect behind this issue; the fix is available in {versions}.",
        )
        more = self.propose_resolution(proposal, now)
        effects.events.extend(more.events)
        effects.comment = more.comment
        effects.notifications.extend(more.notifications)
        return effects

    def _defect_wont_fix(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        effects = Effects()
        previous = self.status.state
        reason = change.reason or "no reason given"
        self._update(state=IssueState.ESCALATED, tier=Tier.EXPERT, owner=owner)
        self._event(
            effects,
            EventKind.DEFECT_WONT_FIX,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            visibility=Visibility.INTERNAL,
            summary=f"R&D will not fix {change.defect_key}: {reason}; back to tier 2",
            data={"defect_key": change.defect_key, "reason": reason[:500]},
        )
        self._notify_owner_or_managers(effects, now, owner, f"R&D will not fix: {reason[:200]}")
        return effects

    def _defect_reopened(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        effects = Effects()
        previous = self.status.state
        self._update(
            state=IssueState.ESCALATED,
            tier=Tier.RND,
            owner=owner,
            resolved_at=None,
            confirmation_reminder_at=None,
            auto_close_at=None,
            confirmation_reminded=False,
        )
        resolution = self.status.clock(SlaClockKind.RESOLUTION)
        if resolution is not None and resolution.breached_at is None:
            self._set_clock(SlaClockKind.RESOLUTION, resolution.model_copy(update={"met_at": None}))
        self._event(
            effects,
            EventKind.DEFECT_REOPENED,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            summary=f"R&D reopened {change.defect_key}; waiting for R&D again",
            data={"defect_key": change.defect_key},
        )
        self._notify_owner_or_managers(effects, now, owner, f"{change.defect_key} was reopened")
        return effects

    def _notify_owner_or_managers(
        self, effects: Effects, now: datetime, owner: OwnerChoice | None, why: str
    ) -> None:
        tier = int(self.status.tier)
        if owner is not None:
            self._notify(
                effects,
                "issue_escalated",
                now,
                Audience(engineer_id=owner.engineer_id),
                f"{self.status.issue_id} is back with you (tier {tier}): {why}",
            )
        else:
            self._notify(
                effects,
                "issue_escalated_unowned",
                now,
                Audience(owner_manager=True),
                f"{self.status.issue_id} is back at tier {tier} with no engineer available",
            )

    def request_info(self, cmd: RequestInfoCommand, now: datetime) -> Effects:
        self.check_request_info(cmd)
        effects = Effects()
        previous = self.status.state
        self._update(state=IssueState.WAITING_CUSTOMER, previous_state=previous)
        self._comment(effects, now, cmd.actor, cmd.question, Visibility.PUBLIC)
        if self.status.first_response_at is None:
            self._update(first_response_at=now)
            self._meet_clock(SlaClockKind.FIRST_RESPONSE, now)
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
            state=IssueState.RESOLVED, resolved_at=now, resolution_summary=cmd.summary[:2000]
        )
        self._meet_clock(SlaClockKind.RESOLUTION, now)
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
        resolution = self.status.clock(SlaClockKind.RESOLUTION)
        if resolution is not None and resolution.breached_at is None:
            self._set_clock(SlaClockKind.RESOLUTION, resolution.model_copy(update={"met_at": None}))
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
        targets = self.config.sla_targets[self.status.severity]
        self._update(
            state=IssueState.IN_PROGRESS,
            closed_at=None,
            closure_outcome=None,
            reopen_until=None,
            resolved_at=None,
            reopen_count=self.status.reopen_count + 1,
        )
        self._set_clock(
            SlaClockKind.RESOLUTION,
            SlaClock(kind=SlaClockKind.RESOLUTION, due_at=now + targets.resolution),
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
