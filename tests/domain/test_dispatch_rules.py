"""Dispatch in the pure state machine: who may act on an issue (403 matrix), queues, the claim
race, offers and their expiry, hand-back resuming tier 1's clock, off-duty hand-over."""

from datetime import timedelta

import pytest

from domain.enums import (
    ActorKind,
    EventKind,
    IssueState,
    SlaClockKind,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.lifecycle import CommandForbidden, CommandRejected, IssueCase
from domain.models import (
    AcceptOfferCommand,
    AcknowledgeCommand,
    Actor,
    ActorScope,
    AssignCommand,
    CancelCommand,
    ClaimCommand,
    CommentCommand,
    DeclineOfferCommand,
    Entitlement,
    EscalateCommand,
    HandBackCommand,
    HandOverCommand,
    OwnerAnswer,
    OwnerChoice,
    ProposeResolutionCommand,
)
from tests.domain.test_lifecycle import T0, reported_case

T1, T2 = "t1-network", "t2-experts"
ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE, team_id=T1)
CAROL = OwnerChoice(engineer_id="carol", engineer_name="Carol", tier=Tier.FRONTLINE, team_id=T1)
DAVE = OwnerChoice(engineer_id="dave", engineer_name="Dave", tier=Tier.FRONTLINE, team_id="t1-x")
FRANK = OwnerChoice(engineer_id="frank", engineer_name="Frank", tier=Tier.EXPERT, team_id=T2)


def staff(
    kind: ActorKind,
    id: str,
    *,
    teams: tuple[str, ...] = (),
    manages: tuple[str, ...] = (),
    tier: Tier | None = None,
) -> Actor:
    scope = ActorScope(team_ids=teams, managed_team_ids=manages, tier=tier)
    return Actor(kind=kind, id=id, name=id.title(), scope=scope)


OWNER = staff(ActorKind.ENGINEER, "alice", teams=(T1,), tier=Tier.FRONTLINE)
TEAMMATE = staff(ActorKind.ENGINEER, "carol", teams=(T1,), tier=Tier.FRONTLINE)
OUTSIDER = staff(ActorKind.ENGINEER, "dave", teams=("t1-x",), tier=Tier.FRONTLINE)
EXPERT = staff(ActorKind.ENGINEER, "frank", teams=(T2,), tier=Tier.EXPERT)
MANAGER = staff(ActorKind.MANAGER, "nina", teams=(T1,), manages=(T1,), tier=Tier.FRONTLINE)
OTHER_MANAGER = staff(ActorKind.MANAGER, "oscar", teams=("t1-x",), manages=("t1-x",))
DISPATCHER = staff(ActorKind.DISPATCHER, "dora")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok", name="Ann")
ENTITLED = Entitlement(contract_id="c", level=None, warranty_status=WarrantyStatus.IN_WARRANTY)
OFFER_TIMEOUT = timedelta(minutes=15)


def accepted() -> IssueCase:
    case = reported_case()
    case.accept(ENTITLED, T0)
    return case


def owned_by_alice() -> IssueCase:
    case = accepted()
    case.queue_or_assign(OwnerAnswer(owner=ALICE), T0)
    return case


def queued() -> IssueCase:
    case = accepted()
    case.queue_or_assign(OwnerAnswer(team_id=T1, why="everyone is at capacity"), T0)
    return case


def kinds(effects: object) -> list[EventKind]:
    return [e.kind for e in effects.events]  # type: ignore[attr-defined]


# --- ownership ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (OWNER, True),
        (MANAGER, True),
        (DISPATCHER, True),
        (TEAMMATE, False),
        (OUTSIDER, False),
        (EXPERT, False),
        (OTHER_MANAGER, False),
    ],
    ids=lambda v: v.id if isinstance(v, Actor) else str(v),
)
def test_only_the_owner_the_owning_teams_manager_or_a_dispatcher_change_the_state(
    actor: Actor, allowed: bool
) -> None:
    case = owned_by_alice()
    commands = [
        lambda: case.check_acknowledge(AcknowledgeCommand(actor=actor)),
        lambda: case.check_assign(AssignCommand(actor=actor, engineer=CAROL)),
        lambda: case.check_comment(CommentCommand(actor=actor, body="Try a reboot.")),
    ]
    for check in commands:
        if allowed:
            check()
        else:
            with pytest.raises(CommandForbidden, match="only its owner \\(Alice\\)"):
                check()


