"""SLA policies and clocks on business time: pure arithmetic the workflow's timers follow.

A clock counts business time (in its calendar) toward a target. It can be paused (the
issue waits for the customer) and resumed, and stopped (the promise was met). Paused time
is accounted, never lost. Each threshold (the warnings, then 100 % = breach) fires once
per cycle; a new cycle (e.g. after a reopen) starts from zero. Nothing here reads the
clock: `now` is always an argument, so the workflow can call it deterministically and
the tests can state exact instants.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Severity, SlaClockKind, Tier

BREACH = 100
DEFAULT_WARNINGS = (50, 75, 90)


class BreachAction(StrEnum):
    """What happens when a clock breaches (the policy lists any of these)."""

    NOTIFY_OWNER = "notify_owner"
    NOTIFY_MANAGER = "notify_manager"
    ESCALATE = "escalate"
    RAISE_PRIORITY = "raise_priority"


class TierBudget(BaseModel):
    """A tier's share of the resolution target, as a fraction or as a fixed duration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    share: float | None = Field(default=None, gt=0, le=1)
    duration: timedelta | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.share is None) == (self.duration is None):
            raise ValueError("give either share or duration")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        return self

    def of(self, resolution: timedelta) -> timedelta:
        if self.duration is not None:
            return self.duration
        assert self.share is not None
        return resolution * self.share


class SlaPolicy(BaseModel):
    """Targets for one contract level and severity, the calendar they count in, and reactions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contract_level: ContractLevel
    severity: Severity
    first_response: timedelta
    resolution: timedelta
    calendar: str = "24x7"
    tier_budgets: dict[Tier, TierBudget] = Field(default_factory=dict)
    warnings: tuple[int, ...] = DEFAULT_WARNINGS
    breach_actions: tuple[BreachAction, ...] = (BreachAction.NOTIFY_MANAGER,)
    pause_while_waiting_for_rnd: bool = False
    # On-site issues: the resolution clock pauses while a spare part is on its way.
    pause_for_parts: bool = False

    @field_validator("first_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("warnings")
    @classmethod
    def _percentages(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < w < BREACH for w in value):
            raise ValueError("warnings are percentages between 1 and 99")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _budgets_fit(self) -> Self:
        shares = sum(b.share for b in self.tier_budgets.values() if b.share is not None)
        if shares > 1 + 1e-9:
            raise ValueError(f"tier_budgets: shares add up to {shares:.0%}, over 100 %")
        total = sum((b.of(self.resolution) for b in self.tier_budgets.values()), timedelta())
        if total > self.resolution:
            raise ValueError("tier_budgets: budgets add up to more than the resolution target")
        return self

    def budget_for(self, tier: Tier) -> timedelta | None:
        """The tier's OLA, or None when the policy gives that tier no budget of its own."""
        budget = self.tier_budgets.get(tier)
        return budget.of(self.resolution) if budget else None


