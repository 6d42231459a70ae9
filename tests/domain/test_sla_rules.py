"""The SLA rules of an issue, pure: which clocks run when, exact instants in business time.

Every instant here is exact (no timers involved): the workflow sleeps until
`IssueCase.next_wakeup()` and calls `on_time`, so these are the instants it acts at.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.calendar import BusinessCalendar
from domain.enums import (
    ActorKind,
    ContractLevel,
    EventKind,
    IssueState,
    Severity,
    SlaClockKind,
    Tier,
)
from domain.lifecycle import CommandRejected, Effects, FollowUp, IssueCase
from domain.models import (
    SYSTEM_ACTOR,
    AcknowledgeCommand,
    Actor,
    ChangeSeverityCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    EscalateCommand,
    LifecycleConfig,
    OwnerChoice,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    ReopenCommand,
    RequestInfoCommand,
    SlaTargets,
)
from domain.sla import BreachAction, ResolvedPolicy, SlaClock, SlaPolicy, TierBudget
from tests.domain.test_lifecycle import BOB, CUSTOMER, ENGINEER, assigned_case

BERLIN = "Europe/Berlin"
OFFICE = BusinessCalendar.uniform(name="office", timezone=BERLIN, intervals=[(time(9), time(17))])
MANAGER = Actor(kind=ActorKind.MANAGER, id="mona", name="Mona")
RITA = OwnerChoice(engineer_id="rita", engineer_name="Rita", tier=Tier.RND)
CONFIG = LifecycleConfig(
    sla_targets={
        s: SlaTargets(first_response=timedelta(hours=4), resolution=timedelta(days=3))
        for s in Severity
    }
)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock instant as UTC (CET +1 before 29 March 2026, CEST +2 after)."""
    offset = 2 if day >= date(2026, 3, 29) else 1
    return datetime(day.year, day.month, day.day, hour - offset, minute, tzinfo=UTC)


MON = date(2026, 3, 2)
TUE = date(2026, 3, 3)
WED = date(2026, 3, 4)
FRI = date(2026, 3, 6)


def policy(
    severity: Severity = Severity.MAJOR,
    *,
    first_response: timedelta = timedelta(hours=2),
    resolution: timedelta = timedelta(hours=16),
    calendar: BusinessCalendar = OFFICE,
    actions: tuple[BreachAction, ...] = (BreachAction.NOTIFY_MANAGER, BreachAction.ESCALATE),
    pause_rnd: bool = False,
    version: int = 1,
) -> ResolvedPolicy:
    """Premium: 2 h first response, 16 business hours to resolve, split 25/50/25 by tier."""
    return ResolvedPolicy(
        policy=SlaPolicy(
            contract_level=ContractLevel.PREMIUM,
            severity=severity,
            first_response=first_response,
            resolution=resolution,
            calendar=calendar.name,
            tier_budgets={
                Tier.FRONTLINE: TierBudget(share=0.25),
                Tier.EXPERT: TierBudget(share=0.5),
                Tier.RND: TierBudget(share=0.25),
            },
            breach_actions=actions,
            pause_while_waiting_for_rnd=pause_rnd,
        ),
        calendar=calendar,
        version=version,
    )


def reported(
    at: datetime, promised: ResolvedPolicy | None, severity: Severity = Severity.MAJOR
) -> IssueCase:
    """An issue reported `at`, accepted and assigned to Alice at that same instant."""
    return assigned_case(severity, at=at, policy=promised, config=CONFIG)


def clock(case: IssueCase, kind: SlaClockKind) -> SlaClock:
    found = case.status.clock(kind)
    assert found is not None, kind
    return found


def deadline(case: IssueCase, kind: SlaClockKind) -> datetime | None:
    assert case.status.sla is not None
    return clock(case, kind).deadline(case.status.sla.calendar)


def fired(effects: Effects) -> list[tuple[str, object]]:
    return [
        (str(e.data["clock"]), e.data["percent"])
        for e in effects.events
        if e.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED)
    ]


# --- the promise at intake -------------------------------------------------------------------


