"""Business calendars: working hours per weekday, holidays and make-up days in one time zone.

SLA clocks run on business time, so a deadline is "N hours of work after the issue was
opened", not N hours of wall time. Everything here is pure and deterministic (the only
I/O is zoneinfo reading tz data), so the calendar can be used inside the Temporal
workflow sandbox and travel in workflow payloads as pydantic JSON.

Rules every method follows:

* An instant is working time when its local wall-clock time in `timezone` lies in
  ``[start, end)`` of an interval that applies to its local date. Intervals are
  wall-clock, so on a DST day ``01:00-04:00`` is 2 h (spring forward) or 4 h (fall back)
  of real time; all durations are real elapsed time.
* The intervals of a date are: none on a holiday, the make-up day's own intervals on a
  make-up day, otherwise the weekly schedule of its weekday (Monday is index 0).
* An interval ending at 00:00 runs to the midnight that ends its day, so a night shift is
  written as 22:00-00:00 on one weekday and 00:00-06:00 on the next. Empty, inverted or
  overlapping intervals are refused with a ValidationError located at the interval.
* A make-up day without its own intervals works the hours of the first weekday, Monday
  onward, that has any; its intervals replace the weekday's hours on that date.
* Public datetimes must be timezone-aware (naive ones raise ValueError); results are UTC.
* Edge cases: adding zero returns the start; negative durations and an end before the
  start raise ValueError; a calendar without working time, or without any for
  SEARCH_HORIZON, raises NoWorkingTimeError (a ValueError) instead of searching forever.
* Work is found per working interval and per day, never per minute: adding 1000 business
  hours walks about 150 days.
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    _UnproxiedZoneInfo = ZoneInfo
else:
    # The Temporal workflow sandbox hands out `zoneinfo.ZoneInfo` wrapped in a restriction
    # proxy (to guard clear_cache/from_file/reset_tzpath), and the instances that proxy
    # creates are proxies too, which datetime refuses as tzinfo ("tzinfo argument must be
    # None or of a tzinfo subclass"). The very same class is importable from its home
    # module, which the sandbox passes through unwrapped; zoneinfo itself imports it from
    # there the same way. Only ZoneInfo(key) is ever called, which the sandbox allows.
    try:
        from _zoneinfo import ZoneInfo as _UnproxiedZoneInfo
    except ImportError:  # pragma: no cover - CPython built without the C accelerator
        from zoneinfo._zoneinfo import ZoneInfo as _UnproxiedZoneInfo

MIDNIGHT = time(0)
"""As an interval end, 00:00 means the midnight that ends the day (24:00)."""

DAYS_PER_WEEK = 7

SEARCH_HORIZON = timedelta(days=2 * 366)
"""Longest stretch without working time we search before declaring the calendar empty."""

_OFFSET_PROBE_STEP = timedelta(hours=6)
"""UTC-offset probe spacing. Transitions are found by probing and bisection because
zoneinfo exposes no transition list; this is exact as long as a zone never changes its
offset twice within 6 hours (in tzdata the closest changes are about 95 hours apart)."""

_MAX_RUN = timedelta(days=1)
"""Longest stretch handled per step, so span generation stays lazy on 24x7 calendars."""

_RESOLUTION = timedelta(microseconds=1)

_WHOLE_DAY = timedelta(days=1)

CalendarName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class NoWorkingTimeError(ValueError):
    """Raised instead of searching forever when a calendar offers no working time ahead."""


class WorkingInterval(BaseModel):
    """Wall-clock working hours ``[start, end)`` within one local date (end 00:00 = midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _accept_pair(cls, data: Any) -> Any:
        """Let schedules be written compactly as ``("08:00", "12:00")`` pairs."""
        if isinstance(data, tuple | list) and len(data) == 2:
            return {"start": data[0], "end": data[1]}
        return data

    @model_validator(mode="after")
    def _check_not_empty(self) -> Self:
        """Refuse intervals that would silently contribute no working time."""
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("interval times are wall-clock; the calendar's timezone applies")
        if self.end_offset <= self.start_offset:
            raise ValueError(
                f"interval {self.label} is empty or inverted; split an overnight shift into "
                "an interval ending at 00:00 and one starting at 00:00 the next day"
            )
        return self

    @property
    def start_offset(self) -> timedelta:
        """Distance of the start from the local midnight that begins the day."""
        return _since_midnight(self.start)

    @property
    def end_offset(self) -> timedelta:
        """Distance of the end from the local midnight, 24 h for an end of 00:00."""
        return _WHOLE_DAY if self.end == MIDNIGHT else _since_midnight(self.end)

    @property
    def label(self) -> str:
        """Readable form for error messages."""
        end = "24:00" if self.end == MIDNIGHT else _clock(self.end)
        return f"{_clock(self.start)}-{end}"

    def overlaps(self, other: "WorkingInterval") -> bool:
        """Touching intervals (12:00-14:00 then 14:00-18:00) do not overlap."""
        return self.start_offset < other.end_offset and other.start_offset < self.end_offset


DaySchedule = tuple[WorkingInterval, ...]

Week = tuple[
    DaySchedule, DaySchedule, DaySchedule, DaySchedule, DaySchedule, DaySchedule, DaySchedule
]
"""Intervals per weekday, Monday first, as `date.weekday()` numbers them."""


class MakeUpDay(BaseModel):
    """A date worked with its own hours, e.g. a Saturday swapped for a bridge day.

    Without explicit `intervals` the day uses the hours of the first weekday, Monday
    onward, that has any. The intervals replace the weekly hours of that date.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    intervals: Annotated[DaySchedule, Field(min_length=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_date(cls, data: Any) -> Any:
        """Let a make-up day that keeps the default hours be written as just its date."""
        if isinstance(data, date | str):
            return {"day": data}
        return data

    @field_validator("intervals")
    @classmethod
    def _check_intervals(cls, intervals: DaySchedule | None) -> DaySchedule | None:
        """Apply the same no-overlap rule as the weekly schedule."""
        return None if intervals is None else _checked_day(intervals)


class BusinessCalendar(BaseModel):
    """Working time of a support team; frozen so it can ride in workflow payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: CalendarName
    timezone: str
    weekly: Week
    """Intervals per weekday, Monday first; stored sorted by start."""
    holidays: tuple[date, ...] = ()
    """Dates without work; stored sorted and deduplicated so the JSON is stable."""
    makeup_days: tuple[MakeUpDay, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, key: str) -> str:
        """Fail at construction, not at the first deadline, on a zone tz data lacks."""
        try:
            _UnproxiedZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {key!r}") from exc
        return key

    @field_validator("weekly")
    @classmethod
    def _check_weekly(cls, weekly: Week) -> Week:
        """Refuse overlaps, reporting each at its own path such as ``weekly.0.1``."""
        errors: list[InitErrorDetails] = []
        checked: list[DaySchedule] = []
        for weekday, intervals in enumerate(weekly):
            errors.extend(_overlap_errors(intervals, prefix=(weekday,)))
            checked.append(tuple(sorted(intervals, key=_by_start)))
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return cls._week(checked)

    @field_validator("holidays")
    @classmethod
    def _normalise_holidays(cls, holidays: tuple[date, ...]) -> tuple[date, ...]:
        """Sort and deduplicate so equal calendars serialise identically."""
        return tuple(sorted(set(holidays)))

    @model_validator(mode="after")
    def _check_makeup_days(self) -> Self:
        """A make-up day must be unambiguous: not repeated, not a holiday, hours resolvable."""
        errors: list[InitErrorDetails] = []
        seen: set[date] = set()
        holidays = set(self.holidays)
        for index, makeup in enumerate(self.makeup_days):
            problem = None
            if makeup.day in seen:
                problem = "is listed twice"
            elif makeup.day in holidays:
                problem = "is also a holiday"
            seen.add(makeup.day)
            if problem:
                errors.append(
                    _error(
                        ("makeup_days", index, "day"),
                        makeup.day,
                        "makeup_day_conflict",
                        f"make-up day {makeup.day} {problem}",
                    )
                )
            if makeup.intervals is None and self.default_makeup_hours is None:
                errors.append(
                    _error(
                        ("makeup_days", index, "intervals"),
                        None,
                        "makeup_hours_missing",
                        "no weekday has working hours to copy; give the intervals explicitly",
                    )
                )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @classmethod
    def always(cls, name: str = "24x7", timezone: str = "UTC") -> Self:
        """The 24x7 calendar, where business time is plain elapsed time."""
        whole_day = (WorkingInterval(start=MIDNIGHT, end=MIDNIGHT),)
        return cls(name=name, timezone=timezone, weekly=cls._week([whole_day] * DAYS_PER_WEEK))

    @classmethod
    def uniform(
        cls,
        *,
        name: str,
        timezone: str,
        intervals: Iterable[WorkingInterval | tuple[time | str, time | str]],
        weekdays: Iterable[int] = range(5),
        holidays: Iterable[date] = (),
        makeup_days: Iterable[MakeUpDay | date] = (),
    ) -> Self:
        """The common case where every working weekday (0 = Monday) has the same hours."""
        day = list(intervals)
        working = set(weekdays)
        if not working <= set(range(DAYS_PER_WEEK)):
            raise ValueError(f"weekdays are numbered 0 (Monday) to 6, got {sorted(working)}")
        return cls.model_validate(
            {
                "name": name,
                "timezone": timezone,
                "weekly": [day if weekday in working else [] for weekday in range(DAYS_PER_WEEK)],
                "holidays": list(holidays),
                "makeup_days": list(makeup_days),
            }
        )

    @staticmethod
    def _week(days: list[DaySchedule]) -> Week:
        """Seven day schedules as the fixed-size tuple the `weekly` field holds."""
        monday, tuesday, wednesday, thursday, friday, saturday, sunday = days
        return monday, tuesday, wednesday, thursday, friday, saturday, sunday

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's zone; zoneinfo itself caches loaded tz data per key."""
        return _UnproxiedZoneInfo(self.timezone)

    @property
    def default_makeup_hours(self) -> DaySchedule | None:
        """Hours a make-up day without its own gets: the first weekday, Monday on, with any."""
        return next((day for day in self.weekly if day), None)

    @property
    def has_any_working_time(self) -> bool:
        """False for a calendar that can never produce a deadline."""
        return any(self.weekly) or bool(self.makeup_days)

    def intervals_on(self, day: date) -> DaySchedule:
        """Working intervals of a local date, after holidays and make-up days."""
        return _Schedule(self).intervals_on(day)

    def is_working_time(self, at: datetime) -> bool:
        """Whether `at` falls inside a working interval (intervals are half-open)."""
        return _Schedule(self).is_working_time(_require_aware(at, "at"))

    def next_working_instant(self, at: datetime) -> datetime:
        """`at` itself (in UTC) if it is working time, else the start of the next interval.

        Raises NoWorkingTimeError when no work comes within SEARCH_HORIZON.
        """
        start = _require_aware(at, "at").astimezone(UTC)
        for span_start, _ in _Schedule(self).working_spans(start):
            return span_start
        raise AssertionError("unreachable: working_spans without a bound never ends")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """Earliest instant by which `duration` of business time has elapsed since `start`.

        A zero duration returns `start` (in UTC) even outside working time; a positive one
        lands inside an interval or exactly on an interval's end, never on the next start.
        A negative duration raises ValueError; NoWorkingTimeError when work runs out.
        """
        origin = _require_aware(start, "start").astimezone(UTC)
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if not duration:
            return origin
        remaining = duration
        for span_start, span_end in _Schedule(self).working_spans(origin):
            available = span_end - span_start
            if remaining <= available:
                return span_start + remaining
            remaining -= available
        raise AssertionError("unreachable: working_spans without a bound never ends")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside ``[start, end)``; zero when equal, ValueError when end < start."""
        origin = _require_aware(start, "start").astimezone(UTC)
        until = _require_aware(end, "end").astimezone(UTC)
        if until < origin:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        total = timedelta(0)
        for span_start, span_end in _Schedule(self).working_spans(origin, until=until):
            if span_start >= until:
                break
            total += min(span_end, until) - span_start
        return total


class _Schedule:
    """Lookups derived from one calendar for the duration of one call.

    Kept off the model on purpose: a cache on a pydantic model would survive
    `model_copy(update=...)` and answer for the old field values.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.zone = calendar.zone
        self.holidays = frozenset(calendar.holidays)
        default = calendar.default_makeup_hours or ()
        self.makeup_hours = {
            makeup.day: tuple(sorted(makeup.intervals or default, key=_by_start))
            for makeup in calendar.makeup_days
        }

    def intervals_on(self, day: date) -> DaySchedule:
        """Holidays first, then make-up days, then the weekday's hours."""
        if day in self.holidays:
            return ()
        makeup = self.makeup_hours.get(day)
        if makeup is not None:
            return makeup
        return self.calendar.weekly[day.weekday()]

    def is_working_time(self, at: datetime) -> bool:
        """Local wall-clock membership, the definition every other answer agrees with."""
        local = at.astimezone(self.zone).replace(tzinfo=None)
        return any(
            span_start <= local < span_end
            for span_start, span_end in self.local_spans(local.date())
        )

    def local_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Naive local wall-clock spans of a date, in order."""
        midnight = datetime.combine(day, MIDNIGHT)
        for interval in self.intervals_on(day):
            yield midnight + interval.start_offset, midnight + interval.end_offset

    def working_spans(
        self, start: datetime, until: datetime | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """UTC working spans from `start` on, in order, clipped to begin at or after `start`.

        Without `until` the iteration is endless as long as work keeps coming, and raises
        NoWorkingTimeError after SEARCH_HORIZON without any; with `until` it stops there.
        Spans may touch (a shift ending at midnight, the next one starting at it).
        """
        name = self.calendar.name
        if until is None and not self.calendar.has_any_working_time:
            raise NoWorkingTimeError(f"calendar {name!r} has no working time at all")
        quiet_since = start
        for run_start, run_end, offset in self.offset_runs(start):
            if until is not None and run_start >= until:
                return
            if until is None and run_start - quiet_since > SEARCH_HORIZON:
                raise NoWorkingTimeError(
                    f"calendar {name!r} has no working time between "
                    f"{quiet_since.isoformat()} and {run_start.isoformat()}"
                )
            local_low = (run_start + offset).replace(tzinfo=None)
            local_high = (run_end + offset).replace(tzinfo=None)
            day = local_low.date()
            while datetime.combine(day, MIDNIGHT) < local_high:
                for span_start, span_end in self.local_spans(day):
                    low = max(span_start, local_low)
                    high = min(span_end, local_high)
                    if low < high:
                        quiet_since = (high - offset).replace(tzinfo=UTC)
                        yield (low - offset).replace(tzinfo=UTC), quiet_since
                day += timedelta(days=1)

    def offset_runs(self, start: datetime) -> Iterator[tuple[datetime, datetime, timedelta]]:
        """Consecutive UTC stretches from `start` on, each at most a day, with one UTC offset.

        Within a stretch local time is UTC plus a constant, so wall-clock intervals map to
        UTC exactly; across a DST change the next stretch starts at the transition instant.
        """
        cursor = start
        offset = self.offset_at(cursor)
        while True:
            run_end, next_offset = self.run_end(cursor, offset)
            yield cursor, run_end, offset
            cursor, offset = run_end, next_offset

    def run_end(self, cursor: datetime, offset: timedelta) -> tuple[datetime, timedelta]:
        """End of the constant-offset stretch from `cursor` (at most a day) and the next offset."""
        limit = cursor + _MAX_RUN
        probe = cursor
        while probe < limit:
            ahead = min(probe + _OFFSET_PROBE_STEP, limit)
            if self.offset_at(ahead) != offset:
                transition = self.transition_between(probe, ahead, offset)
                return transition, self.offset_at(transition)
            probe = ahead
        return limit, offset

    def transition_between(self, before: datetime, after: datetime, offset: timedelta) -> datetime:
        """Exact first instant after `before` whose offset differs (bisection to 1 µs)."""
        while after - before > _RESOLUTION:
            middle = before + (after - before) // 2
            if self.offset_at(middle) == offset:
                before = middle
            else:
                after = middle
        return after

    def offset_at(self, at: datetime) -> timedelta:
        """UTC offset of the calendar's zone at an instant."""
        offset = at.astimezone(self.zone).utcoffset()
        if offset is None:  # pragma: no cover - ZoneInfo always knows its offset
            raise ValueError(f"time zone {self.calendar.timezone!r} gave no UTC offset")
        return offset


def _by_start(interval: WorkingInterval) -> timedelta:
    """Sort key putting a day's intervals in chronological order."""
    return interval.start_offset


def _since_midnight(moment: time) -> timedelta:
    """A wall-clock time as a distance from midnight, for exact arithmetic."""
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _clock(moment: time) -> str:
    """HH:MM unless seconds matter."""
    precise = moment.second or moment.microsecond
    return moment.isoformat() if precise else moment.isoformat(timespec="minutes")


def _require_aware(moment: datetime, name: str) -> datetime:
    """Naive datetimes are ambiguous about the instant they mean, so refuse them."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment


def _checked_day(intervals: DaySchedule) -> DaySchedule:
    """Refuse overlaps within one day's intervals; return them sorted by start."""
    errors = _overlap_errors(intervals, prefix=())
    if errors:
        raise ValidationError.from_exception_data("DaySchedule", errors)
    return tuple(sorted(intervals, key=_by_start))


def _overlap_errors(
    intervals: DaySchedule, prefix: tuple[int | str, ...]
) -> list[InitErrorDetails]:
    """One error per interval that overlaps an earlier one, located at that interval."""
    errors: list[InitErrorDetails] = []
    for index, interval in enumerate(intervals):
        clash = next((other for other in intervals[:index] if other.overlaps(interval)), None)
        if clash is not None:
            errors.append(
                _error(
                    (*prefix, index),
                    interval,
                    "interval_overlap",
                    f"interval {interval.label} overlaps {clash.label} on the same day",
                )
            )
    return errors


def _error(
    location: tuple[int | str, ...], value: Any, kind: str, message: str
) -> InitErrorDetails:
    """A located validation error, so callers see e.g. ``weekly.0.1`` as the culprit."""
    return InitErrorDetails(
        type=PydanticCustomError(kind, message),
        loc=location,
        input=value,
    )