def test_a_forbidden_command_is_a_distinct_refusal_from_a_state_refusal() -> None:
    case = owned_by_alice()
    with pytest.raises(CommandRejected) as refused:
        case.check_propose_resolution(ProposeResolutionCommand(actor=OWNER, summary="x"))
    assert not isinstance(refused.value, CommandForbidden)
    case.acknowledge(AcknowledgeCommand(actor=OWNER), T0)
    with pytest.raises(CommandForbidden):
        case.check_propose_resolution(ProposeResolutionCommand(actor=TEAMMATE, summary="x"))


def test_engineers_of_the_owning_team_add_internal_notes_but_do_not_answer_the_customer() -> None:
    case = owned_by_alice()
    case.check_comment(
        CommentCommand(actor=TEAMMATE, body="Seen it.", visibility=Visibility.INTERNAL)
    )
    with pytest.raises(CommandForbidden, match="cannot add internal notes"):
        case.check_comment(
            CommentCommand(actor=OUTSIDER, body="Me too.", visibility=Visibility.INTERNAL)
        )


def test_a_tier2_expert_gives_guidance_on_a_tier1_issue_without_taking_it_over() -> None:
    case = owned_by_alice()
    guidance = CommentCommand(
        actor=EXPERT, body="Check the QoS queue.", visibility=Visibility.INTERNAL, guidance=True
    )
    effects = case.comment(guidance, T0)
    assert effects.events[-1].data["guidance"] == 1
    assert case.status.owner == ALICE
    with pytest.raises(CommandForbidden, match="guidance comes from a higher tier"):
        case.check_comment(guidance.model_copy(update={"actor": OUTSIDER}))
    with pytest.raises(CommandRejected, match="guidance is internal"):
        case.check_comment(guidance.model_copy(update={"visibility": Visibility.PUBLIC}))


def test_customers_keep_their_commands_and_unscoped_actors_are_not_checked() -> None:
    case = owned_by_alice()
    case.check_cancel(CancelCommand(actor=CUSTOMER, reason="Solved it ourselves."))
    legacy = Actor(kind=ActorKind.ENGINEER, id="someone", name="Someone")
    case.check_acknowledge(AcknowledgeCommand(actor=legacy))


def test_a_manual_escalation_needs_a_summary_of_what_was_tried() -> None:
    case = owned_by_alice()
    escalate = EscalateCommand(actor=OWNER, to_tier=Tier.EXPERT, reason="Beyond tier 1")
    with pytest.raises(CommandRejected, match="summary of what was tried"):
        case.check_escalate(escalate)
    done = case.escalate(
        escalate.model_copy(update={"summary": "Rebooted, swapped cables"}), T0, FRANK
    )
    event = done.events[0]
    assert event.data["summary"] == "Rebooted, swapped cables"
    assert case.status.team_id == T2


# --- queues and claims -------------------------------------------------------------------------


def test_nobody_qualifying_queues_the_issue_in_its_team_with_clocks_running() -> None:
    case = accepted()
    effects = case.queue_or_assign(OwnerAnswer(team_id=T1, why="all at capacity"), T0)
    assert kinds(effects) == [EventKind.QUEUED]
    assert (case.status.team_id, case.status.owner, case.status.state) == (
        T1,
        None,
        IssueState.ACCEPTED,
    )
    [notice] = effects.notifications
    assert notice.audience.team_id == T1 and notice.audience.dispatchers
    resolution = case.status.clock(SlaClockKind.RESOLUTION)
    assert resolution is not None and resolution.running


def test_of_two_claims_validated_together_only_the_first_applied_wins() -> None:
    case = queued()
    carol = ClaimCommand(actor=TEAMMATE, engineer=CAROL)
    alice = ClaimCommand(actor=OWNER, engineer=ALICE)
    case.check_claim(carol)
    case.check_claim(alice)  # both validators pass: neither has been applied yet
    case.reserve_claim(carol)
    with pytest.raises(CommandRejected, match="Carol claimed this issue first"):
        case.check_claim(alice)
    effects = case.claim(carol, T0)
    case.release_claim()
    assert kinds(effects) == [EventKind.CLAIMED, EventKind.ASSIGNED]
    assert case.status.owner == CAROL and case.status.state == IssueState.ASSIGNED
    with pytest.raises(CommandRejected, match="Carol already owns"):
        case.check_claim(alice)