def test_clocks_count_business_time_from_the_report_across_the_weekend() -> None:
    case = reported(berlin(FRI, 16), policy())
    # 1 h on Friday, the rest on Monday morning.
    assert deadline(case, SlaClockKind.FIRST_RESPONSE) == berlin(date(2026, 3, 9), 10)
    # 16 h: Friday 1 h, Monday 8 h, Tuesday 7 h.
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(date(2026, 3, 10), 16)
    # Tier 1's budget (25 % = 4 h) starts when tier 1 takes the issue.
    assert deadline(case, SlaClockKind.TIER_1) == berlin(date(2026, 3, 9), 12)
    # The first checkpoint: 50 % of the first response (1 h) reached at Friday 17:00.
    assert case.next_wakeup() == berlin(FRI, 17)


def test_a_holiday_inside_the_window_is_skipped() -> None:
    easter = OFFICE.model_copy(update={"name": "office-easter", "holidays": (date(2026, 3, 9),)})
    case = reported(berlin(FRI, 16), policy(calendar=easter))
    assert deadline(case, SlaClockKind.FIRST_RESPONSE) == berlin(date(2026, 3, 10), 10)


def test_the_dst_night_changes_nothing_in_business_time() -> None:
    friday = date(2026, 3, 27)  # clocks go forward on Sunday 29 March
    case = reported(berlin(friday, 16), policy())
    monday = date(2026, 3, 30)
    assert deadline(case, SlaClockKind.FIRST_RESPONSE) == berlin(monday, 10)
    assert berlin(monday, 10) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # CEST
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(date(2026, 3, 31), 16)


def test_without_a_policy_the_default_targets_apply_around_the_clock() -> None:
    case = reported(berlin(FRI, 16), None)
    assert case.status.sla is not None and case.status.sla.fallback
    assert deadline(case, SlaClockKind.FIRST_RESPONSE) == berlin(FRI, 20)
    # No tier budgets in the defaults: tier 1's clock measures but never breaches.
    assert deadline(case, SlaClockKind.TIER_1) is None


# --- warnings and breaches -----------------------------------------------------------------


def test_each_warning_and_the_breach_fire_exactly_once_at_their_instants() -> None:
    case = reported(berlin(MON, 9), policy())
    seen: list[tuple[str, object]] = []
    instants: list[datetime] = []
    while (wakeup := case.next_wakeup()) is not None and wakeup <= berlin(MON, 11):
        instants.append(wakeup)
        effects = case.on_time(wakeup)
        seen += fired(effects)
        assert not case.on_time(wakeup).events  # a second wake-up at the same instant: nothing
    assert seen == [
        ("first_response", 50),
        ("first_response", 75),
        ("first_response", 90),
        ("first_response", 100),
        ("tier_1", 50),
    ]
    assert instants == [
        berlin(MON, 10),
        berlin(MON, 10, 30),
        berlin(MON, 10, 48),
        berlin(MON, 11),
    ]


def test_a_late_wake_up_fires_everything_due_in_order_once() -> None:
    case = reported(berlin(MON, 9), policy())
    effects = case.on_time(berlin(MON, 12))
    assert fired(effects) == [
        ("first_response", 50),
        ("first_response", 75),
        ("first_response", 90),
        ("first_response", 100),
        ("tier_1", 50),
        ("tier_1", 75),
    ]
    breach = next(e for e in effects.events if e.kind == EventKind.SLA_BREACHED)
    assert breach.data["due_at"] == berlin(MON, 11).isoformat()
    assert "sla_breached" in [n.kind for n in effects.notifications]


def test_a_breach_that_came_due_before_a_response_is_still_recorded() -> None:
    case = reported(berlin(MON, 9), policy())
    late = berlin(MON, 11, 30)
    caught_up = case.sla_due(late)  # the workflow does this before every command
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), late)
    assert ("first_response", 100) in fired(caught_up)
    assert clock(case, SlaClockKind.FIRST_RESPONSE).breached
    assert clock(case, SlaClockKind.FIRST_RESPONSE).stopped_at == late


