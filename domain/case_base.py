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
# Where a reopened defect pulls its issues back to R&D from (fixed or refused earlier).
DEFECT_REOPEN_STATES = frozenset(
    {IssueState.IN_PROGRESS, IssueState.ESCALATED, IssueState.AWAITING_CONFIRMATION}
)

ESCALATABLE_STATES = frozenset({IssueState.ASSIGNED, IssueState.IN_PROGRESS, IssueState.ESCALATED})


class CommandRejected(Exception):
    """A command the issue's current state does not allow; the message is shown to the client."""


@dataclass(frozen=True)
class FollowUp:
    """A breach action that needs the outside world first (an owner, the new severity's
    policy); the workflow runs it after recording the breach."""

    escalate_to: Tier | None = None
    raise_to: Severity | None = None
    reason: str = ""


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
