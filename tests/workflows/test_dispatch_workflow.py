"""Dispatch in IssueWorkflow on the time-skipping server: queues and concurrent claims, offers
expiring into re-offers and the queue, atomic hand-offs while the owner choice or the notifier
fails, escalation on a tier-budget breach through the routing rules, hand-back and off-duty
hand-over."""

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.enums import ActorKind, Category, IssueState, Severity, Tier
from domain.models import (
    AcceptOfferCommand,
    AcknowledgeCommand,
    Actor,
    ActorScope,
    CancelCommand,
    ClaimCommand,
    CommandResult,
    EscalateCommand,
    HandBackCommand,
    HandOverCommand,
    IssueStatus,
    OwnerChoice,
)
from domain.sla import BreachAction, TierBudget
from tests.workflows.fakes import FakeEngineer, FakeIssueActivities, FakeRoster, FakeTeam
from tests.workflows.test_issue_workflow import CUSTOMER, running, start, wait_for
from tests.workflows.test_sla_workflow import policy
from workflows.issue import COMMAND_FORBIDDEN, COMMAND_REJECTED, IssueWorkflow

T1, T2 = "t1-network", "t2-experts"
OFFER = timedelta(minutes=15)


def engineer(id: str, team: str, tier: Tier = Tier.FRONTLINE) -> Actor:
    scope = ActorScope(team_ids=(team,), tier=tier)
    return Actor(kind=ActorKind.ENGINEER, id=id, name=id.title(), scope=scope)


def owner(id: str, team: str, tier: Tier = Tier.FRONTLINE) -> OwnerChoice:
    return OwnerChoice(engineer_id=id, engineer_name=id.title(), tier=tier, team_id=team)


DISPATCHER = Actor(kind=ActorKind.DISPATCHER, id="dora", name="Dora", scope=ActorScope())


def roster(*, capacity: int = 5, offer: timedelta | None = None) -> FakeRoster:
    complaints = FakeTeam("t2-complaints", Tier.EXPERT, categories=frozenset({Category.COMPLAINT}))
    return FakeRoster(
        teams=[FakeTeam(T1, Tier.FRONTLINE, offer), complaints, FakeTeam(T2, Tier.EXPERT)],
        engineers=[
            FakeEngineer("alice", "Alice", T1, capacity, substitute_id="carol"),
            FakeEngineer("bob", "Bob", T1, capacity),
            FakeEngineer("carol", "Carol", T1, capacity),
            FakeEngineer("frank", "Frank", T2),
        ],
    )


async def until(handle: object, check: object, what: str) -> IssueStatus:
    for _ in range(200):
        status: IssueStatus = await handle.query(IssueWorkflow.status)  # type: ignore[attr-defined]
        if check(status):  # type: ignore[operator]
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def end(handle: object) -> None:
    """Cancel the issue (the customer withdraws it), so no workflow outlives its test."""
    cancel = CancelCommand(actor=CUSTOMER, reason="done testing")
    await handle.execute_update(IssueWorkflow.cancel, cancel)  # type: ignore[attr-defined]
    await asyncio.wait_for(handle.result(), timeout=30)  # type: ignore[attr-defined]


def refusal_type(error: BaseException) -> str | None:
    assert isinstance(error, WorkflowUpdateFailedError), error
    cause = error.cause
    return cause.type if isinstance(cause, ApplicationError) else None


async def test_of_two_concurrent_claims_on_a_queued_issue_exactly_one_wins(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(roster=roster(capacity=0))
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        queued = await until(handle, lambda s: s.team_id == T1, "the queue")
        assert queued.owner is None and queued.state == IssueState.ACCEPTED
        claims = [
            ClaimCommand(actor=engineer("bob", T1), engineer=owner("bob", T1)),
            ClaimCommand(actor=engineer("carol", T1), engineer=owner("carol", T1)),
        ]
        outcomes = await asyncio.gather(
            *(handle.execute_update(IssueWorkflow.claim, c) for c in claims),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, CommandResult)]
        lost = [o for o in outcomes if not isinstance(o, CommandResult)]
        assert len(won) == 1 and len(lost) == 1
        assert refusal_type(lost[0]) == COMMAND_REJECTED
        status = await handle.query(IssueWorkflow.status)
        assert status.state == IssueState.ASSIGNED and status.owner == won[0].status.owner
        outsider = ClaimCommand(actor=engineer("dave", "t1-x"), engineer=owner("dave", "t1-x"))
        try:
            await handle.execute_update(IssueWorkflow.claim, outsider)
        except WorkflowUpdateFailedError as error:
            assert refusal_type(error) == COMMAND_REJECTED  # owned now: a state refusal
        await end(handle)
    issue_id = handle.id.removeprefix("issue-")
    assert fakes.kinds(issue_id).count("claimed") == 1
    assert "no_owner_available" in fakes.notification_kinds(issue_id)