def test_a_tier_budget_breach_escalates_to_the_next_tier() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    effects = case.on_time(berlin(MON, 13))  # tier 1's 4 h are used up
    assert ("tier_1", 100) in fired(effects)
    assert effects.follow_ups == [
        FollowUp(escalate_to=Tier.EXPERT, reason="tier-1 budget breached (SLA policy: escalate)")
    ]
    # The workflow then escalates (choosing an owner first): tier 1 stops, tier 2 starts.
    cmd = EscalateCommand(actor=SYSTEM_ACTOR, to_tier=Tier.EXPERT, reason="budget")
    case.escalate(cmd, berlin(MON, 13), BOB)
    assert clock(case, SlaClockKind.TIER_1).stopped
    assert deadline(case, SlaClockKind.TIER_2) == berlin(TUE, 13)  # 8 h later
    assert not fired(case.on_time(berlin(MON, 13)))  # tier 1's breach does not repeat


def test_the_r_and_d_budget_breach_tells_the_managers_there_is_no_tier_above() -> None:
    case = reported(berlin(MON, 9), policy(actions=(BreachAction.ESCALATE,)))
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.escalate(
        EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="bug"), berlin(MON, 10), RITA
    )
    effects = case.on_time(berlin(MON, 14))  # 4 h of R&D budget
    assert ("tier_3", 100) in fired(effects)
    assert effects.follow_ups == []
    breach = [n for n in effects.notifications if n.kind == "sla_breached"]
    assert breach and breach[0].audience.owner_manager


def test_raise_priority_asks_for_the_next_severity_and_stops_at_critical() -> None:
    raise_it = (BreachAction.RAISE_PRIORITY,)
    case = reported(berlin(MON, 9), policy(actions=raise_it))
    effects = case.on_time(berlin(MON, 11))
    assert (
        FollowUp(
            raise_to=Severity.CRITICAL,
            reason="first_response breached (SLA policy: raise priority)",
        )
        in effects.follow_ups
    )
    critical = reported(
        berlin(MON, 9), policy(Severity.CRITICAL, actions=raise_it), Severity.CRITICAL
    )
    assert critical.on_time(berlin(MON, 11)).follow_ups == []


# --- pause and resume --------------------------------------------------------------------------


def test_waiting_for_the_customer_pauses_and_the_reply_resumes_with_the_pause_accounted() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), berlin(MON, 10))
    assert clock(case, SlaClockKind.RESOLUTION).paused
    assert clock(case, SlaClockKind.TIER_1).paused
    assert case.status.next_deadline is None  # nothing counts down while we wait
    assert not fired(case.on_time(berlin(WED, 9)))  # no warning fires during the pause
    case.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="here"), berlin(TUE, 10))
    resolution = clock(case, SlaClockKind.RESOLUTION)
    assert resolution.running and resolution.paused_total == timedelta(hours=24)
    # 1 h counted before the pause, 15 h after it: Tuesday 10-17 and all of Wednesday.
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(WED, 17)
    assert case.status.sla is not None
    views = {v.clock: v for v in case.status.sla.views(berlin(WED, 17))}
    assert views["resolution"].elapsed == timedelta(hours=16)
    assert views["resolution"].remaining == timedelta(0)
    assert views["resolution"].paused == timedelta(hours=24)
    assert [e.data for e in case.on_time(berlin(WED, 17)).events if e.kind == "sla_breached"]


def test_waiting_for_r_and_d_pauses_the_resolution_clock_where_the_policy_says_so() -> None:
    case = reported(berlin(MON, 9), policy(pause_rnd=True))
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.escalate(
        EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="bug"), berlin(MON, 10), RITA
    )
    assert clock(case, SlaClockKind.RESOLUTION).paused
    assert clock(case, SlaClockKind.TIER_3).running  # R&D's own budget keeps counting
    assert case.status.next_deadline is None  # the customer's promise waits with R&D
    assert case.status.sla is not None
    assert case.status.sla.next_ola_breach_at == deadline(case, SlaClockKind.TIER_3)
    assert deadline(case, SlaClockKind.TIER_3) == berlin(MON, 14)
    no_pause = reported(berlin(MON, 9), policy())
    no_pause.escalate(
        EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="bug"), berlin(MON, 10), RITA
    )
    assert clock(no_pause, SlaClockKind.RESOLUTION).running


