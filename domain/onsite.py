"""On-site service as pure state machines: a visit to the customer, a spare part on its way.

A `Visit` is scheduled for an appointment window agreed with the customer; the field
engineer checks in (the visit is then under way) and checks out (completed, with the time on
site). A window that ends without a check-in makes the visit missed: the issue then needs a
new visit with a new window. A `PartRequest` moves requested → picked → shipped → delivered →
installed, or is returned from picked, shipped or delivered; each step names who may take it.

`OnsiteSummary` is what the issue itself knows of its visits and parts (it travels in the
issue's status), enough to number new ones, refuse a second active visit, and pause the
resolution clock while a part is on its way. No I/O, no clock: every method takes `now`.
This module imports nothing of ours but the vocabularies, so `domain.models` can carry it.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.enums import ActorKind


class TransitionRefused(Exception):
    """A visit or part step the current state (or the actor) does not allow; shown as 409."""


class VisitState(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    MISSED = "missed"
    # The issue was cancelled before anybody came.
    CANCELLED = "cancelled"


ACTIVE_VISIT_STATES = frozenset({VisitState.SCHEDULED, VisitState.CHECKED_IN})


class PartState(StrEnum):
    REQUESTED = "requested"
    PICKED = "picked"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    INSTALLED = "installed"
    RETURNED = "returned"
    # The issue was cancelled before the part left the warehouse.
    CANCELLED = "cancelled"


# Still on its way to the customer's site: what "waiting for parts" means for the SLA.
PARTS_IN_TRANSIT = frozenset({PartState.REQUESTED, PartState.PICKED, PartState.SHIPPED})
FINAL_PART_STATES = frozenset({PartState.INSTALLED, PartState.RETURNED, PartState.CANCELLED})
# What a cancelled issue stops; a part already on its way comes back by a return instead.
CANCELLABLE_PART_STATES = frozenset({PartState.REQUESTED, PartState.PICKED})


class PartAction(StrEnum):
    PICK = "pick"
    SHIP = "ship"
    DELIVER = "deliver"
    INSTALL = "install"
    RETURN = "return"


PART_TRANSITIONS: dict[PartAction, tuple[frozenset[PartState], PartState]] = {
    PartAction.PICK: (frozenset({PartState.REQUESTED}), PartState.PICKED),
    PartAction.SHIP: (frozenset({PartState.PICKED}), PartState.SHIPPED),
    PartAction.DELIVER: (frozenset({PartState.SHIPPED}), PartState.DELIVERED),
    PartAction.INSTALL: (frozenset({PartState.DELIVERED}), PartState.INSTALLED),
    PartAction.RETURN: (
        frozenset({PartState.PICKED, PartState.SHIPPED, PartState.DELIVERED}),
        PartState.RETURNED,
    ),
}
"""Per action: the states it may start from, and the state it leads to."""

PART_ACTORS: dict[PartAction, frozenset[ActorKind]] = {
    PartAction.PICK: frozenset({ActorKind.WAREHOUSE, ActorKind.ADMIN}),
    PartAction.SHIP: frozenset({ActorKind.WAREHOUSE, ActorKind.ADMIN}),
    PartAction.DELIVER: frozenset({ActorKind.FIELD_ENGINEER, ActorKind.WAREHOUSE, ActorKind.ADMIN}),
    PartAction.INSTALL: frozenset({ActorKind.FIELD_ENGINEER, ActorKind.ADMIN}),
    PartAction.RETURN: frozenset({ActorKind.FIELD_ENGINEER, ActorKind.ADMIN}),
}
"""Who may take each step: the warehouse picks and ships, the field engineer (or the
warehouse's courier) marks delivered, the field engineer installs or sends back; an admin
may stand in for anyone."""

VISIT_ACTORS = frozenset({ActorKind.FIELD_ENGINEER, ActorKind.ADMIN})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """An appointment window is agreed with the customer: it ends after it starts, and it
    has not started yet (a window in the past cannot be kept)."""
    if end <= start:
        raise TransitionRefused("the appointment window must end after it starts")
    if start <= now:
        raise TransitionRefused(f"the appointment window must start in the future (now {now})")


class Visit(_Frozen):
    """One visit of a field engineer, from scheduling to completion (or a missed window)."""

    visit_id: str
    issue_id: str
    number: int
    engineer_id: str
    engineer_name: str
    window_start: datetime
    window_end: datetime
    reminder_at: datetime
    state: VisitState = VisitState.SCHEDULED
    scheduled_at: datetime
    reminded_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    missed_at: datetime | None = None
    report: str | None = None

    @classmethod
    def schedule(
        cls,
        *,
        visit_id: str,
        issue_id: str,
        number: int,
        engineer_id: str,
        engineer_name: str,
        window_start: datetime,
        window_end: datetime,
        reminder_before: timedelta,
        now: datetime,
    ) -> "Visit":
        """A new visit; the reminder goes out `reminder_before` the window (at once when the
        window is nearer than that)."""
        check_window(window_start, window_end, now)
        return cls(
            visit_id=visit_id,
            issue_id=issue_id,
            number=number,
            engineer_id=engineer_id,
            engineer_name=engineer_name,
            window_start=window_start,
            window_end=window_end,
            reminder_at=max(now, window_start - reminder_before),
            scheduled_at=now,
        )

    @property
    def time_on_site(self) -> timedelta | None:
        if self.checked_in_at is None or self.checked_out_at is None:
            return None
        return self.checked_out_at - self.checked_in_at

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_VISIT_STATES

    def _check_engineer(self, kind: ActorKind, actor_id: str, action: str) -> None:
        if kind not in VISIT_ACTORS:
            raise TransitionRefused(f"only the field engineer can {action}")
        if kind == ActorKind.FIELD_ENGINEER and actor_id != self.engineer_id:
            raise TransitionRefused(f"this visit is {self.engineer_name}'s; only they can {action}")

    def check_check_in(self, kind: ActorKind, actor_id: str, now: datetime) -> None:
        self._check_engineer(kind, actor_id, "check in")
        if self.state != VisitState.SCHEDULED:
            raise TransitionRefused(f"cannot check in to a visit that is {self.state.value}")
        if now >= self.window_end:
            raise TransitionRefused(f"the appointment window ended at {self.window_end}")

    def checked_in(self, kind: ActorKind, actor_id: str, now: datetime) -> "Visit":
        self.check_check_in(kind, actor_id, now)
        return self.model_copy(update={"state": VisitState.CHECKED_IN, "checked_in_at": now})

    def check_check_out(self, kind: ActorKind, actor_id: str) -> None:
        self._check_engineer(kind, actor_id, "check out")
        if self.state != VisitState.CHECKED_IN:
            raise TransitionRefused(
                f"cannot check out of a visit that is {self.state.value} (check in first)"
            )

    def checked_out(
        self, kind: ActorKind, actor_id: str, now: datetime, report: str | None = None
    ) -> "Visit":
        self.check_check_out(kind, actor_id)
        return self.model_copy(
            update={"state": VisitState.COMPLETED, "checked_out_at": now, "report": report}
        )

    def reminder_due(self, now: datetime) -> bool:
        return (
            self.state == VisitState.SCHEDULED
            and self.reminded_at is None
            and (self.reminder_at <= now)
        )

    def reminded(self, now: datetime) -> "Visit":
        if not self.reminder_due(now):
            raise TransitionRefused("no reminder is due")
        return self.model_copy(update={"reminded_at": now})

    def missed_by(self, now: datetime) -> bool:
        """The window ended and nobody checked in."""
        return self.state == VisitState.SCHEDULED and now >= self.window_end

    def missed(self, now: datetime) -> "Visit":
        if not self.missed_by(now):
            raise TransitionRefused(
                f"a {self.state.value} visit before its window end is not missed"
            )
        return self.model_copy(update={"state": VisitState.MISSED, "missed_at": now})

    def cancelled(self) -> "Visit":
        """The issue was cancelled: a visit nobody started is called off (one under way
        still ends with the engineer's check-out)."""
        if self.state != VisitState.SCHEDULED:
            raise TransitionRefused(f"a {self.state.value} visit cannot be called off")
        return self.model_copy(update={"state": VisitState.CANCELLED})


class PartStep(_Frozen):
    """A state a part entered, when, and who moved it there."""

    state: PartState
    at: datetime
    actor_name: str


class PartRequest(_Frozen):
    """A spare part requested for an on-site issue, and every state it went through."""

    part_id: str
    issue_id: str
    number: int
    part_number: str
    quantity: int
    warehouse: str
    state: PartState = PartState.REQUESTED
    steps: tuple[PartStep, ...] = ()
    return_reason: str | None = None

    @classmethod
    def request(
        cls,
        *,
        part_id: str,
        issue_id: str,
        number: int,
        part_number: str,
        quantity: int,
        warehouse: str,
        actor_name: str,
        now: datetime,
    ) -> "PartRequest":
        if quantity < 1:
            raise TransitionRefused("the quantity must be at least 1")
        return cls(
            part_id=part_id,
            issue_id=issue_id,
            number=number,
            part_number=part_number,
            quantity=quantity,
            warehouse=warehouse,
            steps=(PartStep(state=PartState.REQUESTED, at=now, actor_name=actor_name),),
        )

    @property
    def requested_at(self) -> datetime:
        return self.steps[0].at

    @property
    def finished(self) -> bool:
        return self.state in FINAL_PART_STATES

    def entered(self, state: PartState) -> datetime | None:
        """When the part last entered `state` (None: never)."""
        return next((s.at for s in reversed(self.steps) if s.state == state), None)

    def check(self, action: PartAction, kind: ActorKind) -> None:
        sources = PART_TRANSITIONS[action][0]
        if kind not in PART_ACTORS[action]:
            allowed = ", ".join(sorted(k.value for k in PART_ACTORS[action]))
            raise TransitionRefused(
                f"a {kind.value} cannot {action.value} a part (allowed: {allowed})"
            )
        if self.state not in sources:
            names = ", ".join(sorted(s.value for s in sources))
            raise TransitionRefused(
                f"cannot {action.value} a part that is {self.state.value} (allowed from: {names})"
            )

    def moved(
        self,
        action: PartAction,
        kind: ActorKind,
        actor_name: str,
        now: datetime,
        reason: str | None = None,
    ) -> "PartRequest":
        self.check(action, kind)
        target = PART_TRANSITIONS[action][1]
        changes: dict[str, object] = {
            "state": target,
            "steps": (*self.steps, PartStep(state=target, at=now, actor_name=actor_name)),
        }
        if action == PartAction.RETURN:
            changes["return_reason"] = reason
        return self.model_copy(update=changes)

    def cancelled(self, now: datetime, actor_name: str) -> "PartRequest":
        """The issue was cancelled: a part still in the warehouse is not sent."""
        if self.state not in CANCELLABLE_PART_STATES:
            raise TransitionRefused(
                f"a {self.state.value} part is on its way: the field engineer returns it"
            )
        step = PartStep(state=PartState.CANCELLED, at=now, actor_name=actor_name)
        return self.model_copy(update={"state": PartState.CANCELLED, "steps": (*self.steps, step)})

    def time_in_states(self, now: datetime) -> dict[PartState, timedelta]:
        """Wall time spent in each state so far (the current one up to `now`)."""
        spent: dict[PartState, timedelta] = {}
        for step, after in zip(self.steps, (*self.steps[1:], None), strict=True):
            until = after.at if after is not None else now
            if self.finished and after is None:
                until = step.at  # a final state does not keep counting
            spent[step.state] = spent.get(step.state, timedelta(0)) + (until - step.at)
        return spent

    def age(self, now: datetime) -> timedelta:
        """Time since requested (until installed or returned, once it is)."""
        end = self.steps[-1].at if self.finished else now
        return end - self.requested_at


# --- what the issue knows ----------------------------------------------------------------


class VisitSummary(_Frozen):
    """A visit as the issue tracks it; `seq` is the last step of the visit it recorded."""

    visit_id: str
    number: int
    state: VisitState
    engineer_id: str
    engineer_name: str
    window_start: datetime
    window_end: datetime
    seq: int = 0


class PartSummary(_Frozen):
    part_id: str
    number: int
    part_number: str
    quantity: int
    state: PartState
    seq: int = 0


class OnsiteSummary(_Frozen):
    """The issue's visits and parts; `redispatch_needed` after a missed visit, until the
    next one is dispatched."""

    visits: tuple[VisitSummary, ...] = ()
    parts: tuple[PartSummary, ...] = ()
    redispatch_needed: bool = False

    @property
    def active_visit(self) -> VisitSummary | None:
        return next((v for v in self.visits if v.state in ACTIVE_VISIT_STATES), None)

    @property
    def waiting_for_parts(self) -> bool:
        return any(p.state in PARTS_IN_TRANSIT for p in self.parts)

    @property
    def next_visit_number(self) -> int:
        return len(self.visits) + 1

    @property
    def next_part_number(self) -> int:
        return len(self.parts) + 1

    def last_seq(self, child_id: str) -> int | None:
        """The last recorded step of a visit or part; None when the issue does not know it."""
        for visit in self.visits:
            if visit.visit_id == child_id:
                return visit.seq
        for part in self.parts:
            if part.part_id == child_id:
                return part.seq
        return None

    def with_visit(self, visit: VisitSummary) -> "OnsiteSummary":
        """Add or replace the visit (by id); a new visit clears the re-dispatch flag."""
        known = any(v.visit_id == visit.visit_id for v in self.visits)
        visits = (
            tuple(visit if v.visit_id == visit.visit_id else v for v in self.visits)
            if known
            else (*self.visits, visit)
        )
        redispatch = self.redispatch_needed and known
        if visit.state == VisitState.MISSED:
            redispatch = True
        return self.model_copy(update={"visits": visits, "redispatch_needed": redispatch})

    def with_part(self, part: PartSummary) -> "OnsiteSummary":
        known = any(p.part_id == part.part_id for p in self.parts)
        parts = (
            tuple(part if p.part_id == part.part_id else p for p in self.parts)
            if known
            else (*self.parts, part)
        )
        return self.model_copy(update={"parts": parts})


def visit_workflow_id(issue_id: str, number: int) -> str:
    """Derived from the issue and the visit's number: a retried dispatch never starts two."""
    return f"visit-{issue_id}-{number}"


def part_workflow_id(issue_id: str, number: int) -> str:
    return f"part-{issue_id}-{number}"
