"""SLA clocks on business time: exact instants, pauses accounted, thresholds once per cycle."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Severity, Tier
from domain.sla import BREACH, SlaClock, SlaPolicy, TierBudget

ALWAYS = BusinessCalendar.always()
OFFICE = BusinessCalendar.uniform(
    name="office", timezone="Europe/Berlin", intervals=[(time(9), time(17))]
)
MONDAY_9 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)


def test_a_clock_in_business_hours_skips_the_night_and_the_weekend() -> None:
    friday_16 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday 16:00 Berlin
    clock = SlaClock.start("resolution", timedelta(hours=4), friday_16)
    # 1 h on Friday, 3 h on Monday from 09:00 -> Monday 12:00 Berlin = 11:00 UTC
    assert clock.deadline(OFFICE) == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    assert clock.instant_of(OFFICE, 50) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_warnings_then_the_breach_fire_in_order_and_each_only_once() -> None:
    clock = SlaClock.start("first_response", timedelta(hours=1), MONDAY_9)
    assert clock.next_checkpoint(ALWAYS) == (MONDAY_9 + timedelta(minutes=30), 50)
    clock, fired = clock.fire_due(ALWAYS, MONDAY_9 + timedelta(minutes=46))
    assert fired == [50, 75]
    clock, fired = clock.fire_due(ALWAYS, MONDAY_9 + timedelta(minutes=47))
    assert fired == []
    assert clock.next_checkpoint(ALWAYS) == (MONDAY_9 + timedelta(minutes=54), 90)
    clock, fired = clock.fire_due(ALWAYS, MONDAY_9 + timedelta(hours=5))
    assert fired == [90, BREACH]
    assert clock.breached
    assert clock.next_checkpoint(ALWAYS) is None
    assert clock.fire_due(ALWAYS, MONDAY_9 + timedelta(days=5))[1] == []


def test_paused_time_is_accounted_and_never_counted() -> None:
    clock = SlaClock.start("resolution", timedelta(hours=2), MONDAY_9)
    clock = clock.pause(ALWAYS, MONDAY_9 + timedelta(minutes=30))
    assert clock.elapsed(ALWAYS, MONDAY_9 + timedelta(days=3)) == timedelta(minutes=30)
    assert clock.next_checkpoint(ALWAYS) is None  # nothing fires while waiting
    resumed_at = MONDAY_9 + timedelta(hours=10)
    clock = clock.resume(resumed_at)
    assert clock.paused_total == timedelta(hours=9, minutes=30)
    assert clock.deadline(ALWAYS) == resumed_at + timedelta(hours=1, minutes=30)


def test_a_stopped_clock_resumes_in_the_same_cycle_and_a_new_cycle_starts_over() -> None:
    clock = SlaClock.start("resolution", timedelta(hours=2), MONDAY_9)
    clock, _ = clock.fire_due(ALWAYS, MONDAY_9 + timedelta(hours=1, minutes=1))  # 50 %
    clock = clock.stop(ALWAYS, MONDAY_9 + timedelta(hours=1, minutes=10))
    assert clock.deadline(ALWAYS) is None
    clock = clock.reopen(MONDAY_9 + timedelta(hours=3))
    assert clock.fired == (50,)
    assert clock.deadline(ALWAYS) == MONDAY_9 + timedelta(hours=3, minutes=50)
    fresh = clock.new_cycle(MONDAY_9 + timedelta(days=1))
    assert fresh.cycle == 2 and fresh.fired == () and fresh.consumed == timedelta(0)


def test_policies_refuse_budgets_over_the_target_and_bad_warnings() -> None:
    base = {
        "contract_level": ContractLevel.PREMIUM,
        "severity": Severity.CRITICAL,
        "first_response": timedelta(hours=1),
        "resolution": timedelta(hours=10),
    }
    policy = SlaPolicy(
        **base,
        tier_budgets={Tier.FRONTLINE: TierBudget(share=0.3), Tier.EXPERT: TierBudget(share=0.5)},
    )
    assert policy.budget_for(Tier.FRONTLINE) == timedelta(hours=3)
    assert policy.budget_for(Tier.RND) is None
    with pytest.raises(ValidationError, match="over 100 %"):
        SlaPolicy(
            **base,
            tier_budgets={
                Tier.FRONTLINE: TierBudget(share=0.6),
                Tier.EXPERT: TierBudget(share=0.5),
            },
        )
    with pytest.raises(ValidationError, match="warnings"):
        SlaPolicy(**base, warnings=(50, 120))
    with pytest.raises(ValidationError, match="either share or duration"):
        TierBudget()


starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=20))


@settings(max_examples=150, deadline=None)
@given(start=starts, target=durations, pause_after=durations, pause_for=durations)
def test_elapsed_business_time_at_the_deadline_equals_the_target_despite_a_pause(
    start: datetime, target: timedelta, pause_after: timedelta, pause_for: timedelta
) -> None:
    clock = SlaClock.start("resolution", target, start)
    paused_at = OFFICE.add_business_time(start, min(pause_after, target / 2))
    clock = clock.pause(OFFICE, paused_at).resume(paused_at + pause_for)
    deadline = clock.deadline(OFFICE)
    assert deadline is not None
    assert clock.elapsed(OFFICE, deadline) == target
    assert clock.remaining(OFFICE, deadline) == timedelta(0)
    assert deadline >= start + target  # business time never runs faster than wall time


@settings(max_examples=150, deadline=None)
@given(start=starts, target=durations, probes=st.lists(durations, min_size=1, max_size=6))
def test_every_threshold_fires_exactly_once_whatever_the_wakeups(
    start: datetime, target: timedelta, probes: list[timedelta]
) -> None:
    clock = SlaClock.start("resolution", target, start)
    fired: list[int] = []
    for probe in sorted(probes):
        clock, now_fired = clock.fire_due(OFFICE, start + probe)
        fired += now_fired
    clock, rest = clock.fire_due(OFFICE, datetime(2030, 1, 1, tzinfo=UTC))
    assert fired + rest == [50, 75, 90, BREACH]
