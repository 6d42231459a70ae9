"""Which SLA clocks an issue runs, and how they follow its state: pure rules the workflow obeys.

An issue carries a snapshot of the policy it was promised (`IssueSla.policy`) and its clocks:
first response, resolution, and one budget clock per tier that held the issue. After every
step the lifecycle asks `follow` to put each clock in the mode the issue's state calls for
(running, paused, stopped); `fire_due` then says which warnings and breaches are due. The
policy snapshot changes only through `reapply` (an admin re-apply, a severity change), which
recounts every clock from its recorded running spans rather than starting over.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, IssueState, Severity, SlaClockKind, Tier
from domain.sla import (
    BREACH,
    BreachAction,
    ClockMode,
    ClockView,
    ResolvedPolicy,
    SlaClock,
    SlaPolicy,
)

TIER_CLOCKS: dict[Tier, SlaClockKind] = {
    Tier.FRONTLINE: SlaClockKind.TIER_1,
    Tier.EXPERT: SlaClockKind.TIER_2,
    Tier.RND: SlaClockKind.TIER_3,
}
# The customer's promise; the tier clocks are internal OLAs that only staff see.
PROMISE_CLOCKS = frozenset({SlaClockKind.FIRST_RESPONSE, SlaClockKind.RESOLUTION})
# States in which the promise is (for now) kept: every clock stops.
STOPPED_STATES = frozenset(
    {
        IssueState.RESOLVED,
        IssueState.AWAITING_CONFIRMATION,
        IssueState.CLOSED,
        IssueState.CANCELLED,
    }
)


def fallback_policy(
    severity: Severity, first_response: timedelta, resolution: timedelta
) -> ResolvedPolicy:
    """What an issue gets when no policy covers its contract level and severity (no contract,
    or a gap the admin has not filled): the configured default targets, around the clock,
    managers told of a breach. Version 0 marks it as not coming from the policy tables."""
    policy = SlaPolicy(
        contract_level=ContractLevel.BASIC,
        severity=severity,
        first_response=first_response,
        resolution=resolution,
        calendar="24x7",
        breach_actions=(BreachAction.NOTIFY_MANAGER,),
    )
    return ResolvedPolicy(policy=policy, calendar=BusinessCalendar.always(), version=0)


class ClockTransition(BaseModel):
    """A clock changed mode; recorded on the timeline as SLA history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: SlaClockKind
    change: str  # started, paused, resumed, stopped, reopened