class SlaClock(BaseModel):
    """One running, paused or stopped clock; immutable, every change returns a new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    target: timedelta
    thresholds: tuple[int, ...] = (*DEFAULT_WARNINGS, BREACH)
    cycle: int = 1
    consumed: timedelta = timedelta(0)
    running_since: datetime | None = None
    paused_since: datetime | None = None
    paused_total: timedelta = timedelta(0)
    stopped_at: datetime | None = None
    fired: tuple[int, ...] = ()
    # The instant the target was reached, kept once breached: after a pause or a new
    # target, recomputing it from the current span would give the wrong instant.
    breached_due_at: datetime | None = None
    # The running spans of this cycle that have ended: the recorded history a re-applied
    # policy (another calendar) recounts `consumed` from, instead of starting over.
    segments: tuple[tuple[datetime, datetime], ...] = ()

    @classmethod
    def start(
        cls,
        name: str,
        target: timedelta,
        at: datetime,
        warnings: tuple[int, ...] = DEFAULT_WARNINGS,
    ) -> Self:
        return cls(
            name=name, target=target, thresholds=(*sorted(set(warnings)), BREACH), running_since=at
        )

    @property
    def running(self) -> bool:
        return self.running_since is not None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    @property
    def breached(self) -> bool:
        return BREACH in self.fired

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    @property
    def budgeted(self) -> bool:
        """False for a clock that only measures (a tier the policy gives no budget of its own)."""
        return BREACH in self.thresholds

    @property
    def warned(self) -> bool:
        """A warning fired this cycle: the clock is at risk (breached is a separate state)."""
        return any(p < BREACH for p in self.fired)

    def elapsed(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Business time counted so far (paused and stopped time excluded)."""
        if self.running_since is None:
            return self.consumed
        return self.consumed + calendar.business_time_between(self.running_since, now)

    def remaining(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        return max(self.target - self.elapsed(calendar, now), timedelta(0))

    def paused_for(self, now: datetime) -> timedelta:
        """Wall time spent paused, including a pause still in progress."""
        current = now - self.paused_since if self.paused_since is not None else timedelta(0)
        return self.paused_total + current

    def instant_of(self, calendar: BusinessCalendar, percent: int) -> datetime | None:
        """When `percent` of the target is reached if the clock keeps running (None if not)."""
        if self.running_since is None:
            return None
        needed = (self.target * percent) / 100 - self.consumed
        if needed <= timedelta(0):
            return self.running_since
        return calendar.add_business_time(self.running_since, needed)

    def deadline(self, calendar: BusinessCalendar) -> datetime | None:
        """When the clock breaches if it keeps running (or when it did breach); None if
        paused, stopped or unbudgeted before a breach."""
        if self.breached_due_at is not None:
            return self.breached_due_at
        return self.instant_of(calendar, BREACH) if self.budgeted else None

    def next_checkpoint(self, calendar: BusinessCalendar) -> tuple[datetime, int] | None:
        """The next threshold still to fire and its instant; the workflow sleeps until it."""
        for percent in self.thresholds:
            if percent in self.fired or (self.breached and percent < BREACH):
                continue
            at = self.instant_of(calendar, percent)
            return None if at is None else (at, percent)
        return None

    def fire_due(self, calendar: BusinessCalendar, now: datetime) -> tuple[Self, list[int]]:
        """Thresholds reached by `now` that have not fired this cycle, in order; marks them."""
        due: list[int] = []
        breached_at = self.breached_due_at
        moot: list[int] = []
        for percent in self.thresholds:
            if percent in self.fired:
                continue
            if self.breached and percent < BREACH:
                # A warning added by a new policy after the breach warns of nothing.
                moot.append(percent)
                continue
            at = self.instant_of(calendar, percent)
            if at is None or at > now:
                break
            due.append(percent)
            if percent == BREACH:
                breached_at = at
        if not due and not moot:
            return self, []
        fired = self.model_copy(
            update={"fired": (*self.fired, *moot, *due), "breached_due_at": breached_at}
        )
        return fired, due

    def pause(self, calendar: BusinessCalendar, now: datetime) -> Self:
        """Stop counting (waiting for the customer); the time so far is kept."""
        if self.running_since is None:
            return self
        return self.model_copy(
            update={
                "consumed": self.elapsed(calendar, now),
                "running_since": None,
                "paused_since": now,
                "segments": (*self.segments, (self.running_since, now)),
            }
        )

    def resume(self, now: datetime) -> Self:
        """Count again from `now`; the pause is added to the paused total."""
        if self.running_since is not None or self.stopped_at is not None:
            return self
        paused = now - self.paused_since if self.paused_since is not None else timedelta(0)
        return self.model_copy(
            update={
                "running_since": now,
                "paused_since": None,
                "paused_total": self.paused_total + paused,
            }
        )

    def stop(self, calendar: BusinessCalendar, now: datetime) -> Self:
        """The promise was kept (or the clock no longer applies): freeze it."""
        if self.stopped_at is not None:
            return self
        counted = self.pause(calendar, now)
        return counted.model_copy(
            update={
                "stopped_at": now,
                "paused_since": None,
                "paused_total": self.paused_for(now),
            }
        )

    def reopen(self, now: datetime) -> Self:
        """Continue a stopped clock (a rejected resolution): same cycle, nothing fires twice."""
        if self.stopped_at is None:
            return self
        return self.model_copy(update={"stopped_at": None, "running_since": now})

    def new_cycle(self, now: datetime, target: timedelta | None = None) -> Self:
        """Start over from zero (a reopened issue): every threshold may fire again once."""
        return self.model_copy(
            update={
                "cycle": self.cycle + 1,
                "target": target or self.target,
                "consumed": timedelta(0),
                "running_since": now,
                "paused_since": None,
                "paused_total": timedelta(0),
                "stopped_at": None,
                "fired": (),
                "segments": (),
                "breached_due_at": None,
            }
        )

    def retarget(
        self, calendar: BusinessCalendar, target: timedelta, thresholds: tuple[int, ...]
    ) -> Self:
        """The same history measured against another policy: the business time already
        counted is recomputed from the recorded spans in `calendar`, the target and the
        thresholds replaced. What fired this cycle stays fired (nothing fires twice); a
        threshold the new target puts in the past fires at the next check."""
        consumed = sum(
            (calendar.business_time_between(start, end) for start, end in self.segments),
            timedelta(),
        )
        return self.model_copy(
            update={"target": target, "thresholds": thresholds, "consumed": consumed}
        )

    def view(self, calendar: BusinessCalendar, now: datetime) -> "ClockView":
        """Elapsed, remaining and paused time at `now`, for people (query, API, read model)."""
        upcoming = self.next_checkpoint(calendar)
        if self.stopped:
            mode = ClockMode.STOPPED
        elif self.paused:
            mode = ClockMode.PAUSED
        else:
            mode = ClockMode.RUNNING
        return ClockView(
            clock=SlaClockKind(self.name),
            mode=mode,
            cycle=self.cycle,
            target=self.target if self.budgeted else None,
            elapsed=self.elapsed(calendar, now),
            remaining=self.remaining(calendar, now) if self.budgeted else None,
            paused=self.paused_for(now),
            deadline=self.deadline(calendar),
            next_threshold=upcoming[1] if upcoming else None,
            next_threshold_at=upcoming[0] if upcoming else None,
            warnings_fired=tuple(p for p in self.fired if p < BREACH),
            breached=self.breached,
            stopped_at=self.stopped_at,
        )


class ClockMode(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ClockView(BaseModel):
    """One clock as people see it (workflow query, API), computed as of an instant, never
    stored as truth. Durations are business time, except `paused`, which is wall time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: SlaClockKind
    mode: ClockMode
    cycle: int
    target: timedelta | None = Field(description="None: the clock measures, it has no budget")
    elapsed: timedelta
    remaining: timedelta | None
    paused: timedelta
    deadline: datetime | None = Field(description="when it breaches if it keeps running")
    next_threshold: int | None = Field(description="the next percentage that fires")
    next_threshold_at: datetime | None
    warnings_fired: tuple[int, ...]
    breached: bool
    stopped_at: datetime | None


class SeverityTargets(BaseModel):
    """A contract's own targets for one severity; a missing target keeps the policy's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_response: timedelta | None = None
    resolution: timedelta | None = None

    @field_validator("first_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be positive")
        return value


class SlaOverrides(BaseModel):
    """The shape of `contracts.sla_overrides`: a partial policy, targets per severity.

    Contracts negotiate faster (or slower) targets, never a different calendar or tier
    split, so only the two targets can be overridden; anything else is refused rather
    than silently ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: dict[Severity, SeverityTargets] = Field(default_factory=dict)

    def apply(self, policy: SlaPolicy) -> SlaPolicy:
        """The policy with this contract's targets; re-validated, so budgets must still fit."""
        own = self.targets.get(policy.severity)
        if own is None:
            return policy
        changes = own.model_dump(exclude_none=True)
        if not changes:
            return policy
        return SlaPolicy.model_validate({**policy.model_dump(), **changes})


class ResolvedPolicy(BaseModel):
    """What an issue is promised: the policy after contract overrides, with its calendar.

    Snapshotted at intake so later edits of the policy tables never move a running clock;
    `version` says which edit of the policy it was taken from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: SlaPolicy
    calendar: BusinessCalendar
    version: int
