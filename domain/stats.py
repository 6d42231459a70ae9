"""Operational statistics, pure: the facts of one issue from its timeline, and the figures of
a set of issues over a period.

`issue_facts` reads an issue's ordered events and its latest SLA snapshot and returns the
handful of instants, durations and outcomes every figure is made of (one `IssueFacts` per
issue, stored as the `issue_facts` projection). `figures` aggregates facts over a period:
each figure has one cohort (the issues it counts) and one formula, both stated on the field,
so the dashboard, the scheduled reports and the drill-down lists count the same issues.
Nothing here reads the clock or the database.
"""

import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.enums import (
    OPEN_STATES,
    ActorKind,
    Category,
    Channel,
    ContractLevel,
    EventKind,
    IssueState,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
)
from domain.models import TimelineEvent
from domain.sla_tracking import TIER_CLOCKS, IssueSla


class Compliance(StrEnum):
    """One promise (or tier budget) of one issue: kept, missed, or still to be decided."""

    MET = "met"
    BREACHED = "breached"
    OPEN = "open"  # still counting and not breached: on track (for now)


class IssueHeader(BaseModel):
    """What the timeline does not repeat about an issue: its dimensions at intake."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issue_id: str
    organisation_id: str
    product_id: str
    category: Category
    severity: Severity
    channel: Channel
    contract_level: ContractLevel | None = None
    created_at: datetime


class IssueFacts(BaseModel):
    """Everything the figures aggregate about one issue (durations in whole seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issue_id: str
    organisation_id: str
    product_id: str
    category: Category
    severity: Severity
    channel: Channel
    contract_level: ContractLevel | None = None
    team_id: str | None = None
    engineer_id: str | None = None  # who resolved it (the owner at the accepted proposal)
    first_owner_id: str | None = None  # the first tier-1 owner
    tier: Tier = Tier.FRONTLINE
    state: IssueState = IssueState.NEW
    calendar: str | None = None
    created_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    ended_at: datetime | None = None
    response_wall: int | None = None
    response_business: int | None = None
    resolution_wall: int | None = None
    resolution_business: int | None = None
    first_response_sla: Compliance | None = None
    resolution_sla: Compliance | None = None
    ola_tier_1: Compliance | None = None
    ola_tier_2: Compliance | None = None
    ola_tier_3: Compliance | None = None
    time_tier_1: int = 0
    time_tier_2: int = 0
    time_tier_3: int = 0
    waiting_customer: int = 0
    waiting_rnd: int = 0
    escalations: int = 0
    reassignments: int = 0
    handoffs: int = 0
    first_contact_resolution: bool = False
    reopen_count: int = 0
    satisfaction: int | None = None
    defect_key: str | None = None
    defect_created: bool = False
    defect_linked_at: datetime | None = None
    rnd_escalated_at: datetime | None = None
    defect_fixed_at: datetime | None = None
    escalation_to_fix: int | None = None
    last_seq: int = 0


# Events that answer the customer publicly: the first of them is the first response.
_RESPONSES = frozenset(
    {EventKind.ACKNOWLEDGED, EventKind.INFO_REQUESTED, EventKind.RESOLUTION_PROPOSED}
)
# Events that move the issue to another tier without naming it in their data.
_TIER_RETURNS = {
    EventKind.DEFECT_FIXED: Tier.FRONTLINE,
    EventKind.DEFECT_WONT_FIX: Tier.EXPERT,
    EventKind.DEFECT_REOPENED: Tier.RND,
}
_OLA_FIELDS = {Tier.FRONTLINE: "ola_tier_1", Tier.EXPERT: "ola_tier_2", Tier.RND: "ola_tier_3"}
_TIME_FIELDS = {Tier.FRONTLINE: "time_tier_1", Tier.EXPERT: "time_tier_2", Tier.RND: "time_tier_3"}
# States in which a tier works the issue (or waits for the customer's reply): awaiting the
# customer's confirmation is no tier's time.
_COUNTED_STATES = OPEN_STATES - {
    IssueState.NEW,
    IssueState.RESOLVED,
    IssueState.AWAITING_CONFIRMATION,
}


def _seconds(duration: timedelta) -> int:
    return int(duration.total_seconds())


def _is_response(event: TimelineEvent) -> bool:
    if event.kind in _RESPONSES:
        return True
    return (
        event.kind == EventKind.COMMENTED
        and event.visibility == Visibility.PUBLIC
        and event.actor.kind not in (ActorKind.CUSTOMER, ActorKind.INTEGRATION)
    )


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def issue_facts(
    header: IssueHeader, events: Sequence[TimelineEvent], sla: IssueSla | None
) -> IssueFacts:
    """The facts of one issue from its events (in `seq` order) and its latest SLA snapshot.

    Durations in states and tiers are wall time between consecutive events, so they end
    at the issue's last event: nothing depends on when the facts are computed. Business
    times use the calendar of the issue's own (latest) policy snapshot.
    """
    ordered = sorted(events, key=lambda e: e.seq)
    state, tier = IssueState.NEW, Tier.FRONTLINE
    severity = header.severity
    owner: str | None = None
    first_owner: str | None = None
    tier1_owner: str | None = None
    team: str | None = None
    first_response: datetime | None = None
    proposal: tuple[datetime, str | None] | None = None
    accepted_proposal: tuple[datetime, str | None] | None = None
    closed: datetime | None = None
    cancelled: datetime | None = None
    satisfaction: int | None = None
    escalations = reassignments = returns = reopens = 0
    breached: set[str] = set()
    tier_time = dict.fromkeys(Tier, timedelta())
    waiting_customer = waiting_rnd = timedelta()
    waits: list[tuple[datetime, datetime]] = []
    defect_key: str | None = None
    defect_created = False
    defect_linked: datetime | None = None
    rnd_escalated: datetime | None = None
    fixed: datetime | None = None
    previous_at: datetime | None = None
    for event in ordered:
        if previous_at is not None and state in _COUNTED_STATES:
            span = event.at - previous_at
            if state == IssueState.WAITING_CUSTOMER:
                waiting_customer += span
                waits.append((previous_at, event.at))
            else:
                tier_time[tier] += span
                if state == IssueState.ESCALATED and tier == Tier.RND:
                    waiting_rnd += span
        previous_at = event.at
        data = event.data
        kind = event.kind
        if team_value := _text(data.get("team_id")):
            team = team_value
        if kind == EventKind.SEVERITY_CHANGED and isinstance(data.get("to"), int):
            severity = Severity(int(data["to"]))  # type: ignore[arg-type]
        if first_response is None and _is_response(event):
            first_response = event.at
        engineer = _text(data.get("engineer_id"))
        if kind == EventKind.ASSIGNED:
            owner = tier1_owner = engineer
            first_owner = first_owner or engineer
            tier = Tier.FRONTLINE
        elif kind == EventKind.ESCALATED:
            escalations += 1
            tier = Tier(int(data.get("tier") or tier))
            owner = engineer
            if tier == Tier.RND and rnd_escalated is None:
                rnd_escalated = event.at
        elif kind in _TIER_RETURNS:
            returns += 1
            tier = _TIER_RETURNS[kind]
            # Back to the tier-1 owner when fixed; otherwise routing chose someone the
            # event does not name (a later assignment names them).
            owner = tier1_owner if kind == EventKind.DEFECT_FIXED else None
            if kind == EventKind.DEFECT_FIXED:
                fixed = fixed or event.at
        elif engineer is not None and engineer != owner:
            # REASSIGNED, and any other kind that hands the issue to another engineer
            # (claims, hand-backs): an owner change. Taking an issue nobody owned (escalated
            # unowned, back from R&D) is no change of owner.
            if owner is not None:
                reassignments += 1
            owner = engineer
            if tier == Tier.FRONTLINE:
                tier1_owner = engineer
                first_owner = first_owner or engineer
        if kind == EventKind.RESOLUTION_PROPOSED:
            proposal = (event.at, owner)
        elif kind == EventKind.CLOSED:
            closed = event.at
            accepted_proposal = proposal
            rating = data.get("satisfaction")
            satisfaction = rating if isinstance(rating, int) else None
        elif kind == EventKind.REOPENED:
            reopens += 1
            closed = None
        elif kind == EventKind.CANCELLED:
            cancelled = event.at
        elif kind == EventKind.SLA_BREACHED and (name := _text(data.get("clock"))):
            breached.add(name)
        elif kind == EventKind.DEFECT_LINKED:
            defect_key = _text(data.get("defect_key"))
            defect_created = data.get("created") == 1
            defect_linked = defect_linked or event.at
        if event.to_state is not None:
            state = event.to_state
    created_at = header.created_at
    calendar = sla.calendar if sla is not None else None
    if sla is not None:
        breached.update(c.name for c in sla.clocks if c.breached)
    resolved_at = accepted_proposal[0] if accepted_proposal and closed else None
    resolver = accepted_proposal[1] if accepted_proposal and closed else owner

    def wall(end: datetime | None) -> int | None:
        return _seconds(end - created_at) if end is not None else None

    def business(end: datetime | None) -> int | None:
        """Business time from the report to `end`, less the customer's waits before it
        (as the SLA counts it: paused while the customer is asked)."""
        if end is None or calendar is None:
            return None
        counted = calendar.business_time_between(created_at, end)
        for start, stop in waits:
            if start < end:
                counted -= calendar.business_time_between(start, min(stop, end))
        return _seconds(counted)

    is_open = state in OPEN_STATES
    values: dict[str, object] = {}
    for each, kind_name in TIER_CLOCKS.items():
        clock = sla.clock(kind_name) if sla is not None else None
        if clock is None or not clock.budgeted:
            continue
        if kind_name.value in breached:
            values[_OLA_FIELDS[each]] = Compliance.BREACHED
        elif clock.stopped:
            values[_OLA_FIELDS[each]] = Compliance.MET
        else:
            values[_OLA_FIELDS[each]] = Compliance.OPEN
    for each in Tier:
        values[_TIME_FIELDS[each]] = _seconds(tier_time[each])
    return IssueFacts(
        issue_id=header.issue_id,
        organisation_id=header.organisation_id,
        product_id=header.product_id,
        category=header.category,
        severity=severity,
        channel=header.channel,
        contract_level=header.contract_level,
        team_id=team,
        engineer_id=resolver,
        first_owner_id=first_owner,
        tier=tier,
        state=state,
        calendar=calendar.name if calendar else None,
        created_at=created_at,
        first_response_at=first_response,
        resolved_at=resolved_at,
        closed_at=closed,
        cancelled_at=cancelled,
        ended_at=closed or cancelled,
        response_wall=wall(first_response),
        response_business=business(first_response),
        resolution_wall=wall(resolved_at),
        resolution_business=business(resolved_at),
        first_response_sla=_promise(
            SlaClockKind.FIRST_RESPONSE,
            sla,
            breached,
            kept=first_response is not None,
            is_open=is_open,
        ),
        resolution_sla=_promise(
            SlaClockKind.RESOLUTION, sla, breached, kept=closed is not None, is_open=is_open
        ),
        waiting_customer=_seconds(waiting_customer),
        waiting_rnd=_seconds(waiting_rnd),
        escalations=escalations,
        reassignments=reassignments,
        handoffs=escalations + reassignments + returns,
        first_contact_resolution=(
            closed is not None
            and escalations == 0
            and reassignments == 0
            and resolver is not None
            and resolver == first_owner
        ),
        reopen_count=reopens,
        satisfaction=satisfaction if closed else None,
        defect_key=defect_key,
        defect_created=defect_created,
        defect_linked_at=defect_linked,
        rnd_escalated_at=rnd_escalated,
        defect_fixed_at=fixed,
        escalation_to_fix=_seconds(fixed - rnd_escalated) if fixed and rnd_escalated else None,
        last_seq=ordered[-1].seq if ordered else 0,
        **values,
    )


def _promise(
    kind: SlaClockKind, sla: IssueSla | None, breached: set[str], *, kept: bool, is_open: bool
) -> Compliance | None:
    """Breached once is breached (a later cycle or policy never unbreaches it); met when the
    promise was kept; open while the issue is; None when it ended without (cancelled)."""
    if sla is None:
        return None
    if kind.value in breached:
        return Compliance.BREACHED
    if kept:
        return Compliance.MET
    return Compliance.OPEN if is_open else None


class DrillMetric(StrEnum):
    """The cohorts a drill-down lists ("which issues?"), each as `figures` counts it."""

    CREATED = "created"  # created in the period
    CLOSED = "closed"  # (finally) closed in the period
    CANCELLED = "cancelled"
    BACKLOG = "backlog"  # open at the period's end
    RESPONDED = "responded"  # first response in the period (the MTTA cohort)
    FIRST_CONTACT_RESOLUTION = "first_contact_resolution"  # closed, first contact
    REASSIGNED = "reassigned"  # closed, reassigned at least once
    REOPENED = "reopened"  # closed, reopened at least once
    RATED = "rated"  # closed with a satisfaction rating
    FIRST_RESPONSE_MET = "first_response_met"  # created in the period, promise kept
    FIRST_RESPONSE_BREACHED = "first_response_breached"
    FIRST_RESPONSE_OPEN = "first_response_open"
    RESOLUTION_MET = "resolution_met"
    RESOLUTION_BREACHED = "resolution_breached"
    RESOLUTION_OPEN = "resolution_open"
    OLA_BREACHED = "ola_breached"  # closed, some tier's budget breached
    DEFECT_LINKED = "defect_linked"  # linked to an R&D defect in the period
    DEFECT_FIXED = "defect_fixed"  # its defect fixed in the period


# --- figures ------------------------------------------------------------------------------------


class Period(BaseModel):
    """A half-open range of instants [start, end)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end


class BucketUnit(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday first
    MONTH = "month"


def _local_start(day: date, unit: BucketUnit) -> date:
    if unit == BucketUnit.WEEK:
        return day - timedelta(days=day.weekday())
    if unit == BucketUnit.MONTH:
        return day.replace(day=1)
    return day


def _next_start(day: date, unit: BucketUnit) -> date:
    if unit == BucketUnit.DAY:
        return day + timedelta(days=1)
    if unit == BucketUnit.WEEK:
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day begins (zoneinfo resolves a DST gap or fold)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def bucket_containing(day: date, unit: BucketUnit, zone: ZoneInfo) -> Period:
    """The local day, ISO week or month that holds `day`, as UTC instants."""
    start = _local_start(day, unit)
    return Period(start=_midnight(start, zone), end=_midnight(_next_start(start, unit), zone))


def buckets(period: Period, unit: BucketUnit, zone: ZoneInfo) -> list[Period]:
    """The local days, weeks or months that cover `period`, the first and last clipped to it."""
    found: list[Period] = []
    day = _local_start(period.start.astimezone(zone).date(), unit)
    while (start := _midnight(day, zone)) < period.end:
        day = _next_start(day, unit)
        end = _midnight(day, zone)
        if end > period.start:
            found.append(Period(start=max(start, period.start), end=min(end, period.end)))
    return found


def previous_period(period: Period, unit: BucketUnit | None, zone: ZoneInfo) -> Period:
    """What a period is compared with: the previous day, week or month for a bucket; the
    same length just before it for any other range."""
    if unit is None:
        return Period(start=period.start - (period.end - period.start), end=period.start)
    day = period.start.astimezone(zone).date() - timedelta(days=1)
    return bucket_containing(day, unit, zone)


class DurationFigures(BaseModel):
    """Mean, median and 90th percentile (nearest rank) of durations, in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Iterable[int | None]) -> "DurationFigures":
        present = sorted(v for v in values if v is not None)
        if not present:
            return cls()
        rank = max(1, math.ceil(0.9 * len(present)))
        return cls(
            count=len(present),
            mean=round(statistics.fmean(present), 3),
            median=float(statistics.median(present)),
            p90=float(present[rank - 1]),
        )