class IssueSla(BaseModel):
    """The policy snapshot an issue was promised and its clocks; travels with the workflow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: ResolvedPolicy
    fallback: bool = False
    clocks: tuple[SlaClock, ...] = ()

    @property
    def calendar(self) -> BusinessCalendar:
        return self.policy.calendar

    def clock(self, kind: SlaClockKind) -> SlaClock | None:
        return next((c for c in self.clocks if c.name == kind.value), None)

    def _with(self, clock: SlaClock) -> "IssueSla":
        """Replace the clock of that name in place, or add it (clocks keep their order)."""
        if self.clock(SlaClockKind(clock.name)) is None:
            return self.model_copy(update={"clocks": (*self.clocks, clock)})
        clocks = tuple(clock if c.name == clock.name else c for c in self.clocks)
        return self.model_copy(update={"clocks": clocks})

    # --- what the read model, the search attributes and the API show -------------------------
    #
    # breached / at_risk / paused / next_breach_at describe the customer's promise (first
    # response and resolution): customers see them. The tier budgets (OLAs) are internal:
    # `next_ola_breach_at` is for staff views, and each tier clock is in `clocks`.

    def _promise(self) -> list[SlaClock]:
        return [c for c in self.clocks if SlaClockKind(c.name) in PROMISE_CLOCKS]

    def _tiers(self) -> list[SlaClock]:
        return [c for c in self.clocks if SlaClockKind(c.name) not in PROMISE_CLOCKS]

    def next_to_breach(self, *, promise_only: bool) -> SlaClock | None:
        """The counting clock that breaches first if nothing changes: among the promise's
        (what a customer may see) or among all, tier budgets included (staff)."""
        clocks = self._promise() if promise_only else list(self.clocks)
        return self._soonest(clocks)

    def _soonest(self, clocks: list[SlaClock]) -> SlaClock | None:
        due = [
            (at, c)
            for c in clocks
            if not c.breached and (at := c.deadline(self.calendar)) is not None
        ]
        return min(due, key=lambda pair: pair[0])[1] if due else None

    def _deadline_of(self, clock: SlaClock | None) -> datetime | None:
        return clock.deadline(self.calendar) if clock else None

    @property
    def next_breach_at(self) -> datetime | None:
        """When the promise breaches next if nothing changes (None while nothing counts down)."""
        return self._deadline_of(self._soonest(self._promise()))

    @property
    def next_ola_breach_at(self) -> datetime | None:
        """When the current tier's budget runs out if nothing changes (staff only)."""
        return self._deadline_of(self._soonest(self._tiers()))

    @property
    def next_checkpoint(self) -> datetime | None:
        """The earliest warning, budget end or breach still to fire: the workflow's next wake-up."""
        due = [
            point[0] for c in self.clocks if (point := c.next_checkpoint(self.calendar)) is not None
        ]
        return min(due) if due else None

    @property
    def breached(self) -> bool:
        return any(c.breached for c in self._promise())

    @property
    def paused(self) -> bool:
        return any(c.paused and not c.stopped for c in self._promise())

    @property
    def at_risk(self) -> bool:
        """A promise clock still counting passed a warning and has not breached."""
        return any(c.warned and not c.breached and not c.stopped for c in self._promise())

    def views(self, now: datetime) -> tuple[ClockView, ...]:
        order = list(SlaClockKind)
        clocks = sorted(self.clocks, key=lambda c: order.index(SlaClockKind(c.name)))
        return tuple(c.view(self.calendar, now) for c in clocks)

    # --- rules ----------------------------------------------------------------------------------

    @classmethod
    def begin(
        cls, policy: ResolvedPolicy, reported_at: datetime, fallback: bool = False
    ) -> "IssueSla":
        """First response and resolution count from the moment the customer reported."""
        warnings = policy.policy.warnings
        return cls(
            policy=policy,
            fallback=fallback,
            clocks=(
                SlaClock.start(
                    SlaClockKind.FIRST_RESPONSE.value,
                    policy.policy.first_response,
                    reported_at,
                    warnings,
                ),
                SlaClock.start(
                    SlaClockKind.RESOLUTION.value, policy.policy.resolution, reported_at, warnings
                ),
            ),
        )

    def follow(
        self,
        state: IssueState,
        tier: Tier,
        responded: bool,
        now: datetime,
        waiting_for_parts: bool = False,
    ) -> tuple["IssueSla", list[ClockTransition]]:
        """Put every clock in the mode the issue's state asks for; say what changed."""
        wanted = self._modes(state, tier, responded, waiting_for_parts)
        sla, changes = self, list[ClockTransition]()
        for kind, mode in wanted.items():
            clock = sla.clock(kind)
            if clock is None:
                if mode is None or mode == ClockMode.STOPPED:
                    continue
                clock = self._start(kind, now)
                changes.append(ClockTransition(clock=kind, change="started"))
            moved, change = _move(clock, mode, sla.calendar, now)
            if change:
                changes.append(ClockTransition(clock=kind, change=change))
            sla = sla._with(moved)
        return sla, changes

    def _modes(
        self, state: IssueState, tier: Tier, responded: bool, waiting_for_parts: bool = False
    ) -> dict[SlaClockKind, ClockMode | None]:
        """None: leave as is (a clock not yet started stays absent)."""
        if state == IssueState.NEW:
            return {}
        if state in STOPPED_STATES:
            return {kind: ClockMode.STOPPED for kind in SlaClockKind}
        waiting = state == IssueState.WAITING_CUSTOMER
        with_rnd = (
            state == IssueState.ESCALATED
            and tier == Tier.RND
            and self.policy.policy.pause_while_waiting_for_rnd
        )
        # A spare part on its way (on-site issues), when the policy says the customer's
        # resolution clock should not count the shipping: only resolution pauses.
        with_parts = waiting_for_parts and self.policy.policy.pause_for_parts
        pause_or_run = ClockMode.PAUSED if waiting else ClockMode.RUNNING
        modes: dict[SlaClockKind, ClockMode | None] = {
            # Every state that stops the clocks comes after a response (a proposed resolution
            # counts as one), so a stopped first-response clock never runs again.
            SlaClockKind.FIRST_RESPONSE: ClockMode.STOPPED if responded else pause_or_run,
            SlaClockKind.RESOLUTION: (
                ClockMode.PAUSED if waiting or with_rnd or with_parts else ClockMode.RUNNING
            ),
        }
        for each, kind in TIER_CLOCKS.items():
            modes[kind] = pause_or_run if each == tier else ClockMode.STOPPED
        return modes

    def _start(self, kind: SlaClockKind, now: datetime) -> SlaClock:
        target, thresholds = self._target(kind)
        clock = SlaClock.start(kind.value, target, now)
        return clock.model_copy(update={"thresholds": thresholds})

    def _target(self, kind: SlaClockKind) -> tuple[timedelta, tuple[int, ...]]:
        """The clock's target and thresholds under the current policy; a tier without a budget
        of its own gets a measuring clock (no thresholds) so its time still shows."""
        policy = self.policy.policy
        thresholds = (*policy.warnings, BREACH)
        if kind == SlaClockKind.FIRST_RESPONSE:
            return policy.first_response, thresholds
        if kind == SlaClockKind.RESOLUTION:
            return policy.resolution, thresholds
        tier = next(t for t, k in TIER_CLOCKS.items() if k == kind)
        budget = policy.budget_for(tier)
        return (budget, thresholds) if budget is not None else (policy.resolution, ())

    def fire_due(self, now: datetime) -> tuple["IssueSla", list[tuple[SlaClockKind, int]]]:
        """Thresholds reached by `now` that have not fired this cycle, each exactly once."""
        sla, fired = self, list[tuple[SlaClockKind, int]]()
        for clock in self.clocks:
            moved, due = clock.fire_due(self.calendar, now)
            if moved is not clock:
                sla = sla._with(moved)
                fired.extend((SlaClockKind(clock.name), percent) for percent in due)
        return sla, fired

    def reopened(self, now: datetime) -> "IssueSla":
        """A closed issue reopened: resolution and the tier budgets start a new cycle (every
        threshold may fire once more); first response was given and stays given."""
        clocks = tuple(
            c if c.name == SlaClockKind.FIRST_RESPONSE.value else _restarted(c, now)
            for c in self.clocks
        )
        return self.model_copy(update={"clocks": clocks})

    def reapply(self, policy: ResolvedPolicy, fallback: bool) -> "IssueSla":
        """Measure the issue's recorded history against another policy snapshot."""
        sla = self.model_copy(update={"policy": policy, "fallback": fallback})
        clocks = []
        for clock in self.clocks:
            target, thresholds = sla._target(SlaClockKind(clock.name))
            clocks.append(clock.retarget(policy.calendar, target, thresholds))
        return sla.model_copy(update={"clocks": tuple(clocks)})


def _restarted(clock: SlaClock, now: datetime) -> SlaClock:
    """A new cycle that then waits for `follow` to run or stop it (only one tier runs)."""
    return clock.new_cycle(now).model_copy(update={"running_since": None, "stopped_at": now})


def _move(
    clock: SlaClock, mode: ClockMode | None, calendar: BusinessCalendar, now: datetime
) -> tuple[SlaClock, str | None]:
    if mode is None:
        return clock, None
    if mode == ClockMode.STOPPED:
        return (clock, None) if clock.stopped else (clock.stop(calendar, now), "stopped")
    if clock.stopped:
        clock = clock.reopen(now)
        return (
            (clock.pause(calendar, now), "reopened")
            if mode == ClockMode.PAUSED
            else (
                clock,
                "reopened",
            )
        )
    if mode == ClockMode.PAUSED:
        return (clock, None) if clock.paused else (clock.pause(calendar, now), "paused")
    return (clock, None) if clock.running else (clock.resume(now), "resumed")
