"""The owner-choice activity on the demo organisation, on SQLite and PostgreSQL: rules ->
team -> strategy, the durable round-robin cursor, retries answered from the stored choice,
substitutes, exclusions, an empty queue, and queries recorded before routing existed."""

import dataclasses
from datetime import timedelta

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.read_model import ReadModelActivities, choice_key
from db.repositories import dispatch as dispatch_repo
from db.repositories import issues as issue_repo
from db.repositories import reference
from db.seed import seed_demo_data
from db.session import Database
from domain.dispatch import Demand, pick
from domain.enums import (
    AssignmentStrategy,
    Category,
    Channel,
    Presence,
    ServiceMode,
    Severity,
    Tier,
)
from domain.models import OwnerAnswer, OwnerChoice, OwnerQuery
from tests.db.builders import TODAY, add_issue, intake

WALKTHROUGH = OwnerQuery(
    issue_id="ITR-1",
    product_id="edge-router",
    tier=Tier.FRONTLINE,
    organisation_id="acme",
    category=Category.INCIDENT,
    severity=Severity.MAJOR,
    service_mode=ServiceMode.REMOTE,
    channel=Channel.PORTAL,
)


def environment(activity_id: str, run_id: str = "run-1") -> ActivityEnvironment:
    """An activity context with its own identity (a retry keeps it, a new choice does not)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="issue-ITR-1", workflow_run_id=run_id, activity_id=activity_id
    )
    return env


async def choose(database: Database, query: OwnerQuery, activity_id: str) -> OwnerAnswer:
    activities = ReadModelActivities(database)
    answer: OwnerAnswer = await environment(activity_id).run(activities.choose_owner, query)
    return answer


async def seeded(database: Database) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session, today=TODAY)


async def test_the_walkthrough_issue_goes_to_alice_by_the_network_rule(database: Database) -> None:
    await seeded(database)
    answer = await choose(database, WALKTHROUGH, "1")
    assert answer.owner is not None
    assert (answer.owner.engineer_id, answer.owner.team_id, answer.team_id) == (
        "alice",
        "t1-network",
        "t1-network",
    )
    assert answer.owner.why is not None and answer.owner.why.startswith("rule network-products")
    assert "least loaded" in answer.owner.why and answer.owner.offer_timeout is None


async def test_a_query_recorded_before_routing_still_routes_by_product_and_tier(
    database: Database,
) -> None:
    await seeded(database)
    old = OwnerQuery(issue_id="ITR-1", product_id="storage-array", tier=Tier.EXPERT)
    answer = await choose(database, old, "1")
    assert answer.owner is not None and answer.owner.team_id == "t2-experts"
    assert answer.owner.engineer_id == "grace"  # skills weighted: storage-array level 5


async def test_round_robin_advances_once_per_choice_and_a_retry_answers_the_same(
    database: Database,
) -> None:
    await seeded(database)
    storage = WALKTHROUGH.model_copy(update={"product_id": "storage-array"})
    first = await choose(database, storage, "1")
    retried = await choose(database, storage, "1")
    second = await choose(database, storage, "2")
    third = await choose(database, storage, "3")
    owners = [a.owner.engineer_id if a.owner else None for a in (first, retried, second, third)]
    assert owners == ["dave", "dave", "erin", "dave"]
    async with database.session() as session:
        assert await dispatch_repo.cursor_of(session, "t1-storage") == "dave"


async def test_a_new_run_of_the_same_workflow_is_a_new_choice(database: Database) -> None:
    await seeded(database)
    storage = WALKTHROUGH.model_copy(update={"product_id": "storage-array"})
    activities = ReadModelActivities(database)
    first = await environment("1", run_id="run-1").run(activities.choose_owner, storage)
    second = await environment("1", run_id="run-2").run(activities.choose_owner, storage)
    assert [first.owner.engineer_id, second.owner.engineer_id] == ["dave", "erin"]


async def test_the_team_offer_timeout_travels_with_the_choice(database: Database) -> None:
    await seeded(database)
    async with database.transaction() as session:
        await reference.update_team(session, "t1-network", {"offer_timeout_minutes": 15})
    answer = await choose(database, WALKTHROUGH, "1")
    assert answer.owner is not None and answer.owner.offer_timeout == timedelta(minutes=15)


async def test_load_decides_and_issues_with_stopped_clocks_do_not_count_by_default(
    database: Database,
) -> None:
    await seeded(database)
    alice = OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE)
    bob = alice.model_copy(update={"engineer_id": "bob", "engineer_name": "Bob"})
    async with database.transaction() as session:
        await add_issue(session, intake("A1"), owner=alice)
        await add_issue(session, intake("B1"), owner=bob, state="resolved")
    answer = await choose(database, WALKTHROUGH, "1")
    assert answer.owner is not None and answer.owner.engineer_id == "bob"
    async with database.transaction() as session:
        await reference.update_team(session, "t1-network", {"load_counts_running_only": False})
    answer = await choose(database, WALKTHROUGH, "2")
    assert answer.owner is not None and answer.owner.engineer_id == "carol"


async def test_the_substitute_of_the_engineer_handing_over_comes_first(database: Database) -> None:
    await seeded(database)
    async with database.transaction() as session:
        await reference.update_engineer(session, "bob", {"presence": Presence.OFF_DUTY})
    handover = WALKTHROUGH.model_copy(update={"substitute_for": "bob"})  # bob's substitute: carol
    answer = await choose(database, handover, "1")
    assert answer.owner is not None and answer.owner.engineer_id == "carol"
    assert answer.owner.why is not None and "substitute for bob" in answer.owner.why


async def test_excluded_and_off_duty_engineers_are_passed_over(database: Database) -> None:
    await seeded(database)
    async with database.transaction() as session:
        await reference.update_engineer(session, "bob", {"presence": Presence.OFF_DUTY})
    query = WALKTHROUGH.model_copy(update={"exclude_engineer_ids": ("alice",)})
    answer = await choose(database, query, "1")
    assert answer.owner is not None and answer.owner.engineer_id == "carol"


async def test_nobody_eligible_leaves_the_issue_in_the_team_queue(database: Database) -> None:
    await seeded(database)
    async with database.transaction() as session:
        for engineer_id in ("alice", "bob", "carol"):
            await reference.update_engineer(session, engineer_id, {"presence": Presence.OFF_DUTY})
    answer = await choose(database, WALKTHROUGH, "1")
    assert answer.owner is None and answer.team_id == "t1-network"
    assert answer.why is not None and "no eligible engineer" in answer.why


async def test_a_given_team_skips_the_rules(database: Database) -> None:
    await seeded(database)
    query = WALKTHROUGH.model_copy(update={"team_id": "t1-field"})
    answer = await choose(database, query, "1")
    assert answer.owner is not None and answer.owner.team_id == "t1-field"
    assert answer.owner.engineer_id == "felix"


async def test_the_projection_names_the_status_team_or_else_the_owner_team(
    database: Database,
) -> None:
    await seeded(database)
    owner = OwnerChoice(
        engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE, team_id="t1-network"
    )
    async with database.transaction() as session:
        await add_issue(session, intake("Q1"), team_id="t1-storage")
        await add_issue(session, intake("Q2"), owner=owner)
        rows = [await issue_repo.get_issue(session, i) for i in ("Q1", "Q2")]
    assert [r.team_id if r else None for r in rows] == ["t1-storage", "t1-network"]


def test_the_choice_key_is_the_activity_identity() -> None:
    info = environment("7", run_id="r").info
    assert choice_key(info) == "issue-ITR-1/r/7"
    assert isinstance(info, activity.Info)


async def test_the_dry_run_plan_and_the_activity_plan_agree_for_every_strategy(
    database: Database,
) -> None:
    """The activity lets the database rank the team and weighs a slice; the dry run weighs
    everyone: both must choose the same engineer."""
    await seeded(database)
    owners = ("alice", "alice", "bob", "carol", "carol", "carol")
    async with database.transaction() as session:
        for index, engineer_id in enumerate(owners):
            choice = OwnerChoice(engineer_id=engineer_id, engineer_name="x", tier=Tier.FRONTLINE)
            await add_issue(session, intake(f"L{index}"), owner=choice)
        await reference.update_engineer(session, "alice", {"presence": Presence.AWAY})
    for strategy in AssignmentStrategy:
        async with database.transaction() as session:
            await reference.update_team(session, "t1-network", {"strategy": strategy})
        for cursor in (None, "alice", "bob", "carol"):
            async with database.transaction() as session:
                await dispatch_repo.locked_cursor(session, "t1-network")
                await dispatch_repo.advance_cursor(session, "t1-network", cursor or "")
            async with database.session() as session:
                full = await dispatch_repo.plan_owner(session, WALKTHROUGH, explain=True)
                quick = await dispatch_repo.plan_owner(session, WALKTHROUGH, explain=False)
            assert full.answer == quick.answer, (strategy, cursor)


async def test_slices_of_one_engineer_still_find_the_strategys_choice(database: Database) -> None:
    """The database's order matches the strategy's across slice boundaries: engineers who
    cannot take the issue (no skill, excluded, full) at the head of the order are skipped."""
    await seeded(database)
    alice = OwnerChoice(engineer_id="alice", engineer_name="x", tier=Tier.FRONTLINE)
    async with database.transaction() as session:
        await reference.update_engineer(session, "alice", {"skills": {"bgp": 3}})
        await reference.update_engineer(session, "bob", {"capacity": 1})
        await add_issue(
            session, intake("S1"), owner=alice.model_copy(update={"engineer_id": "bob"})
        )
        await add_issue(
            session, intake("S2"), owner=alice.model_copy(update={"engineer_id": "carol"})
        )
    demand = Demand(skill="edge-router", language="en", exclude=("nobody",))
    for strategy in AssignmentStrategy:
        async with database.transaction() as session:
            await reference.update_team(session, "t1-network", {"strategy": strategy})
        async with database.session() as session:
            team = await dispatch_repo.team_profile(session, "t1-network")
            assert team is not None
            everyone = await dispatch_repo.team_candidates(session, "t1-network", True)
            full = pick(strategy, everyone, demand)
            sliced = await dispatch_repo.best_pick(session, team, demand, None, batch=1)
        assert (
            (sliced.engineer_id, sliced.why)
            == (full.engineer_id, full.why)
            == (
                "carol",
                sliced.why,
            )
        )