class ComplianceFigures(BaseModel):
    """Issues that met, breached or are still on track; rate = met / (met + breached) in %."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    met: int = 0
    breached: int = 0
    open_on_track: int = 0
    rate: float | None = None

    @classmethod
    def of(cls, outcomes: Iterable[Compliance | None]) -> "ComplianceFigures":
        counted = [o for o in outcomes if o is not None]
        met = sum(1 for o in counted if o == Compliance.MET)
        breached = sum(1 for o in counted if o == Compliance.BREACHED)
        return cls(
            met=met,
            breached=breached,
            open_on_track=len(counted) - met - breached,
            rate=_percent(met, met + breached),
        )


class SatisfactionFigures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rated: int = 0
    mean: float | None = None
    distribution: dict[int, int] = Field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    response_rate: float | None = None


class DefectFigures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    created: int = 0
    linked_issues: int = 0
    defects: int = 0
    linked_issues_per_defect: float | None = None
    escalation_to_fix: DurationFigures = DurationFigures()


class Figures(BaseModel):
    """Every figure of one period (formulas and cohorts in the README's Statistics section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    created: int = 0
    closed: int = 0
    cancelled: int = 0
    backlog: int = 0
    backlog_age: dict[str, int] = Field(default_factory=dict)
    close_rate: float | None = None
    first_contact_resolution: float | None = None
    reassignments: int = 0
    handoffs: int = 0
    response_business: DurationFigures = DurationFigures()
    response_wall: DurationFigures = DurationFigures()
    resolution_business: DurationFigures = DurationFigures()
    resolution_wall: DurationFigures = DurationFigures()
    first_response_sla: ComplianceFigures = ComplianceFigures()
    resolution_sla: ComplianceFigures = ComplianceFigures()
    ola: dict[int, ComplianceFigures] = Field(default_factory=dict)
    time_in_tier: dict[int, float | None] = Field(default_factory=dict)
    waiting_customer: float | None = None
    waiting_rnd: float | None = None
    reopen_rate: float | None = None
    satisfaction: SatisfactionFigures = SatisfactionFigures()
    defects: DefectFigures = DefectFigures()


AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("under_1d", timedelta(days=1)),
    ("1d_3d", timedelta(days=3)),
    ("3d_7d", timedelta(days=7)),
    ("7d_30d", timedelta(days=30)),
    ("over_30d", None),
)


