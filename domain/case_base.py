"""What every part of the issue state machine shares: the effects a step produces, the
refusal, and `CaseBase`, which records events, comments and notifications with ids that
make every write idempotent.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.enums import (
    SLA_EVENTS,
    ActorKind,
    EventKind,
    IssueState,
    Severity,
    Tier,
    Visibility,
)
from domain.models import (
    Actor,
    Audience,
    CommentRecord,
    IssueStatus,
    LifecycleConfig,
    Notification,
    TimelineEvent,
)

WORKING_STATES = frozenset({IssueState.IN_PROGRESS, IssueState.ESCALATED})
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
# Who may act on any issue whoever owns it: dispatchers route work, admins operate ITR, the
# system runs the SLA's and the tracker's actions.
ACTING_FOR_ANY_ISSUE = frozenset({ActorKind.DISPATCHER, ActorKind.ADMIN, ActorKind.SYSTEM})
# Where a reopened defect pulls its issues back to R&D from (fixed or refused earlier).
DEFECT_REOPEN_STATES = frozenset(
    {IssueState.IN_PROGRESS, IssueState.ESCALATED, IssueState.AWAITING_CONFIRMATION}
)

# Where an issue has (or waits for) an owner: registered, not yet closed or cancelled.
OPEN_STATES_BUT_NEW = frozenset(
    s for s in IssueState if s not in (IssueState.NEW, IssueState.CLOSED, IssueState.CANCELLED)
)

ESCALATABLE_STATES = frozenset({IssueState.ASSIGNED, IssueState.IN_PROGRESS, IssueState.ESCALATED})


class CommandRejected(Exception):
    """A command the issue's current state does not allow; the message is shown to the client."""


class CommandForbidden(CommandRejected):
    """A command this actor may not give on this issue (not the owner, the owning team's
    manager or a dispatcher): a 403 with the reason, where a state refusal is a 409."""


@dataclass(frozen=True)
class FollowUp:
    """A breach action that needs the outside world first (an owner, the new severity's
    policy); the workflow runs it after recording the breach."""

    escalate_to: Tier | None = None
    raise_to: Severity | None = None
    reason: str = ""
    # An offer expired or was declined: offer the issue to the next engineer of its team.
    reoffer: bool = False


@dataclass
class Effects:
    """What one step changed, for the workflow to record and announce."""

    events: list[TimelineEvent] = field(default_factory=list)
    comment: CommentRecord | None = None
    notifications: list[Notification] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.comment or self.notifications)

    def extend(self, later: "Effects") -> None:
        """Append what a later step in the same turn produced (its comment, if any, wins)."""
        self.events.extend(later.events)
        self.comment = later.comment or self.comment
        self.notifications.extend(later.notifications)
        self.follow_ups.extend(later.follow_ups)


def _waiting_for(status: IssueStatus) -> str:
    owner = status.owner.engineer_name if status.owner else None
    match status.state:
        case IssueState.NEW:
            return "registration"
        case IssueState.ACCEPTED:
            if status.offer is not None:
                return f"{status.offer.engineer.engineer_name} to accept the offer"
            if status.team_id is not None:
                return f"a tier-1 engineer of team {status.team_id} to claim it"
            return "assignment to a tier-1 engineer"
        case IssueState.ASSIGNED:
            return f"first response by {owner}"
        case IssueState.IN_PROGRESS:
            return f"work by {owner}" if owner else "an owner"
        case IssueState.ESCALATED:
            if not owner and status.offer is not None:
                return f"{status.offer.engineer.engineer_name} to accept the offer"
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


class CaseBase:
    """One issue's state plus the counter that makes every record id deterministic."""

    def __init__(
        self,
        status: IssueStatus,
        config: LifecycleConfig,
        seq: int = 0,
        *,
        defect_pending: bool = False,
    ) -> None:
        self.status = status
        self.config = config
        self.seq = seq
        # A defect is being created in the tracker (in the background): linking or retrying
        # meanwhile would race it. Not part of the status: it lasts one creation attempt.
        self.defect_pending = defect_pending

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _update(self, **changes: Any) -> None:
        owner = changes.get("owner")
        if owner is not None and "team_id" not in changes:
            # The accountable team follows the owner (a queue's team is set where it queues);
            # an owner chosen without teams (older routing) leaves it unknown, never stale.
            changes["team_id"] = owner.team_id
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
        if kind not in SLA_EVENTS:
            self._follow_sla(effects, at)

    def _follow_sla(self, effects: Effects, now: datetime) -> None:
        """Hook: the SLA rules put the clocks in the mode the new state asks for."""

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

    # --- who may act (issue 9) ---------------------------------------------------------------

    def _has_authority(self, actor: Actor) -> bool:
        """Whether the actor may change this issue's state: the owner, the owning team's
        manager, a dispatcher (and admins, the system, customers for their own commands).
        An actor without a scope was not resolved by the API (the system, or a command
        recorded before these rules): not checked, so older histories replay unchanged."""
        scope = actor.scope
        if scope is None or actor.kind in CUSTOMER_SIDE or actor.kind in ACTING_FOR_ANY_ISSUE:
            return True
        s = self.status
        if actor.kind == ActorKind.MANAGER and (
            s.team_id is None or s.team_id in scope.managed_team_ids
        ):
            return True
        return s.owner is not None and s.owner.engineer_id == actor.id

    def _require_authority(self, actor: Actor, action: str) -> None:
        if not self._has_authority(actor):
            raise CommandForbidden(self._authority_refusal(actor, action))

    def _authority_refusal(self, actor: Actor, action: str) -> str:
        s = self.status
        owner = (
            f"its owner ({s.owner.engineer_name})"
            if s.owner is not None
            else "its owner (nobody owns it yet: claim it from the queue)"
        )
        manager = f"the manager of team {s.team_id}" if s.team_id else "a manager"
        return (
            f"{actor.name} cannot {action} issue {s.issue_id}: only {owner}, {manager} "
            "or a dispatcher may"
        )

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
