"""Laws and examples for the business-calendar arithmetic behind SLA deadlines."""

import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from domain.calendar import (
    MIDNIGHT,
    BusinessCalendar,
    MakeUpDay,
    NoWorkingTimeError,
    WorkingInterval,
)

BERLIN = ZoneInfo("Europe/Berlin")
TIMEZONES = ("Europe/Berlin", "America/New_York", "Asia/Shanghai", "UTC")
MICROSECOND = timedelta(microseconds=1)
LAWS = settings(max_examples=200, deadline=None)

OFFICE = BusinessCalendar.uniform(
    name="office", timezone="Europe/Berlin", intervals=[("09:00", "18:00")]
)
NIGHT_SHIFT = BusinessCalendar.model_validate(
    {
        "name": "night shift",
        "timezone": "Europe/Berlin",
        "weekly": [[]] * 5 + [[("22:00", "00:00")], [("00:00", "06:00")]],
    }
)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    """A Berlin wall-clock time as a UTC instant; fold=1 picks the second of a repeated hour.

    UTC because Python never calls an instant inside a DST fold equal to one in another
    zone, and the calendar answers in UTC.
    """
    local = datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)
    return local.astimezone(UTC)


def changed(calendar: BusinessCalendar, **fields: object) -> BusinessCalendar:
    """A validated variant of a calendar; `model_copy(update=...)` would skip validation."""
    return BusinessCalendar.model_validate({**calendar.model_dump(), **fields})


# --- strategies ------------------------------------------------------------------------

DST_CHANGES = (
    datetime(2024, 3, 10, 7, tzinfo=UTC),  # New York springs forward
    datetime(2024, 3, 31, 1, tzinfo=UTC),  # Berlin springs forward
    datetime(2024, 10, 27, 1, tzinfo=UTC),  # Berlin falls back
    datetime(2024, 11, 3, 6, tzinfo=UTC),  # New York falls back
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC),
)

instants = st.one_of(
    st.builds(
        lambda change, shift: change + shift,
        st.sampled_from(DST_CHANGES),
        st.timedeltas(min_value=timedelta(days=-4), max_value=timedelta(days=2)),
    ),
    st.datetimes(
        min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
)
starts = st.builds(
    lambda instant, zone: instant.astimezone(ZoneInfo(zone)),
    instants,
    st.sampled_from((*TIMEZONES, "Asia/Kolkata")),
)
"""Instants near DST changes or anywhere, written in some zone (the answer must not care).

Test-side arithmetic converts them to UTC first: Python adds to a zoned datetime on the
wall clock, and never calls an instant inside a DST fold equal to one in another zone.
"""

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=80))
calendar_days = st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 6, 30))