def test_only_the_queues_team_a_dispatcher_or_a_manager_may_claim() -> None:
    case = queued()
    with pytest.raises(CommandForbidden, match="queue of team t1-network"):
        case.check_claim(ClaimCommand(actor=OUTSIDER, engineer=DAVE))
    with pytest.raises(CommandForbidden, match="only for themselves"):
        case.check_claim(ClaimCommand(actor=TEAMMATE, engineer=ALICE))
    case.check_claim(ClaimCommand(actor=DISPATCHER, engineer=ALICE))
    case.check_claim(ClaimCommand(actor=OTHER_MANAGER, engineer=DAVE))


# --- offers ------------------------------------------------------------------------------------


def test_an_unanswered_offer_expires_at_its_deadline_and_asks_for_the_next_engineer() -> None:
    case = accepted()
    offered = ALICE.model_copy(update={"offer_timeout": OFFER_TIMEOUT})
    effects = case.queue_or_assign(OwnerAnswer(owner=offered), T0)
    assert kinds(effects) == [EventKind.OFFERED]
    assert case.status.owner is None and case.status.offer is not None
    expiry = T0 + OFFER_TIMEOUT
    assert case.next_wakeup() is not None and case.next_wakeup() <= expiry
    assert not case.on_time(expiry - timedelta(seconds=1)).follow_ups
    expired = case.on_time(expiry)
    assert EventKind.OFFER_EXPIRED in kinds(expired)
    assert [f.reoffer for f in expired.follow_ups] == [True]
    assert case.status.declined_ids == ("alice",)
    with pytest.raises(CommandRejected, match="not offered"):
        case.check_accept_offer(AcceptOfferCommand(actor=OWNER), expiry)
    next_one = CAROL.model_copy(update={"offer_timeout": OFFER_TIMEOUT})
    case.reoffer(OwnerAnswer(owner=next_one), expiry, "expired")
    assert case.status.offer is not None and case.status.offer.engineer.engineer_id == "carol"
    declined = case.decline_offer(DeclineOfferCommand(actor=TEAMMATE, reason="Busy"), expiry)
    assert EventKind.OFFER_DECLINED in kinds(declined)
    queued_effects = case.reoffer(OwnerAnswer(team_id=T1, why="nobody left"), expiry, "declined")
    assert kinds(queued_effects) == [EventKind.QUEUED]
    assert case.status.declined_ids == ("alice", "carol") and case.status.team_id == T1


def test_only_the_engineer_offered_it_accepts_and_only_before_it_expires() -> None:
    case = accepted()
    case.queue_or_assign(
        OwnerAnswer(owner=ALICE.model_copy(update={"offer_timeout": OFFER_TIMEOUT})), T0
    )
    with pytest.raises(CommandForbidden, match="offered to Alice"):
        case.check_accept_offer(AcceptOfferCommand(actor=TEAMMATE), T0)
    with pytest.raises(CommandRejected, match="expired"):
        case.check_accept_offer(AcceptOfferCommand(actor=OWNER), T0 + OFFER_TIMEOUT)
    effects = case.accept_offer(AcceptOfferCommand(actor=OWNER), T0 + timedelta(minutes=1))
    assert kinds(effects) == [EventKind.OFFER_ACCEPTED, EventKind.ASSIGNED]
    assert case.status.owner is not None and case.status.owner.engineer_id == "alice"
    assert case.status.offer is None and case.next_wakeup() != T0 + OFFER_TIMEOUT


# --- hand-offs ---------------------------------------------------------------------------------


def test_customers_cannot_answer_an_offer_and_a_cancelled_issue_voids_it() -> None:
    case = accepted()
    case.queue_or_assign(
        OwnerAnswer(owner=ALICE.model_copy(update={"offer_timeout": OFFER_TIMEOUT})), T0
    )
    with pytest.raises(CommandForbidden, match="offers go to engineers"):
        case.check_accept_offer(AcceptOfferCommand(actor=CUSTOMER), T0)
    with pytest.raises(CommandForbidden, match="offers go to engineers"):
        case.check_decline_offer(DeclineOfferCommand(actor=CUSTOMER))
    case.cancel(CancelCommand(actor=CUSTOMER, reason="Solved it ourselves."), T0)
    with pytest.raises(CommandRejected, match="cancelled"):
        case.check_accept_offer(AcceptOfferCommand(actor=OWNER), T0 + timedelta(minutes=1))