async def test_an_offer_times_out_into_a_reoffer_then_into_the_queue(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    two = roster(offer=OFFER)
    two.engineers = [e for e in two.engineers if e.id != "bob"]
    fakes = FakeIssueActivities(roster=two)
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        first = await until(handle, lambda s: s.offer is not None, "the first offer")
        assert first.offer is not None and first.offer.engineer.engineer_id == "alice"
        assert first.owner is None
        await time_skipping_env.sleep(OFFER + timedelta(minutes=1))
        second = await until(
            handle,
            lambda s: s.offer is not None and s.offer.engineer.engineer_id == "carol",
            "the re-offer",
        )
        try:
            await handle.execute_update(
                IssueWorkflow.accept_offer, AcceptOfferCommand(actor=engineer("alice", T1))
            )
            raise AssertionError("alice's offer expired")
        except WorkflowUpdateFailedError as error:
            assert refusal_type(error) == COMMAND_FORBIDDEN  # it is carol's now
        assert second.declined_ids == ("alice",)
        await time_skipping_env.sleep(OFFER + timedelta(minutes=1))
        queued = await until(handle, lambda s: s.offer is None and s.team_id == T1, "the queue")
        assert queued.owner is None and queued.declined_ids == ("alice", "carol")
        await end(handle)
    issue_id = handle.id.removeprefix("issue-")
    assert [k for k in fakes.kinds(issue_id) if k.startswith(("offer", "queued"))] == [
        "offered",
        "offer_expired",
        "offered",
        "offer_expired",
        "queued",
    ]
    reoffers = [q for q in fakes.owner_queries if q.team_id == T1]
    assert [q.exclude_engineer_ids for q in reoffers] == [("alice",), ("alice", "carol")]


async def test_accepting_an_offer_makes_the_engineer_the_owner(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(roster=roster(offer=OFFER))
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await until(handle, lambda s: s.offer is not None, "the offer")
        result = await handle.execute_update(
            IssueWorkflow.accept_offer, AcceptOfferCommand(actor=engineer("alice", T1))
        )
        assert result.status.state == IssueState.ASSIGNED and result.status.offer is None
        assert result.status.owner is not None and result.status.owner.engineer_id == "alice"
        await time_skipping_env.sleep(OFFER * 2)  # the expired timer changes nothing
        status = await handle.query(IssueWorkflow.status)
        assert status.owner is not None and status.owner.engineer_id == "alice"

        await end(handle)


async def test_a_hand_off_keeps_the_previous_owner_while_the_choice_and_the_notifier_fail(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(roster=roster())
    alice = engineer("alice", T1)
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=alice))
        asked = len(fakes.owner_queries)
        fakes.fail_choose_times, fakes.fail_notify_times = 2, 3
        result = await handle.execute_update(
            IssueWorkflow.escalate,
            EscalateCommand(
                actor=alice, to_tier=Tier.EXPERT, reason="QoS bug", summary="Rebooted, swapped"
            ),
        )
        assert result.status.owner is not None and result.status.owner.engineer_id == "frank"
        assert len(fakes.owner_queries) - asked == 3  # two failures retried, then the answer
        assert fakes.owner_queries[-1].tier == Tier.EXPERT
        await end(handle)
    # Every recorded state had an owner: alice until the step that recorded frank.
    owners = fakes.recorded_owners[fakes.recorded_owners.index("alice") :]
    assert list(dict.fromkeys(owners)) == ["alice", "frank"]


async def test_a_tier_budget_breach_escalates_through_the_routing_rules_and_hands_back(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    budgets = {Tier.FRONTLINE: TierBudget(share=0.2), Tier.EXPERT: TierBudget(share=0.5)}
    promised = policy(budgets=budgets, actions=(BreachAction.ESCALATE,))
    fakes = FakeIssueActivities(policies={Severity.MAJOR: promised}, roster=roster())
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)
        await handle.execute_update(
            IssueWorkflow.acknowledge, AcknowledgeCommand(actor=engineer("alice", T1))
        )
        await time_skipping_env.sleep(timedelta(hours=2, minutes=30))  # tier 1 had 2 h
        escalated = await until(handle, lambda s: s.tier == Tier.EXPERT, "the escalation")
        assert escalated.owner is not None and escalated.owner.engineer_id == "frank"
        assert escalated.team_id == T2  # an incident: the complaints team does not serve it
        query = fakes.owner_queries[-1]
        assert (query.tier, query.organisation_id, query.category, query.severity) == (
            Tier.EXPERT,
            "acme",
            Category.INCIDENT,
            Severity.MAJOR,
        )
        back = await handle.execute_update(
            IssueWorkflow.hand_back,
            HandBackCommand(actor=engineer("frank", T2, Tier.EXPERT), guidance="Raise buffers."),
        )
        assert (back.status.tier, back.status.team_id) == (Tier.FRONTLINE, T1)
        assert back.status.owner is not None and back.status.owner.engineer_id == "alice"
        assert back.comment_id is not None
        await end(handle)
    assert "handed_back" in fakes.kinds(handle.id.removeprefix("issue-"))


async def test_an_off_duty_hand_over_goes_to_the_substitute_and_is_on_the_timeline(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities(roster=roster())
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        assigned = await wait_for(handle, IssueState.ASSIGNED)
        assert assigned.owner is not None and assigned.owner.engineer_id == "alice"
        try:
            await handle.execute_update(
                IssueWorkflow.hand_over,
                HandOverCommand(actor=engineer("bob", T1), engineer_id="alice", reason="x"),
            )
            raise AssertionError("an engineer cannot hand over a colleague's issue")
        except WorkflowUpdateFailedError as error:
            assert refusal_type(error) == COMMAND_FORBIDDEN
        result = await handle.execute_update(
            IssueWorkflow.hand_over,
            HandOverCommand(actor=DISPATCHER, engineer_id="alice", reason="off duty at 17:00"),
        )
        assert result.status.owner is not None and result.status.owner.engineer_id == "carol"
        query = fakes.owner_queries[-1]
        assert (query.substitute_for, query.exclude_engineer_ids) == ("alice", ("alice",))
        await end(handle)
    [handed] = fakes.events_of(handle.id.removeprefix("issue-"), "handed_over")
    assert handed.actor.id == "dora" and "off duty at 17:00" in handed.summary