def quarter_hour(index: int) -> time:
    """The index-th quarter hour of a day as a wall-clock time, 96 being closing midnight."""
    return MIDNIGHT if index == 96 else time(index // 4, 15 * (index % 4))


@st.composite
def day_schedules(draw: st.DrawFn) -> list[WorkingInterval]:
    """Up to three disjoint intervals on a quarter-hour grid, possibly midnight to midnight."""
    count = draw(st.integers(min_value=0, max_value=3))
    points = sorted(draw(st.sets(st.integers(0, 96), min_size=2 * count, max_size=2 * count)))
    return [
        WorkingInterval(start=quarter_hour(a), end=quarter_hour(b))
        for a, b in zip(points[::2], points[1::2], strict=True)
    ]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Random weekly hours, holidays and make-up days in a DST-observing or fixed zone."""
    weekly = draw(st.lists(day_schedules(), min_size=7, max_size=7).filter(any))
    special = draw(st.lists(calendar_days, unique=True, max_size=24))
    split = draw(st.integers(min_value=0, max_value=len(special)))
    makeup_days = [
        MakeUpDay(day=day, intervals=draw(st.none() | day_schedules().filter(bool)))
        for day in special[split:]
    ]
    return BusinessCalendar.model_validate(
        {
            "name": "generated",
            "timezone": draw(st.sampled_from(TIMEZONES)),
            "weekly": weekly,
            "holidays": special[:split],
            "makeup_days": makeup_days,
        }
    )


# --- laws ------------------------------------------------------------------------------


@LAWS
@given(calendars(), starts, durations, durations)
def test_law_1_monotonic(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    """a <= b implies add(s, a) <= add(s, b)."""
    shorter, longer = sorted((a, b))
    assert calendar.add_business_time(start, shorter) <= calendar.add_business_time(start, longer)


@LAWS
@given(calendars(), starts, durations, durations)
def test_law_2_additive(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    """add(add(s, a), b) == add(s, a + b), to the microsecond."""
    in_two_steps = calendar.add_business_time(calendar.add_business_time(start, a), b)
    assert in_two_steps == calendar.add_business_time(start, a + b)


@LAWS
@given(calendars(), starts, durations)
def test_law_3_business_time_up_to_the_deadline_is_the_duration_added(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    """between(s, add(s, d)) == d, and the deadline is never before the start."""
    deadline = calendar.add_business_time(start, duration)
    assert deadline >= start
    assert calendar.business_time_between(start, deadline) == duration


@LAWS
@given(calendars(), starts, durations.filter(bool))
def test_law_4_a_deadline_is_working_time_or_exactly_an_interval_end(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    """For d > 0, add(s, d) is working time, or the microsecond before it is (an end)."""
    deadline = calendar.add_business_time(start, duration)
    ends_an_interval = calendar.is_working_time(deadline - MICROSECOND)
    assert calendar.is_working_time(deadline) or ends_an_interval


@LAWS
@given(st.sampled_from(TIMEZONES), starts, durations, durations)
def test_law_5_the_24x7_calendar_is_plain_time_arithmetic(
    timezone: str, start: datetime, duration: timedelta, later: timedelta
) -> None:
    """In every zone, even across DST changes, business time is elapsed time."""
    always = BusinessCalendar.always(timezone=timezone)
    elapsed_from = start.astimezone(UTC)
    assert always.add_business_time(start, duration) == elapsed_from + duration
    assert always.business_time_between(start, elapsed_from + later) == later
    assert always.is_working_time(start)
    assert always.next_working_instant(start) == elapsed_from


@LAWS
@given(calendars(), starts)
def test_working_time_agrees_with_business_time_and_the_next_working_instant(
    calendar: BusinessCalendar, instant: datetime
) -> None:
    """is_working_time, business_time_between and next_working_instant tell one story."""
    working = calendar.is_working_time(instant)
    a_moment_later = instant.astimezone(UTC) + MICROSECOND
    assert calendar.business_time_between(instant, a_moment_later) == (
        MICROSECOND if working else timedelta(0)
    )
    upcoming = calendar.next_working_instant(instant)
    assert calendar.is_working_time(upcoming)
    assert (upcoming == instant.astimezone(UTC)) is working
    assert calendar.business_time_between(instant, upcoming) == timedelta(0)


@settings(max_examples=40, deadline=None)
@given(calendars(), instants)
def test_business_time_matches_a_minute_by_minute_count(
    calendar: BusinessCalendar, instant: datetime
) -> None:
    """A brute-force oracle over two days: interval bounds lie on whole minutes in UTC."""
    start = instant.replace(second=0, microsecond=0)
    minutes = [start + timedelta(minutes=m) for m in range(2 * 24 * 60)]
    working_minutes = sum(calendar.is_working_time(minute) for minute in minutes)
    end = start + timedelta(days=2)
    assert calendar.business_time_between(start, end) == timedelta(minutes=working_minutes)


@LAWS
@given(calendars())
def test_a_calendar_survives_a_json_round_trip(calendar: BusinessCalendar) -> None:
    """Workflow payloads carry calendars as pydantic JSON."""
    assert BusinessCalendar.model_validate_json(calendar.model_dump_json()) == calendar


# --- examples --------------------------------------------------------------------------


def test_friday_evening_plus_two_hours_lands_on_monday_morning() -> None:
    deadline = OFFICE.add_business_time(berlin(2024, 3, 1, 17), timedelta(hours=2))
    assert deadline == berlin(2024, 3, 4, 10)
    assert deadline.tzinfo is UTC


def test_a_holiday_is_skipped() -> None:
    calendar = changed(OFFICE, holidays=[date(2024, 3, 4)])
    deadline = calendar.add_business_time(berlin(2024, 3, 1, 17), timedelta(hours=2))
    assert deadline == berlin(2024, 3, 5, 10)
    assert not calendar.is_working_time(berlin(2024, 3, 4, 12))


def test_a_make_up_saturday_counts_with_default_or_its_own_hours() -> None:
    friday_evening = berlin(2024, 3, 1, 17)
    default_hours = changed(OFFICE, makeup_days=[date(2024, 3, 2)])
    deadline = default_hours.add_business_time(friday_evening, timedelta(hours=2))
    assert deadline == berlin(2024, 3, 2, 10)

    short_saturday = {"day": date(2024, 3, 2), "intervals": [("10:00", "10:30")]}
    own_hours = changed(OFFICE, makeup_days=[short_saturday])
    deadline = own_hours.add_business_time(friday_evening, timedelta(hours=2))
    assert deadline == berlin(2024, 3, 4, 9, 30)


def test_a_lunch_break_splits_the_day() -> None:
    calendar = BusinessCalendar.uniform(
        name="lunch", timezone="Europe/Berlin", intervals=[("14:00", "18:00"), ("08:00", "12:00")]
    )
    eleven = berlin(2024, 3, 5, 11)
    assert calendar.add_business_time(eleven, timedelta(hours=1)) == berlin(2024, 3, 5, 12)
    assert calendar.add_business_time(eleven, timedelta(hours=2)) == berlin(2024, 3, 5, 15)
    assert not calendar.is_working_time(berlin(2024, 3, 5, 13))
    assert calendar.next_working_instant(berlin(2024, 3, 5, 13)) == berlin(2024, 3, 5, 14)
    whole_day = (berlin(2024, 3, 5, 7), berlin(2024, 3, 5, 20))
    assert calendar.business_time_between(*whole_day) == timedelta(hours=8)


def test_the_spring_forward_night_shift_is_an_hour_shorter() -> None:
    saturday_night, sunday_morning = berlin(2024, 3, 30, 22), berlin(2024, 3, 31, 6)
    assert NIGHT_SHIFT.business_time_between(saturday_night, sunday_morning) == timedelta(hours=7)
    assert NIGHT_SHIFT.add_business_time(saturday_night, timedelta(hours=7)) == sunday_morning
    after_the_jump = NIGHT_SHIFT.add_business_time(saturday_night, timedelta(hours=4))
    assert after_the_jump == berlin(2024, 3, 31, 3)  # 02:00 never happened
    assert not NIGHT_SHIFT.is_working_time(sunday_morning)


def test_the_fall_back_night_shift_is_an_hour_longer() -> None:
    saturday_night, sunday_morning = berlin(2024, 10, 26, 22), berlin(2024, 10, 27, 6)
    assert NIGHT_SHIFT.business_time_between(saturday_night, sunday_morning) == timedelta(hours=9)
    assert NIGHT_SHIFT.add_business_time(saturday_night, timedelta(hours=9)) == sunday_morning
    first_half_past_two = NIGHT_SHIFT.add_business_time(saturday_night, timedelta(hours=4.5))
    second_half_past_two = NIGHT_SHIFT.add_business_time(saturday_night, timedelta(hours=5.5))
    assert first_half_past_two == berlin(2024, 10, 27, 2, 30)
    assert second_half_past_two == berlin(2024, 10, 27, 2, 30, fold=1)


@pytest.mark.parametrize(
    ("sunday", "real_hours"),
    [(date(2024, 3, 31), 2), (date(2024, 10, 27), 4), (date(2024, 4, 7), 3)],
)
def test_a_wall_clock_interval_counts_real_elapsed_time_on_dst_days(
    sunday: date, real_hours: int
) -> None:
    early = BusinessCalendar.model_validate(
        {"name": "early", "timezone": "Europe/Berlin", "weekly": [[]] * 6 + [[("01:00", "04:00")]]}
    )
    midnight, noon = (datetime.combine(sunday, at, BERLIN) for at in (MIDNIGHT, time(12)))
    assert early.business_time_between(midnight, noon) == timedelta(hours=real_hours)


def test_zero_duration_is_the_start_itself_and_a_negative_one_is_refused() -> None:
    saturday = berlin(2024, 3, 2, 12)
    assert OFFICE.add_business_time(saturday, timedelta(0)) == saturday
    assert OFFICE.add_business_time(saturday.astimezone(BERLIN), timedelta(0)).tzinfo is UTC
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add_business_time(saturday, timedelta(seconds=-1))


def test_an_end_before_the_start_is_refused_and_equal_bounds_give_zero() -> None:
    monday = berlin(2024, 3, 4, 12)
    assert OFFICE.business_time_between(monday, monday) == timedelta(0)
    with pytest.raises(ValueError, match="before start"):
        OFFICE.business_time_between(monday, monday - MICROSECOND)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 3, 4, 12)
    aware = naive.replace(tzinfo=UTC)
    for call in (
        lambda: OFFICE.add_business_time(naive, timedelta(hours=1)),
        lambda: OFFICE.business_time_between(naive, aware),
        lambda: OFFICE.business_time_between(aware, naive),
        lambda: OFFICE.is_working_time(naive),
        lambda: OFFICE.next_working_instant(naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@pytest.mark.parametrize("key", ["Europe/Atlantis", "Europe", "../etc", ""])
def test_an_unknown_timezone_is_a_validation_error_at_timezone(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BusinessCalendar.uniform(name="x", timezone=key, intervals=[("09:00", "17:00")])
    assert [error["loc"] for error in caught.value.errors()] == [("timezone",)]


def test_overlapping_intervals_are_a_validation_error_at_their_path() -> None:
    with pytest.raises(ValidationError) as caught:
        BusinessCalendar.model_validate(
            {
                "name": "x",
                "timezone": "UTC",
                "weekly": [[("08:00", "12:00"), ("11:00", "13:00")]] + [[]] * 6,
            }
        )
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("weekly", 0, 1), "interval_overlap")
    ]


@pytest.mark.parametrize("interval", [("12:00", "08:00"), ("09:00", "09:00"), ("00:30", "00:00")])
def test_inverted_or_empty_intervals_are_a_validation_error_at_their_path(
    interval: tuple[str, str],
) -> None:
    with pytest.raises(ValidationError) as caught:
        BusinessCalendar.model_validate(
            {
                "name": "x",
                "timezone": "UTC",
                "weekly": [[], [("06:00", "07:00"), interval]] + [[]] * 5,
            }
        )
    assert [error["loc"] for error in caught.value.errors()] == [("weekly", 1, 1)]


def test_an_overlap_on_a_make_up_day_is_a_validation_error_at_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        changed(
            OFFICE,
            makeup_days=[
                date(2024, 3, 2),
                {"day": date(2024, 3, 9), "intervals": [("09:00", "12:00"), ("10:00", "11:00")]},
            ],
        )
    assert [error["loc"] for error in caught.value.errors()] == [("makeup_days", 1, "intervals", 1)]


def test_conflicting_make_up_days_are_validation_errors_at_their_path() -> None:
    with pytest.raises(ValidationError) as caught:
        changed(
            OFFICE,
            holidays=[date(2024, 5, 1)],
            makeup_days=[date(2024, 5, 4), date(2024, 5, 4), date(2024, 5, 1)],
        )
    assert [error["loc"] for error in caught.value.errors()] == [
        ("makeup_days", 1, "day"),
        ("makeup_days", 2, "day"),
    ]


def test_a_calendar_without_working_time_raises_instead_of_looping() -> None:
    closed = BusinessCalendar.uniform(name="closed", timezone="UTC", intervals=[])
    monday = berlin(2024, 3, 4, 12)
    with pytest.raises(NoWorkingTimeError, match="no working time"):
        closed.add_business_time(monday, timedelta(hours=1))
    with pytest.raises(ValueError, match="no working time"):
        closed.next_working_instant(monday)
    assert closed.business_time_between(monday, monday + timedelta(days=30)) == timedelta(0)


def test_work_beyond_the_search_horizon_is_reported_not_searched_for_ever() -> None:
    far_away = BusinessCalendar.model_validate(
        {
            "name": "far",
            "timezone": "UTC",
            "weekly": [[]] * 7,
            "makeup_days": [{"day": "2030-01-07", "intervals": [("09:00", "10:00")]}],
        }
    )
    with pytest.raises(NoWorkingTimeError, match="between"):
        far_away.next_working_instant(berlin(2024, 3, 4))
    assert far_away.next_working_instant(berlin(2029, 6, 1)) == datetime(2030, 1, 7, 9, tzinfo=UTC)


def test_a_thousand_business_hours_end_111_working_days_and_an_hour_later() -> None:
    tuesday = berlin(2024, 1, 2, 9)
    deadline = OFFICE.add_business_time(tuesday, timedelta(hours=1000))
    assert deadline == berlin(2024, 6, 5, 10)  # 111 working days of 9 h, then 1 h
    assert OFFICE.business_time_between(tuesday, deadline) == timedelta(hours=1000)


# --- inside the Temporal workflow sandbox ----------------------------------------------


class DeadlineRequest(BaseModel):
    calendar: BusinessCalendar
    business_hours: int


class DeadlineComputed(BaseModel):
    started: datetime
    deadline: datetime
    next_working: datetime


@workflow.defn(sandboxed=True)
class SlaDeadlineWorkflow:
    """Computes a deadline with domain.calendar as re-imported by the sandbox."""

    @workflow.run
    async def run(self, request: DeadlineRequest) -> DeadlineComputed:
        started = workflow.now()
        calendar = request.calendar
        return DeadlineComputed(
            started=started,
            deadline=calendar.add_business_time(started, timedelta(hours=request.business_hours)),
            next_working=calendar.next_working_instant(started),
        )


TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"

TEST_TOOLS_PASSED_THROUGH = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("pytest", "hypothesis")
)
"""The sandbox re-imports this test module: share the test tools, not domain.calendar."""


@pytest.mark.skipif(not TEST_SERVER.exists(), reason="temporal-test-server is not installed")
async def test_a_deadline_can_be_computed_inside_the_workflow_sandbox() -> None:
    calendar = BusinessCalendar.uniform(
        name="shanghai office",
        timezone="Asia/Shanghai",
        intervals=[("09:00", "12:00"), ("13:00", "18:00")],
        holidays=[date(2025, 10, 1)],
        makeup_days=[date(2025, 9, 28)],
    )
    task_queue = f"calendar-{uuid.uuid4()}"
    async with (
        await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(TEST_SERVER),
        ) as env,
        Worker(
            env.client,
            task_queue=task_queue,
            workflows=[SlaDeadlineWorkflow],
            workflow_runner=TEST_TOOLS_PASSED_THROUGH,
        ),
    ):
        result = await env.client.execute_workflow(
            SlaDeadlineWorkflow.run,
            DeadlineRequest(calendar=calendar, business_hours=20),
            id=f"sla-deadline-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert result.deadline == calendar.add_business_time(result.started, timedelta(hours=20))
    assert result.next_working == calendar.next_working_instant(result.started)
    assert calendar.business_time_between(result.started, result.deadline) == timedelta(hours=20)