def age_bucket(age: timedelta) -> str:
    """The backlog age bucket of an issue open for `age` (upper bounds exclusive)."""
    for name, bound in AGE_BUCKETS:
        if bound is None or age < bound:
            return name
    raise AssertionError("the last bucket has no bound")


def open_at(facts: IssueFacts, at: datetime) -> bool:
    """In the backlog at `at`: created by then, and not yet (finally) closed or cancelled."""
    return facts.created_at <= at and (facts.ended_at is None or facts.ended_at > at)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _mean(values: Sequence[int]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def figures(
    facts: Iterable[IssueFacts], period: Period, backlog_created: Sequence[datetime] = ()
) -> Figures:
    """The figures of `period` over `facts` (any superset of the period's cohorts).

    `backlog_created` are the creation instants of the issues open at the period's end
    (counted by the store over all history, see `open_at`); their ages make the buckets.
    """
    created, closed, cancelled, responded, rnd = [], [], [], [], []
    fixed: list[IssueFacts] = []
    for f in facts:
        if period.holds(f.created_at):
            created.append(f)
        if period.holds(f.closed_at):
            closed.append(f)
        if period.holds(f.cancelled_at):
            cancelled.append(f)
        if period.holds(f.first_response_at):
            responded.append(f)
        if period.holds(f.defect_linked_at):
            rnd.append(f)
        if period.holds(f.defect_fixed_at):
            fixed.append(f)
    ages = dict.fromkeys((name for name, _ in AGE_BUCKETS), 0)
    for at in backlog_created:
        ages[age_bucket(period.end - at)] += 1
    rated = [f.satisfaction for f in closed if f.satisfaction is not None]
    defects = {f.defect_key for f in rnd if f.defect_key}
    return Figures(
        created=len(created),
        closed=len(closed),
        cancelled=len(cancelled),
        backlog=len(backlog_created),
        backlog_age=ages,
        close_rate=_percent(len(closed), len(created)),
        first_contact_resolution=_percent(
            sum(1 for f in closed if f.first_contact_resolution), len(closed)
        ),
        reassignments=sum(f.reassignments for f in closed),
        handoffs=sum(f.handoffs for f in closed),
        response_business=DurationFigures.of(f.response_business for f in responded),
        response_wall=DurationFigures.of(f.response_wall for f in responded),
        resolution_business=DurationFigures.of(f.resolution_business for f in closed),
        resolution_wall=DurationFigures.of(f.resolution_wall for f in closed),
        first_response_sla=ComplianceFigures.of(f.first_response_sla for f in created),
        resolution_sla=ComplianceFigures.of(f.resolution_sla for f in created),
        ola={
            int(tier): ComplianceFigures.of(getattr(f, _OLA_FIELDS[tier]) for f in closed)
            for tier in Tier
        },
        time_in_tier={
            int(tier): _mean([getattr(f, _TIME_FIELDS[tier]) for f in closed]) for tier in Tier
        },
        waiting_customer=_mean([f.waiting_customer for f in closed]),
        waiting_rnd=_mean([f.waiting_rnd for f in closed]),
        reopen_rate=_percent(sum(1 for f in closed if f.reopen_count > 0), len(closed)),
        satisfaction=SatisfactionFigures(
            rated=len(rated),
            mean=_mean(rated),
            distribution={n: rated.count(n) for n in range(1, 6)},
            response_rate=_percent(len(rated), len(closed)),
        ),
        defects=DefectFigures(
            created=sum(1 for f in rnd if f.defect_created),
            linked_issues=len(rnd),
            defects=len(defects),
            linked_issues_per_defect=round(len(rnd) / len(defects), 3) if defects else None,
            escalation_to_fix=DurationFigures.of(f.escalation_to_fix for f in fixed),
        ),
    )


# --- scheduled reports ----------------------------------------------------------------------------


class ReportScope(StrEnum):
    TEAM = "team"  # for the team's manager: every figure
    ORGANISATION = "organisation"  # for the customer's contacts: the service figures


class ReportRecipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    id: str
    name: str
    email: str | None = None


class ReportAudience(BaseModel):
    """One report's scope and who reads it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: ReportScope
    scope_id: str
    recipients: tuple[ReportRecipient, ...]


class StatsReportRequest(BaseModel):
    """A report schedule's fixed argument: weekly or monthly, and the zone of its periods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: BucketUnit
    timezone: str = "UTC"


class StatsReportInput(BaseModel):
    """One run: report the last complete period before `now` (the workflow's own time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: BucketUnit
    timezone: str
    now: datetime


class StatsReport(BaseModel):
    """One rendered summary for one audience; delivery_id makes every send idempotent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str
    audience: ReportAudience
    period: Period
    subject: str
    body: str
    figures: dict[str, str | int | None]
    email: bool = False  # an SMTP server is configured: send it by e-mail as well


class StatsReports(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period
    reports: tuple[StatsReport, ...] = ()


class StatsReportResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period
    reports: int = 0
    emailed: int = 0


def report_period(request: StatsReportInput) -> Period:
    """The last complete week or month before `now` in the report's zone."""
    zone = ZoneInfo(request.timezone)
    current = bucket_containing(request.now.astimezone(zone).date(), request.unit, zone)
    return previous_period(current, request.unit, zone)


__all__ = [
    "AGE_BUCKETS",
    "Compliance",
    "DrillMetric",
    "Figures",
    "IssueFacts",
    "IssueHeader",
    "Period",
    "age_bucket",
    "figures",
    "issue_facts",
    "open_at",
]