def test_a_rejected_resolution_resumes_the_same_cycle_and_nothing_fires_twice() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    first = fired(case.on_time(berlin(MON, 17)))  # 8 h: resolution at 50 %
    assert ("resolution", 50) in first
    case.propose_resolution(
        ProposeResolutionCommand(actor=ENGINEER, summary="fix"), berlin(MON, 17)
    )
    assert clock(case, SlaClockKind.RESOLUTION).stopped
    # Stopped clocks do not wake the workflow: only the confirmation reminder does.
    assert case.next_wakeup() == berlin(MON, 17) + CONFIG.confirmation_reminder_after
    case.confirm_closure(
        ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="still broken"), berlin(TUE, 9)
    )
    resolution = clock(case, SlaClockKind.RESOLUTION)
    assert resolution.running and resolution.cycle == 1
    # Resumed from 8 h at Tuesday 09:00: 75 % (12 h) at 13:00, nothing at 50 % again.
    assert fired(case.on_time(berlin(TUE, 13))) == [("resolution", 75)]


def test_a_reopened_issue_starts_a_new_cycle_where_every_threshold_fires_again() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.on_time(berlin(MON, 17))
    case.propose_resolution(
        ProposeResolutionCommand(actor=ENGINEER, summary="fix"), berlin(MON, 17)
    )
    case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), berlin(TUE, 9))
    case.reopen(ReopenCommand(actor=CUSTOMER, reason="back"), berlin(WED, 9))
    resolution = clock(case, SlaClockKind.RESOLUTION)
    assert resolution.cycle == 2 and resolution.fired == () and resolution.running
    assert clock(case, SlaClockKind.TIER_1).running and clock(case, SlaClockKind.TIER_1).cycle == 2
    assert ("resolution", 50) in fired(case.on_time(berlin(WED, 17)))


# --- severity changes and policy re-apply ------------------------------------------------------


def test_a_severity_change_keeps_the_counted_time_and_fires_passed_thresholds_once() -> None:
    minor = policy(
        Severity.MINOR,
        first_response=timedelta(hours=8),
        resolution=timedelta(hours=40),
        actions=(BreachAction.NOTIFY_MANAGER,),
    )
    case = reported(berlin(MON, 9), minor, Severity.MINOR)
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    before = fired(case.on_time(berlin(TUE, 11)))
    assert ("resolution", 50) not in before
    # 10 business hours counted: 25 % of 40 h, but 62.5 % of the major target of 16 h.
    change = ChangeSeverityCommand(actor=MANAGER, severity=Severity.MAJOR, reason="all sites")
    effects = case.change_severity(change, policy(), berlin(TUE, 11))
    assert case.status.severity == Severity.MAJOR
    told = [n for n in effects.notifications if n.kind == "severity_changed"]
    assert len(told) == 1 and told[0].audience.reporter  # the customer hears of it ...
    assert "all sites" not in told[0].model_dump_json()  # ... but never the internal reason
    assert [e.kind for e in effects.events][:2] == [
        EventKind.SEVERITY_CHANGED,
        EventKind.SLA_POLICY_APPLIED,
    ]
    assert clock(case, SlaClockKind.RESOLUTION).elapsed(OFFICE, berlin(TUE, 11)) == timedelta(
        hours=10
    )
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(TUE, 17)
    wakeup = case.next_wakeup()  # the 50 % warning is already due: wake at once
    assert wakeup is not None and wakeup <= berlin(TUE, 11)
    assert ("resolution", 50) in fired(case.on_time(berlin(TUE, 11)))
    assert ("resolution", 50) not in fired(case.on_time(berlin(TUE, 11, 1)))
    with pytest.raises(CommandRejected, match="already has severity 2"):
        case.check_change_severity(change)


