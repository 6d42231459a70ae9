"""On-site service, pure: every visit and part transition allowed or refused with its reason,
the issue's summary recording each step once, and the resolution clock pausing for parts."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.calendar import BusinessCalendar
from domain.enums import (
    ActorKind,
    Category,
    ContractLevel,
    EventKind,
    IssueState,
    ServiceMode,
    Severity,
    SlaClockKind,
    Tier,
    WarrantyStatus,
)
from domain.lifecycle import CommandRejected, IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CancelCommand,
    Entitlement,
    IssueIntake,
    LifecycleConfig,
    OwnerChoice,
    ProposeResolutionCommand,
    RequestInfoCommand,
    SlaTargets,
)
from domain.onsite import (
    PART_ACTORS,
    PART_TRANSITIONS,
    PartAction,
    PartRequest,
    PartState,
    PartSummary,
    TransitionRefused,
    Visit,
    VisitState,
    VisitSummary,
    check_window,
)
from domain.onsite_contracts import (
    DispatchVisitCommand,
    FieldEngineer,
    OnsiteStep,
    RequestPartCommand,
)
from domain.sla import ResolvedPolicy, SlaPolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START, END = T0 + timedelta(days=2), T0 + timedelta(days=2, hours=4)
OWNER = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice Martin")
OTHER_ENGINEER = Actor(kind=ActorKind.ENGINEER, id="bob", name="Bob Chen")
MANAGER = Actor(kind=ActorKind.MANAGER, id="nina", name="Nina Novak")
DISPATCHER = Actor(kind=ActorKind.DISPATCHER, id="dora", name="Dora Dispatch")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok", name="Ann")
FIELD = Actor(kind=ActorKind.FIELD_ENGINEER, id="felix", name="Felix Field")
OTHER_FIELD = Actor(kind=ActorKind.FIELD_ENGINEER, id="fiona", name="Fiona Far")
WAREHOUSE = Actor(kind=ActorKind.WAREHOUSE, id="tok-wh", name="Walter Warehouse")
FELIX = FieldEngineer(engineer_id="felix", engineer_name="Felix Field")
ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice Martin", tier=Tier.FRONTLINE)
CONFIG = LifecycleConfig(
    sla_targets={
        s: SlaTargets(first_response=timedelta(hours=2), resolution=timedelta(days=2))
        for s in Severity
    }
)


def visit(now: datetime = T0, before: timedelta = timedelta(hours=24)) -> Visit:
    return Visit.schedule(
        visit_id="visit-ITR-1-1",
        issue_id="ITR-1",
        number=1,
        engineer_id="felix",
        engineer_name="Felix Field",
        window_start=START,
        window_end=END,
        reminder_before=before,
        now=now,
    )


def part_in(state: PartState) -> PartRequest:
    """A part walked along the main path until `state` (returned: from picked)."""
    part = PartRequest.request(
        part_id="part-ITR-1-1",
        issue_id="ITR-1",
        number=1,
        part_number="PSU-500W",
        quantity=2,
        warehouse="wh-berlin",
        actor_name="Alice",
        now=T0,
    )
    path = {
        PartState.REQUESTED: [],
        PartState.PICKED: [PartAction.PICK],
        PartState.SHIPPED: [PartAction.PICK, PartAction.SHIP],
        PartState.DELIVERED: [PartAction.PICK, PartAction.SHIP, PartAction.DELIVER],
        PartState.INSTALLED: [
            PartAction.PICK,
            PartAction.SHIP,
            PartAction.DELIVER,
            PartAction.INSTALL,
        ],
        PartState.RETURNED: [PartAction.PICK, PartAction.RETURN],
        PartState.CANCELLED: [],
    }[state]
    for hours, action in enumerate(path, start=1):
        part = part.moved(action, ActorKind.ADMIN, "Admin", T0 + timedelta(hours=hours))
    if state == PartState.CANCELLED:
        part = part.cancelled(T0 + timedelta(hours=1), "ITR")
    return part


# --- appointment windows and visits ---------------------------------------------------------


def test_a_window_must_end_after_it_starts_and_lie_in_the_future() -> None:
    check_window(START, END, T0)
    with pytest.raises(TransitionRefused, match="end after it starts"):
        check_window(END, START, T0)
    with pytest.raises(TransitionRefused, match="end after it starts"):
        check_window(START, START, T0)
    with pytest.raises(TransitionRefused, match="start in the future"):
        check_window(T0, END, T0)


def test_the_reminder_is_due_the_configured_time_before_the_window_or_at_once() -> None:
    assert visit().reminder_at == START - timedelta(hours=24)
    assert visit(before=timedelta(days=5)).reminder_at == T0
    scheduled = visit()
    assert not scheduled.reminder_due(START - timedelta(hours=25))
    assert scheduled.reminder_due(START - timedelta(hours=24))
    reminded = scheduled.reminded(START - timedelta(hours=24))
    assert not reminded.reminder_due(START)
    with pytest.raises(TransitionRefused, match="no reminder"):
        reminded.reminded(START)


def test_the_field_engineer_checks_in_then_out_and_the_time_on_site_is_kept() -> None:
    on_site = visit().checked_in(ActorKind.FIELD_ENGINEER, "felix", START + timedelta(minutes=5))
    assert on_site.state == VisitState.CHECKED_IN and on_site.active
    done = on_site.checked_out(
        ActorKind.FIELD_ENGINEER, "felix", START + timedelta(minutes=95), "PSU replaced"
    )
    assert done.state == VisitState.COMPLETED and not done.active
    assert done.time_on_site == timedelta(minutes=90)
    assert done.report == "PSU replaced"


def test_an_engineer_may_check_in_early_but_not_after_the_window() -> None:
    assert visit().checked_in(ActorKind.FIELD_ENGINEER, "felix", T0).checked_in_at == T0
    with pytest.raises(TransitionRefused, match="window ended"):
        visit().check_check_in(ActorKind.FIELD_ENGINEER, "felix", END)


@pytest.mark.parametrize(
    ("kind", "actor_id", "reason"),
    [
        (ActorKind.FIELD_ENGINEER, "fiona", "Felix Field's; only they"),
        (ActorKind.ENGINEER, "felix", "only the field engineer"),
        (ActorKind.WAREHOUSE, "felix", "only the field engineer"),
        (ActorKind.CUSTOMER, "felix", "only the field engineer"),
    ],
)
def test_only_the_assigned_field_engineer_or_an_admin_checks_in_and_out(
    kind: ActorKind, actor_id: str, reason: str
) -> None:
    with pytest.raises(TransitionRefused, match=reason):
        visit().check_check_in(kind, actor_id, START)
    on_site = visit().checked_in(ActorKind.ADMIN, "admin", START)
    with pytest.raises(TransitionRefused, match=reason):
        on_site.check_check_out(kind, actor_id)


def test_check_out_needs_a_check_in_and_each_happens_once() -> None:
    with pytest.raises(TransitionRefused, match="check in first"):
        visit().check_check_out(ActorKind.FIELD_ENGINEER, "felix")
    on_site = visit().checked_in(ActorKind.FIELD_ENGINEER, "felix", START)
    with pytest.raises(TransitionRefused, match="checked_in"):
        on_site.check_check_in(ActorKind.FIELD_ENGINEER, "felix", START)
    done = on_site.checked_out(ActorKind.FIELD_ENGINEER, "felix", END)
    with pytest.raises(TransitionRefused, match="completed"):
        done.check_check_out(ActorKind.FIELD_ENGINEER, "felix")


def test_a_window_that_ends_without_a_check_in_makes_the_visit_missed() -> None:
    scheduled = visit()
    assert not scheduled.missed_by(END - timedelta(seconds=1))
    with pytest.raises(TransitionRefused, match="not missed"):
        scheduled.missed(START)
    missed = scheduled.missed(END)
    assert missed.state == VisitState.MISSED and missed.missed_at == END and not missed.active
    with pytest.raises(TransitionRefused, match="missed"):
        missed.check_check_in(ActorKind.FIELD_ENGINEER, "felix", END)
    checked_in = scheduled.checked_in(ActorKind.FIELD_ENGINEER, "felix", START)
    assert not checked_in.missed_by(END + timedelta(hours=1))


# --- spare parts ------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(PartAction))
@pytest.mark.parametrize("state", list(PartState))
def test_each_part_step_is_allowed_only_from_its_states(
    action: PartAction, state: PartState
) -> None:
    part = part_in(state)
    sources, target = PART_TRANSITIONS[action]
    if state in sources:
        moved = part.moved(action, ActorKind.ADMIN, "Admin", T0 + timedelta(days=1))
        assert moved.state == target
        assert moved.entered(target) == T0 + timedelta(days=1)
    else:
        with pytest.raises(TransitionRefused, match=f"cannot {action.value} a part that is"):
            part.check(action, ActorKind.ADMIN)


def test_the_part_table_is_the_documented_one() -> None:
    allowed = {
        (source.value, action.value, target.value)
        for action, (sources, target) in PART_TRANSITIONS.items()
        for source in sources
    }
    assert allowed == {
        ("requested", "pick", "picked"),
        ("picked", "ship", "shipped"),
        ("shipped", "deliver", "delivered"),
        ("delivered", "install", "installed"),
        ("picked", "return", "returned"),
        ("shipped", "return", "returned"),
        ("delivered", "return", "returned"),
    }


START_OF: dict[PartAction, PartState] = {
    PartAction.PICK: PartState.REQUESTED,
    PartAction.SHIP: PartState.PICKED,
    PartAction.DELIVER: PartState.SHIPPED,
    PartAction.INSTALL: PartState.DELIVERED,
    PartAction.RETURN: PartState.DELIVERED,
}


@pytest.mark.parametrize("action", list(PartAction))
@pytest.mark.parametrize("kind", list(ActorKind))
def test_each_part_step_is_taken_only_by_whom_it_belongs_to(
    action: PartAction, kind: ActorKind
) -> None:
    part = part_in(START_OF[action])
    expected = {
        PartAction.PICK: {ActorKind.WAREHOUSE, ActorKind.ADMIN},
        PartAction.SHIP: {ActorKind.WAREHOUSE, ActorKind.ADMIN},
        PartAction.DELIVER: {ActorKind.FIELD_ENGINEER, ActorKind.WAREHOUSE, ActorKind.ADMIN},
        PartAction.INSTALL: {ActorKind.FIELD_ENGINEER, ActorKind.ADMIN},
        PartAction.RETURN: {ActorKind.FIELD_ENGINEER, ActorKind.ADMIN},
    }[action]
    assert PART_ACTORS[action] == expected
    if kind in expected:
        part.check(action, kind)
    else:
        with pytest.raises(TransitionRefused, match=f"a {kind.value} cannot {action.value}"):
            part.check(action, kind)


def test_a_part_counts_its_time_in_each_state_and_since_requested() -> None:
    part = part_in(PartState.SHIPPED)  # picked at +1 h, shipped at +2 h
    now = T0 + timedelta(hours=5)
    assert part.time_in_states(now) == {
        PartState.REQUESTED: timedelta(hours=1),
        PartState.PICKED: timedelta(hours=1),
        PartState.SHIPPED: timedelta(hours=3),
    }
    assert part.age(now) == timedelta(hours=5)
    installed = part_in(PartState.INSTALLED)  # installed at +4 h: the clocks stop there
    later = T0 + timedelta(days=3)
    assert installed.age(later) == timedelta(hours=4)
    assert installed.time_in_states(later)[PartState.INSTALLED] == timedelta(0)


def test_a_return_keeps_its_reason_and_ends_the_request() -> None:
    part = part_in(PartState.DELIVERED).moved(
        PartAction.RETURN, ActorKind.FIELD_ENGINEER, "Felix", T0 + timedelta(hours=9), "Wrong PSU"
    )
    assert part.state == PartState.RETURNED and part.finished
    assert part.return_reason == "Wrong PSU"


def test_a_part_request_needs_a_quantity() -> None:
    with pytest.raises(TransitionRefused, match="at least 1"):
        PartRequest.request(
            part_id="p",
            issue_id="i",
            number=1,
            part_number="X",
            quantity=0,
            warehouse="w",
            actor_name="A",
            now=T0,
        )


# --- the issue's side -------------------------------------------------------------------------


def onsite_case(
    mode: ServiceMode = ServiceMode.ON_SITE, policy: ResolvedPolicy | None = None
) -> IssueCase:
    """An on-site issue reported at T0, accepted and assigned to Alice."""
    case = IssueCase.open(
        IssueIntake(
            issue_id="ITR-1",
            organisation_id="acme",
            product_id="router",
            title="Router dead",
            description="No power",
            category=Category.INCIDENT,
            severity=Severity.MAJOR,
            service_mode=mode,
            reporter=CUSTOMER,
            created_at=T0,
        ),
        CONFIG,
    )
    case.register(T0, CUSTOMER)
    entitlement = Entitlement(
        contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
    )
    case.accept(entitlement, T0, policy)
    case.assign_initial(ALICE, T0)
    return case


def dispatch(actor: Actor = OWNER, start: datetime = START) -> DispatchVisitCommand:
    return DispatchVisitCommand(
        actor=actor, window_start=start, window_end=start + timedelta(hours=4)
    )


def test_the_owner_a_manager_or_a_dispatcher_dispatches_a_visit_to_an_on_site_issue() -> None:
    case = onsite_case()
    for actor in (OWNER, MANAGER, DISPATCHER):
        case.check_dispatch_visit(dispatch(actor), T0)
    effects = case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    assert [e.kind for e in effects.events] == [EventKind.VISIT_DISPATCHED]
    assert "Felix on site" in effects.events[0].summary  # the customer reads the first name
    assert {n.kind for n in effects.notifications} == {"visit_dispatched", "visit_scheduled"}
    active = case.onsite.active_visit
    assert active is not None and active.visit_id == "visit-ITR-1-1"
    assert case.onsite.next_visit_number == 2


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        (OTHER_ENGINEER, "only the issue's owner"),
        (CUSTOMER, "a customer cannot dispatch"),
        (FIELD, "a field_engineer cannot dispatch"),
    ],
)
def test_others_cannot_dispatch_a_visit(actor: Actor, reason: str) -> None:
    with pytest.raises(CommandRejected, match=reason):
        onsite_case().check_dispatch_visit(dispatch(actor), T0)


def test_a_visit_is_refused_for_a_remote_issue_a_past_window_or_a_second_active_visit() -> None:
    with pytest.raises(CommandRejected, match="service mode is remote"):
        onsite_case(ServiceMode.REMOTE).check_dispatch_visit(dispatch(), T0)
    case = onsite_case()
    with pytest.raises(CommandRejected, match="start in the future"):
        case.check_dispatch_visit(dispatch(start=T0), T0)
    case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    with pytest.raises(CommandRejected, match="still scheduled; one visit at a time"):
        case.check_dispatch_visit(dispatch(start=END), T0)


def test_a_visit_or_part_is_refused_once_the_issue_is_resolved() -> None:
    case = onsite_case()
    resolve(case)
    with pytest.raises(CommandRejected, match="cannot dispatch a visit to an issue in state"):
        case.check_dispatch_visit(dispatch(), T0)
    with pytest.raises(CommandRejected, match="cannot request a spare part for"):
        case.check_request_part(
            RequestPartCommand(actor=OWNER, part_number="PSU-1", warehouse="wh")
        )


def resolve(case: IssueCase) -> None:
    case.acknowledge(AcknowledgeCommand(actor=OWNER), T0)
    case.propose_resolution(ProposeResolutionCommand(actor=OWNER, summary="Fixed."), T0)
    assert case.status.state == IssueState.AWAITING_CONFIRMATION


def visit_step(seq: int, state: VisitState, kind: EventKind) -> OnsiteStep:
    return OnsiteStep(
        child_id="visit-ITR-1-1",
        seq=seq,
        kind=kind,
        at=START,
        actor=FIELD,
        summary=f"visit 1 {state.value}",
        visit=VisitSummary(
            visit_id="visit-ITR-1-1",
            number=1,
            state=state,
            engineer_id="felix",
            engineer_name="Felix Field",
            window_start=START,
            window_end=END,
        ),
    )


def test_each_step_a_visit_signals_is_recorded_once() -> None:
    case = onsite_case()
    case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    step = visit_step(2, VisitState.CHECKED_IN, EventKind.VISIT_CHECKED_IN)
    first = case.onsite_step(step, START)
    assert [e.kind for e in first.events] == [EventKind.VISIT_CHECKED_IN]
    assert not case.onsite_step(step, START)  # the same signal again: nothing
    late = visit_step(1, VisitState.SCHEDULED, EventKind.VISIT_REMINDED)
    assert not case.onsite_step(late, START)  # an older step after a newer one: nothing
    visit_now = case.onsite.active_visit
    assert visit_now is not None and visit_now.state == VisitState.CHECKED_IN


def test_a_missed_visit_asks_for_a_re_dispatch_until_the_next_one_is_dispatched() -> None:
    case = onsite_case()
    case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    effects = case.onsite_step(visit_step(2, VisitState.MISSED, EventKind.VISIT_MISSED), END)
    assert case.onsite.redispatch_needed and case.onsite.active_visit is None
    (told,) = effects.notifications
    assert told.kind == "visit_missed" and "re-dispatch needed" in told.subject
    assert told.audience.owner and told.audience.owner_manager and told.audience.dispatchers
    case.dispatch_visit(dispatch(start=END + timedelta(days=1)), FELIX, "visit-ITR-1-2", END)
    assert not case.onsite.redispatch_needed
    assert [v.visit_id for v in case.onsite.visits] == ["visit-ITR-1-1", "visit-ITR-1-2"]


def request(case: IssueCase) -> None:
    cmd = RequestPartCommand(actor=OWNER, part_number="PSU-500W", quantity=1, warehouse="wh")
    case.request_part(cmd, "part-ITR-1-1", T0 + timedelta(hours=1))


def part_step(seq: int, state: PartState, kind: EventKind, at: datetime) -> OnsiteStep:
    return OnsiteStep(
        child_id="part-ITR-1-1",
        seq=seq,
        kind=kind,
        at=at,
        actor=WAREHOUSE,
        part=PartSummary(
            part_id="part-ITR-1-1", number=1, part_number="PSU-500W", quantity=1, state=state
        ),
    )


def policy(pause_for_parts: bool) -> ResolvedPolicy:
    return ResolvedPolicy(
        policy=SlaPolicy(
            contract_level=ContractLevel.PREMIUM,
            severity=Severity.MAJOR,
            first_response=timedelta(hours=2),
            resolution=timedelta(days=2),
            pause_for_parts=pause_for_parts,
        ),
        calendar=BusinessCalendar.always(),
        version=1,
    )


def resolution_paused(case: IssueCase) -> bool:
    clock = case.status.clock(SlaClockKind.RESOLUTION)
    assert clock is not None
    return clock.paused


def test_the_resolution_clock_pauses_while_a_part_is_on_its_way_when_the_policy_says_so() -> None:
    case = onsite_case(policy=policy(pause_for_parts=True))
    request(case)
    assert case.onsite.waiting_for_parts and resolution_paused(case)
    shipped = part_step(3, PartState.SHIPPED, EventKind.PART_SHIPPED, T0 + timedelta(hours=3))
    case.onsite_step(shipped, T0 + timedelta(hours=3))
    assert resolution_paused(case)
    delivered = part_step(4, PartState.DELIVERED, EventKind.PART_DELIVERED, T0 + timedelta(hours=5))
    case.onsite_step(delivered, T0 + timedelta(hours=5))
    assert not case.onsite.waiting_for_parts and not resolution_paused(case)
    clock = case.status.clock(SlaClockKind.RESOLUTION)
    assert clock is not None
    assert clock.paused_for(T0 + timedelta(hours=6)) == timedelta(hours=4)


def test_without_the_policy_flag_parts_never_pause_the_clock() -> None:
    case = onsite_case(policy=policy(pause_for_parts=False))
    request(case)
    assert case.onsite.waiting_for_parts and not resolution_paused(case)


def test_the_customer_wait_and_the_part_wait_pause_and_resume_independently() -> None:
    case = onsite_case(policy=policy(pause_for_parts=True))
    case.acknowledge(AcknowledgeCommand(actor=OWNER), T0)
    request(case)
    case.request_info(RequestInfoCommand(actor=OWNER, question="Serial?"), T0 + timedelta(hours=2))
    delivered = part_step(4, PartState.DELIVERED, EventKind.PART_DELIVERED, T0 + timedelta(hours=3))
    case.onsite_step(delivered, T0 + timedelta(hours=3))
    assert resolution_paused(case)  # still waiting for the customer


# --- a cancelled issue calls off what has not started -----------------------------------------


def test_a_cancelled_issue_calls_off_a_visit_nobody_started_only() -> None:
    assert visit().cancelled().state == VisitState.CANCELLED
    on_site = visit().checked_in(ActorKind.FIELD_ENGINEER, "felix", START)
    with pytest.raises(TransitionRefused, match="checked_in visit cannot be called off"):
        on_site.cancelled()
    called_off = visit().cancelled()
    assert not called_off.active and not called_off.missed_by(END)


@pytest.mark.parametrize("state", list(PartState))
def test_a_cancelled_issue_stops_only_parts_still_in_the_warehouse(state: PartState) -> None:
    part = part_in(state)
    if state in (PartState.REQUESTED, PartState.PICKED):
        stopped = part.cancelled(T0 + timedelta(days=1), "ITR")
        assert stopped.state == PartState.CANCELLED and stopped.finished
        assert stopped.age(T0 + timedelta(days=9)) == timedelta(days=1)
    else:
        with pytest.raises(TransitionRefused):
            part.cancelled(T0 + timedelta(days=1), "ITR")


def test_the_issue_names_the_children_to_call_off_once_it_is_cancelled() -> None:
    case = onsite_case()
    case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    request(case)
    cmd = RequestPartCommand(actor=OWNER, part_number="FAN-2", quantity=1, warehouse="wh")
    case.request_part(cmd, "part-ITR-1-2", T0)
    shipped = part_step(3, PartState.SHIPPED, EventKind.PART_SHIPPED, T0 + timedelta(hours=2))
    case.onsite_step(shipped, T0 + timedelta(hours=2))  # part 1 is on its way
    assert case.children_to_call_off() == []  # not cancelled (yet)
    case.cancel(
        CancelCommand(actor=CUSTOMER, reason="Fixed it ourselves."), T0 + timedelta(hours=3)
    )
    assert case.children_to_call_off() == ["visit-ITR-1-1", "part-ITR-1-2"]


def test_a_visit_missed_after_the_issue_was_resolved_asks_nobody_to_re_dispatch() -> None:
    case = onsite_case()
    case.dispatch_visit(dispatch(), FELIX, "visit-ITR-1-1", T0)
    resolve(case)
    effects = case.onsite_step(visit_step(2, VisitState.MISSED, EventKind.VISIT_MISSED), END)
    assert [e.kind for e in effects.events] == [EventKind.VISIT_MISSED]
    assert effects.notifications == []
