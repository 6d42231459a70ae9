"""The path an issue took, read from a timeline the real state machine wrote."""

import itertools
from datetime import timedelta

from domain.enums import (
    ActorKind,
    ContractLevel,
    EventKind,
    IssueState,
    SlaClockKind,
    Tier,
    WarrantyStatus,
)
from domain.issue_path import issue_path, public_path
from domain.lifecycle_graph import Lane
from domain.models import (
    AcceptOfferCommand,
    AcknowledgeCommand,
    Actor,
    ClaimCommand,
    Entitlement,
    EscalateCommand,
    HandBackCommand,
    OwnerAnswer,
)
from tests.domain.test_lifecycle import T0, reported_case
from tests.support.journeys import (
    ALICE,
    CUSTOMER_ACTOR,
    ENGINEER,
    FRANK,
    Journey,
    long_journey,
)

S = IssueState


def test_the_path_lists_every_stage_in_order_with_repeated_visits_numbered() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    assert [(v.state, v.lane, v.visit) for v in visits] == [
        (S.NEW, Lane.TIER_1, 1),
        (S.ACCEPTED, Lane.TIER_1, 1),
        (S.ASSIGNED, Lane.TIER_1, 1),
        (S.IN_PROGRESS, Lane.TIER_1, 1),
        (S.WAITING_CUSTOMER, Lane.CUSTOMER, 1),
        (S.IN_PROGRESS, Lane.TIER_1, 2),
        (S.ESCALATED, Lane.TIER_2, 1),
        (S.WAITING_CUSTOMER, Lane.CUSTOMER, 2),
        (S.ESCALATED, Lane.TIER_2, 2),
        (S.ESCALATED, Lane.TIER_3, 1),
        (S.ESCALATED, Lane.TIER_2, 3),
    ]
    assert [v.current for v in visits] == [False] * 10 + [True]
    assert all(a.left_at == b.entered_at for a, b in itertools.pairwise(visits))


def test_each_visit_names_its_owner_and_where_it_waited() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    assert [v.owner_id for v in visits[2:7]] == ["alice"] * 4 + ["frank"]
    assert visits[9].owner_id == "rita" and visits[9].tier == Tier.RND
    assert visits[9].waiting_for == "rnd"
    assert visits[4].waiting_for == "customer" and visits[3].waiting_for is None


def test_sla_marks_land_on_the_visit_during_which_they_fired() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    marks = [(i, m.clock, m.breached) for i, v in enumerate(visits) for m in v.marks]
    assert marks, "the journey runs long enough for warnings"
    assert any(clock == SlaClockKind.RESOLUTION and breached for _, clock, breached in marks)
    first_response_marks = [i for i, clock, _ in marks if clock == SlaClockKind.FIRST_RESPONSE]
    assert all(i <= 3 for i in first_response_marks)  # answered in the first in-progress


def test_the_customer_path_merges_the_tiers_and_shows_no_owner_or_internal_clock() -> None:
    visits = public_path(issue_path(long_journey(reported_case(), T0).events))
    assert {v.lane for v in visits} == {Lane.SUPPORT, Lane.CUSTOMER}
    assert [v.state for v in visits][-3:] == [S.ESCALATED, S.WAITING_CUSTOMER, S.ESCALATED]
    assert all(v.owner_id is None for v in visits)
    assert all(
        m.clock in (SlaClockKind.FIRST_RESPONSE, SlaClockKind.RESOLUTION)
        for v in visits
        for m in v.marks
    )
    assert all(m.breached for v in visits for m in v.marks)
    assert visits[-1].current and visits[-1].visit == 2


def dispatch_journey() -> Journey:
    """Queued at intake, claimed by Alice, escalated to tier 2 and offered to Frank, who
    accepts, then handed back to Alice with guidance."""
    case = reported_case()
    j = Journey(case, T0)
    j.take(case.register(j.now, CUSTOMER_ACTOR))
    entitlement = Entitlement(
        contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
    )
    j.take(case.accept(entitlement, j.now, None))
    j.take(case.queue_or_assign(OwnerAnswer(team_id="support", why="nobody is on duty"), j.now))
    j.later(timedelta(minutes=20))
    j.take(case.claim(ClaimCommand(actor=ENGINEER, engineer=ALICE), j.now))
    j.take(case.acknowledge(AcknowledgeCommand(actor=ENGINEER), j.now))
    j.later(timedelta(hours=1))
    offered = FRANK.model_copy(update={"offer_timeout": timedelta(hours=1)})
    escalate = EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="needs an expert")
    j.take(case.escalate(escalate, j.now, offered))
    j.later(timedelta(minutes=10))
    frank = Actor(kind=ActorKind.ENGINEER, id="frank", name="Frank Weber")
    j.take(case.accept_offer(AcceptOfferCommand(actor=frank), j.now))
    j.later(timedelta(hours=1))
    j.take(case.hand_back(HandBackCommand(actor=frank, guidance="Reset the PSU"), j.now))
    return j


def test_queue_waits_offers_claims_and_hand_backs_are_marked_on_their_stages() -> None:
    visits = issue_path(dispatch_journey().events)
    accepted, assigned, working, escalated, back = visits[1:]
    assert accepted.state == S.ACCEPTED and accepted.owner_id is None
    assert [m.kind for m in accepted.dispatch] == [EventKind.QUEUED, EventKind.CLAIMED]
    assert accepted.waiting_owner is None  # claimed before it left the stage
    assert assigned.owner_id == "alice" and working.state == S.IN_PROGRESS
    assert escalated.lane == Lane.TIER_2 and escalated.owner_id == "frank"
    assert [(m.kind, m.engineer_id) for m in escalated.dispatch] == [
        (EventKind.OFFERED, "frank"),
        (EventKind.OFFER_ACCEPTED, "frank"),
    ]
    assert (back.state, back.lane, back.owner_id) == (S.IN_PROGRESS, Lane.TIER_1, "alice")
    assert [(m.kind, m.engineer_id) for m in back.dispatch] == [(EventKind.HANDED_BACK, "alice")]


def test_an_issue_waiting_in_the_queue_or_for_an_offer_says_so_until_someone_owns_it() -> None:
    case = reported_case()
    j = Journey(case, T0)
    j.take(case.register(j.now, CUSTOMER_ACTOR))
    entitlement = Entitlement(
        contract_id="c", level=None, warranty_status=WarrantyStatus.IN_WARRANTY
    )
    j.take(case.accept(entitlement, j.now, None))
    offered = ALICE.model_copy(update={"offer_timeout": timedelta(minutes=30)})
    j.take(case.queue_or_assign(OwnerAnswer(owner=offered), j.now))
    assert issue_path(j.events)[-1].waiting_owner == "offer"
    j.take(case.queue_or_assign(OwnerAnswer(team_id="support"), j.now))
    assert issue_path(j.events)[-1].waiting_owner == "queue"


def test_customers_see_no_queue_offer_or_hand_off_and_no_engineer() -> None:
    shown = public_path(issue_path(dispatch_journey().events))
    assert all(v.dispatch == () and v.waiting_owner is None for v in shown)
    assert all(v.owner_id is None and v.lane in (Lane.SUPPORT, Lane.CUSTOMER) for v in shown)