def test_reapplying_a_policy_recounts_the_recorded_history_in_the_new_calendar() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), berlin(TUE, 10))
    assert clock(case, SlaClockKind.RESOLUTION).consumed == timedelta(hours=9)
    # The admin declares Monday a holiday, after the fact, and re-applies.
    holiday = OFFICE.model_copy(update={"name": "office-v2", "holidays": (MON,)})
    case.reapply_sla(
        ReapplySlaCommand(actor=MANAGER, reason="Monday was a holiday"),
        policy(calendar=holiday, version=2),
        berlin(TUE, 11),
    )
    assert case.status.sla is not None and case.status.sla.policy.version == 2
    assert clock(case, SlaClockKind.RESOLUTION).consumed == timedelta(hours=1)
    case.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="logs"), berlin(WED, 9))
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(date(2026, 3, 5), 16)


def test_an_edit_of_the_policy_tables_never_reaches_the_snapshot() -> None:
    promised = policy()
    case = reported(berlin(MON, 9), promised)
    assert case.status.sla is not None
    assert case.status.sla.policy == promised  # only reapply/change_severity replace it


def test_sla_commands_are_refused_on_a_closed_issue() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.propose_resolution(
        ProposeResolutionCommand(actor=ENGINEER, summary="fix"), berlin(MON, 10)
    )
    case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), berlin(MON, 11))
    assert case.status.state == IssueState.CLOSED
    with pytest.raises(CommandRejected, match="closed"):
        case.check_reapply_sla(ReapplySlaCommand(actor=MANAGER))
    with pytest.raises(CommandRejected, match="closed"):
        case.check_change_severity(
            ChangeSeverityCommand(actor=MANAGER, severity=Severity.LOW, reason="x")
        )


def test_the_first_response_clock_never_restarts_once_stopped() -> None:
    case = reported(berlin(MON, 9), policy())
    # Escalated straight from assignment (nobody answered yet), then resolved by tier 2.
    case.escalate(
        EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="hard"), berlin(MON, 9, 30), BOB
    )
    case.propose_resolution(
        ProposeResolutionCommand(actor=ENGINEER, summary="fix"), berlin(MON, 10)
    )
    assert case.status.first_response_at == berlin(MON, 10)
    case.confirm_closure(
        ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="no"), berlin(MON, 10, 30)
    )
    first = clock(case, SlaClockKind.FIRST_RESPONSE)
    assert first.stopped and not first.breached
    assert not [f for f in fired(case.on_time(berlin(TUE, 17))) if f[0] == "first_response"]


def test_a_breached_clock_keeps_its_deadline_through_a_pause() -> None:
    case = reported(berlin(MON, 9), policy())
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    case.on_time(berlin(TUE, 17))  # 16 h: resolution breached at Tuesday 17:00
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(TUE, 17)
    case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), berlin(WED, 10))
    case.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="here"), berlin(WED, 15))
    assert clock(case, SlaClockKind.RESOLUTION).breached
    assert deadline(case, SlaClockKind.RESOLUTION) == berlin(TUE, 17)
    assert case.status.next_deadline is None  # nothing left to breach


def test_a_warning_a_new_policy_adds_after_the_breach_never_fires() -> None:
    sparse = policy(resolution=timedelta(hours=4))
    case = reported(
        berlin(MON, 9),
        sparse.model_copy(update={"policy": sparse.policy.model_copy(update={"warnings": (50,)})}),
    )
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), berlin(MON, 9, 30))
    assert ("resolution", 100) in fired(case.on_time(berlin(MON, 13)))
    case.reapply_sla(
        ReapplySlaCommand(actor=MANAGER), policy(resolution=timedelta(hours=4)), berlin(MON, 14)
    )
    # The new 75/90 % warnings are moot, and every other threshold has fired: nothing to wake for.
    assert case.next_wakeup() is None
    assert not [f for f in fired(case.on_time(berlin(MON, 15))) if f[0] == "resolution"]
