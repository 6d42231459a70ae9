"""Statistics from hand-built timelines: facts and figures with answers worked out by hand."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import BusinessCalendar
from domain.enums import (
    ActorKind,
    Category,
    Channel,
    ContractLevel,
    IssueState,
    Severity,
    Tier,
    WarrantyStatus,
)
from domain.lifecycle import Effects, IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    CancelCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    Entitlement,
    EscalateCommand,
    IssueIntake,
    LifecycleConfig,
    OwnerChoice,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
    SlaTargets,
    TimelineEvent,
)
from domain.sla import ResolvedPolicy, SlaPolicy, TierBudget
from domain.stats import (
    BucketUnit,
    Compliance,
    IssueFacts,
    IssueHeader,
    Period,
    age_bucket,
    bucket_containing,
    buckets,
    figures,
    issue_facts,
    open_at,
    previous_period,
)

HOUR = timedelta(hours=1)
ENGINEER = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok", name="Ann")
ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE)
CAROL = OwnerChoice(engineer_id="carol", engineer_name="Carol", tier=Tier.FRONTLINE)
BOB = OwnerChoice(engineer_id="bob", engineer_name="Bob", tier=Tier.EXPERT)
CONFIG = LifecycleConfig(
    sla_targets={
        s: SlaTargets(first_response=timedelta(hours=1), resolution=timedelta(days=1))
        for s in Severity
    }
)
BERLIN_OFFICE = BusinessCalendar.uniform(
    name="berlin-office", timezone="Europe/Berlin", intervals=[("09:00", "17:00")]
)
OFFICE_POLICY = ResolvedPolicy(
    policy=SlaPolicy(
        contract_level=ContractLevel.PREMIUM,
        severity=Severity.MAJOR,
        first_response=timedelta(hours=4),
        resolution=timedelta(hours=16),
        calendar="berlin-office",
        tier_budgets={Tier.FRONTLINE: TierBudget(share=0.5)},
    ),
    calendar=BERLIN_OFFICE,
    version=1,
)
PREMIUM = Entitlement(
    contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)
# Friday 6 March 2026, 16:00 in Berlin (CET): one business hour left before the weekend.
FRIDAY_4PM = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


class Recorder:
    """Drives an IssueCase and keeps every event it records, as the read model would."""

    def __init__(self, at: datetime, policy: ResolvedPolicy | None = None) -> None:
        self.intake = IssueIntake(
            issue_id="ITR-1",
            organisation_id="acme",
            product_id="router",
            title="Down",
            description="All down",
            category=Category.INCIDENT,
            severity=Severity.MAJOR,
            channel=Channel.EMAIL,
            reporter=CUSTOMER,
            created_at=at,
        )
        self.case = IssueCase.open(self.intake, CONFIG)
        self.events: list[TimelineEvent] = []
        self.keep(self.case.register(at, CUSTOMER))
        self.keep(self.case.accept(PREMIUM, at, policy))
        self.keep(self.case.assign_initial(ALICE, at))

    def keep(self, effects: Effects) -> None:
        self.events.extend(effects.events)

    def facts(self) -> IssueFacts:
        header = IssueHeader(
            issue_id="ITR-1",
            organisation_id="acme",
            product_id="router",
            category=Category.INCIDENT,
            severity=Severity.MAJOR,
            channel=Channel.EMAIL,
            contract_level=ContractLevel.PREMIUM,
            created_at=self.intake.created_at,
        )
        return issue_facts(header, self.events, self.case.status.sla)


def test_business_time_skips_the_weekend_and_the_customers_pause() -> None:
    issue = Recorder(FRIDAY_4PM, OFFICE_POLICY)
    case = issue.case
    issue.keep(case.acknowledge(AcknowledgeCommand(actor=ENGINEER), MONDAY + HOUR))
    issue.keep(
        case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), MONDAY + 2 * HOUR)
    )
    tuesday = MONDAY + timedelta(days=1)
    issue.keep(
        case.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="here"), tuesday + 2 * HOUR)
    )
    resolved = tuesday + 6 * HOUR  # 15:00 in Berlin
    issue.keep(
        case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), resolved)
    )
    closed = resolved + HOUR
    issue.keep(
        case.confirm_closure(
            ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=4), closed
        )
    )
    facts = issue.facts()
    # Fri 16-17 and Mon 9-10: two business hours; 66 hours on the wall.
    assert facts.response_business == 2 * 3600
    assert facts.response_wall == 66 * 3600
    # Fri 1 h + Mon 8 h + Tue 6 h of business time, less the wait (Mon 11-17, Tue 9-11).
    assert facts.resolution_business == 7 * 3600
    assert facts.resolution_wall == 95 * 3600
    assert facts.waiting_customer == 24 * 3600
    # Tier 1 held it from acceptance to the question (67 h) and after the reply (4 h).
    assert facts.time_tier_1 == 71 * 3600
    assert facts.first_response_sla == Compliance.MET
    assert facts.resolution_sla == Compliance.MET
    assert facts.first_contact_resolution
    assert facts.ola_tier_1 == Compliance.MET  # 7 of its 8 business hours
    assert facts.satisfaction == 4
    assert facts.closed_at == closed and facts.resolved_at == resolved
    assert facts.engineer_id == "alice" and facts.calendar == "berlin-office"
    assert facts.state == IssueState.CLOSED and facts.ended_at == closed


def test_a_breach_stays_counted_after_the_issue_is_escalated_reassigned_and_reopened() -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    issue = Recorder(t0)  # default targets, 24x7: first response within 1 h
    case = issue.case
    issue.keep(case.on_time(t0 + 2 * HOUR))
    issue.keep(case.assign(AssignCommand(actor=ENGINEER, engineer=CAROL), t0 + 2 * HOUR))
    issue.keep(
        case.escalate(
            EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="x"), t0 + 3 * HOUR, BOB
        )
    )
    issue.keep(
        case.propose_resolution(
            ProposeResolutionCommand(actor=ENGINEER, summary="f"), t0 + 5 * HOUR
        )
    )
    issue.keep(
        case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), t0 + 6 * HOUR)
    )
    issue.keep(case.reopen(ReopenCommand(actor=CUSTOMER, reason="again"), t0 + 7 * HOUR))
    facts = issue.facts()
    assert facts.first_response_sla == Compliance.BREACHED
    assert facts.resolution_sla == Compliance.OPEN  # reopened: still counting
    assert facts.state == IssueState.IN_PROGRESS and facts.closed_at is None
    assert facts.escalations == 1 and facts.reassignments == 1 and facts.handoffs == 2
    assert not facts.first_contact_resolution
    assert facts.reopen_count == 1
    # Tier 1 until the escalation, tier 2 until the proposal; the reopen has no span yet.
    assert facts.time_tier_1 == 3 * 3600 and facts.time_tier_2 == 2 * 3600
    issue.keep(
        case.propose_resolution(
            ProposeResolutionCommand(actor=ENGINEER, summary="g"), t0 + 8 * HOUR
        )
    )
    issue.keep(
        case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), t0 + 9 * HOUR)
    )
    again = issue.facts()
    assert again.resolved_at == t0 + 8 * HOUR and again.resolution_wall == 8 * 3600
    assert again.engineer_id == "bob" and again.first_owner_id == "alice"
    assert again.ola_tier_2 is None  # the default policy gives tier 2 no budget of its own


def test_an_issue_cancelled_before_any_answer_counts_in_no_compliance() -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    issue = Recorder(t0)
    issue.keep(issue.case.cancel(CancelCommand(actor=CUSTOMER, reason="gone"), t0 + HOUR / 2))
    facts = issue.facts()
    assert facts.first_response_sla is None and facts.resolution_sla is None
    assert facts.cancelled_at == t0 + HOUR / 2 and facts.ended_at == facts.cancelled_at


def _facts(issue_id: str, created: datetime, **values: object) -> IssueFacts:
    return IssueFacts.model_validate(
        {
            "issue_id": issue_id,
            "organisation_id": "acme",
            "product_id": "router",
            "category": Category.INCIDENT,
            "severity": Severity.MAJOR,
            "channel": Channel.PORTAL,
            "created_at": created,
            **values,
        }
    )


def test_figures_count_each_cohort_with_its_own_formula() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    week = Period(start=day, end=day + timedelta(days=7))
    before = day - timedelta(days=3)
    rows = [
        _facts(
            "a",
            day,
            closed_at=day + HOUR,
            ended_at=day + HOUR,
            first_response_at=day,
            response_wall=600,
            response_business=300,
            resolution_wall=3600,
            resolution_business=1800,
            first_response_sla=Compliance.MET,
            resolution_sla=Compliance.MET,
            first_contact_resolution=True,
            satisfaction=5,
            time_tier_1=3600,
        ),
        _facts(
            "b",
            day + HOUR,
            first_response_at=day + 2 * HOUR,
            response_wall=3600,
            response_business=3600,
            first_response_sla=Compliance.BREACHED,
            resolution_sla=Compliance.OPEN,
        ),
        _facts(
            "c",
            before,
            closed_at=day + 3 * HOUR,
            ended_at=day + 3 * HOUR,
            resolution_wall=7200,
            resolution_business=7200,
            reassignments=2,
            handoffs=3,
            reopen_count=1,
            satisfaction=None,
            time_tier_1=7200,
        ),
        _facts("d", before, cancelled_at=day, ended_at=day),
    ]
    result = figures(rows, week, backlog_created=[day + HOUR])
    assert (result.created, result.closed, result.cancelled, result.backlog) == (2, 2, 1, 1)
    assert result.close_rate == 100.0
    assert result.first_contact_resolution == 50.0
    assert result.reassignments == 2 and result.handoffs == 3
    assert result.response_wall.count == 2 and result.response_wall.mean == 2100
    assert result.response_wall.median == 2100 and result.response_wall.p90 == 3600
    assert result.resolution_business.mean == 4500
    assert result.first_response_sla.rate == 50.0
    assert result.resolution_sla.open_on_track == 1 and result.resolution_sla.rate == 100.0
    assert result.reopen_rate == 50.0
    assert result.satisfaction.mean == 5 and result.satisfaction.response_rate == 50.0
    assert result.satisfaction.distribution[5] == 1
    assert result.time_in_tier[1] == 5400
    assert result.backlog_age["over_30d"] == 0 and result.backlog_age["3d_7d"] == 1


def test_the_backlog_holds_an_issue_from_its_creation_until_it_ends() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    facts = _facts("a", day, closed_at=day + HOUR, ended_at=day + HOUR)
    assert not open_at(facts, day - timedelta(seconds=1))
    assert open_at(facts, day) and open_at(facts, day + HOUR / 2)
    assert not open_at(facts, day + HOUR)
    assert age_bucket(timedelta(hours=23)) == "under_1d"
    assert age_bucket(timedelta(days=1)) == "1d_3d"
    assert age_bucket(timedelta(days=31)) == "over_30d"


def test_local_buckets_follow_the_zone_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    week = bucket_containing(date(2026, 3, 26), BucketUnit.WEEK, berlin)  # DST starts Sun 29
    assert week.start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)  # Monday 00:00 CET
    assert week.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # Monday 00:00 CEST
    days = buckets(week, BucketUnit.DAY, berlin)
    assert len(days) == 7
    assert days[-1].end - days[-1].start == timedelta(hours=23)
    month = bucket_containing(date(2026, 3, 15), BucketUnit.MONTH, berlin)
    assert previous_period(month, BucketUnit.MONTH, berlin) == bucket_containing(
        date(2026, 2, 1), BucketUnit.MONTH, berlin
    )
    ranged = Period(start=week.start + HOUR, end=week.end)
    assert previous_period(ranged, None, berlin).end == ranged.start
    assert buckets(ranged, BucketUnit.DAY, berlin)[0].start == ranged.start  # clipped


def test_taking_an_issue_escalated_with_nobody_to_own_it_is_no_reassignment() -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    issue = Recorder(t0)
    case = issue.case
    issue.keep(case.acknowledge(AcknowledgeCommand(actor=ENGINEER), t0))
    escalation = EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="deeper")
    issue.keep(case.escalate(escalation, t0 + HOUR, None))
    issue.keep(case.assign(AssignCommand(actor=ENGINEER, engineer=BOB), t0 + 2 * HOUR))
    facts = issue.facts()
    assert (facts.escalations, facts.reassignments, facts.handoffs) == (1, 0, 1)
    assert facts.engineer_id == "bob" and facts.tier == Tier.EXPERT