def test_hand_back_returns_to_the_tier1_owner_whose_tier_clock_resumes_where_it_stopped() -> None:
    case = owned_by_alice()
    case.acknowledge(AcknowledgeCommand(actor=OWNER), T0)
    escalated_at = T0 + timedelta(hours=1)
    case.escalate(
        EscalateCommand(actor=OWNER, to_tier=Tier.EXPERT, reason="QoS", summary="Reboot"),
        escalated_at,
        FRANK,
    )
    tier1 = case.status.clock(SlaClockKind.TIER_1)
    assert tier1 is not None and tier1.stopped
    expert = staff(ActorKind.ENGINEER, "frank", teams=(T2,), tier=Tier.EXPERT)
    with pytest.raises(CommandForbidden):
        case.check_hand_back(HandBackCommand(actor=OUTSIDER, guidance="x"))
    back_at = escalated_at + timedelta(hours=2)
    effects = case.hand_back(HandBackCommand(actor=expert, guidance="Raise the buffer."), back_at)
    assert EventKind.HANDED_BACK in kinds(effects)
    assert effects.comment is not None and effects.comment.visibility == Visibility.INTERNAL
    s = case.status
    assert (s.state, s.tier, s.owner, s.team_id) == (
        IssueState.IN_PROGRESS,
        Tier.FRONTLINE,
        ALICE,
        T1,
    )
    later = back_at + timedelta(minutes=30)
    [view] = [v for v in s.sla.views(later) if v.clock == SlaClockKind.TIER_1]  # type: ignore[union-attr]
    # One hour before the escalation, half an hour since: the two hours at tier 2 not counted.
    assert view.elapsed == timedelta(hours=1, minutes=30)


def test_hand_over_records_the_next_owner_and_who_handed_over_in_one_step() -> None:
    case = owned_by_alice()
    with pytest.raises(CommandForbidden, match="dispatchers, managers and ITR"):
        case.check_hand_over(HandOverCommand(actor=TEAMMATE, engineer_id="alice", reason="x"))
    with pytest.raises(CommandRejected, match="neither owns"):
        case.check_hand_over(HandOverCommand(actor=DISPATCHER, engineer_id="carol", reason="x"))
    cmd = HandOverCommand(actor=DISPATCHER, engineer_id="alice", reason="off duty at 17:00")
    effects = case.hand_over(cmd, OwnerAnswer(owner=CAROL), T0)
    assert kinds(effects)[-2:] == [EventKind.REASSIGNED, EventKind.HANDED_OVER]
    handed = effects.events[-1]
    assert handed.actor == DISPATCHER and "off duty at 17:00" in handed.summary
    assert handed.data == {
        "from_engineer_id": "alice",
        "to_engineer_id": "carol",
        "reason": "off duty at 17:00",
    }
    assert case.status.owner == CAROL


def test_hand_over_with_nobody_to_take_it_queues_the_issue() -> None:
    case = owned_by_alice()
    cmd = HandOverCommand(actor=MANAGER, engineer_id="alice", reason="off duty")
    effects = case.hand_over(cmd, OwnerAnswer(team_id=T1, why="nobody on duty"), T0)
    assert EventKind.QUEUED in kinds(effects)
    assert case.status.owner is None and case.status.team_id == T1


def test_the_tier1_owner_stays_the_customers_contact_while_tier2_works() -> None:
    case = owned_by_alice()
    case.acknowledge(AcknowledgeCommand(actor=OWNER), T0)
    case.escalate(
        EscalateCommand(actor=OWNER, to_tier=Tier.EXPERT, reason="QoS", summary="Reboot"),
        T0,
        FRANK,
    )
    case.check_comment(CommentCommand(actor=OWNER, body="Our experts are on it."))
    with pytest.raises(CommandForbidden):
        case.check_propose_resolution(ProposeResolutionCommand(actor=OWNER, summary="x"))
    with pytest.raises(CommandForbidden):
        case.check_comment(CommentCommand(actor=TEAMMATE, body="Hello"))
