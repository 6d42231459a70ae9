"""Entitlement lookup, owner dispatch and notification recipients from reference data."""

from datetime import timedelta

from db.repositories import issues as issue_repo
from db.repositories import reference
from db.repositories.reference import Recipient
from db.session import Database
from domain.enums import ActorKind, ContractLevel, IssueState, Role, Tier, WarrantyStatus
from domain.models import Actor, Audience, OwnerChoice
from tests.db.builders import TODAY, add_issue, add_reference_data, intake

E1 = OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE)
E2 = OwnerChoice(engineer_id="e2", engineer_name="Name e2", tier=Tier.FRONTLINE)


# --- entitlement -----------------------------------------------------------------------------


async def test_entitlement_for_each_warranty_case(database: Database) -> None:
    async with database.transaction() as session:
        for org in ("inw", "outw", "none", "future"):
            await reference.create_organisation(session, org, org)
        await reference.create_contract(
            session, "c-in", "inw", ContractLevel.STANDARD, TODAY - timedelta(days=100), TODAY
        )
        await reference.create_contract(
            session,
            "c-out",
            "outw",
            ContractLevel.BASIC,
            TODAY - timedelta(days=800),
            TODAY - timedelta(days=1),
        )
        await reference.create_contract(
            session,
            "c-future",
            "future",
            ContractLevel.PREMIUM,
            TODAY + timedelta(days=1),
            TODAY + timedelta(days=400),
        )
    async with database.session() as session:
        in_warranty = await reference.find_entitlement(session, "inw", "p", TODAY)
        out_of_warranty = await reference.find_entitlement(session, "outw", "p", TODAY)
        no_contract = await reference.find_entitlement(session, "none", "p", TODAY)
        not_started = await reference.find_entitlement(session, "future", "p", TODAY)
    assert in_warranty.warranty_status == WarrantyStatus.IN_WARRANTY  # last day still counts
    assert (in_warranty.contract_id, in_warranty.level) == ("c-in", ContractLevel.STANDARD)
    assert out_of_warranty.warranty_status == WarrantyStatus.OUT_OF_WARRANTY
    assert (out_of_warranty.contract_id, out_of_warranty.level) == ("c-out", ContractLevel.BASIC)
    assert out_of_warranty.warranty_end == TODAY - timedelta(days=1)
    assert no_contract.warranty_status == WarrantyStatus.NO_CONTRACT
    assert (no_contract.contract_id, no_contract.level) == (None, None)
    assert not_started.warranty_status == WarrantyStatus.NO_CONTRACT


async def test_highest_level_in_force_wins_and_in_warranty_beats_expired(
    database: Database,
) -> None:
    start = TODAY - timedelta(days=30)
    async with database.transaction() as session:
        await reference.create_organisation(session, "multi", "Multi")
        await reference.create_contract(
            session, "c-basic", "multi", ContractLevel.BASIC, start, TODAY + timedelta(days=9)
        )
        await reference.create_contract(
            session, "c-premium", "multi", ContractLevel.PREMIUM, start, TODAY + timedelta(days=5)
        )
        await reference.create_contract(
            session, "c-standard", "multi", ContractLevel.STANDARD, start, TODAY + timedelta(days=9)
        )
    async with database.session() as session:
        today = await reference.find_entitlement(session, "multi", "p", TODAY)
        later = await reference.find_entitlement(session, "multi", "p", TODAY + timedelta(days=7))
        much_later = await reference.find_entitlement(
            session, "multi", "p", TODAY + timedelta(days=20)
        )
    assert (today.contract_id, today.warranty_status) == ("c-premium", WarrantyStatus.IN_WARRANTY)
    assert (later.contract_id, later.warranty_status) == ("c-standard", WarrantyStatus.IN_WARRANTY)
    assert much_later.contract_id == "c-premium"  # all expired: the highest level still wins
    assert much_later.warranty_status == WarrantyStatus.OUT_OF_WARRANTY


# --- dispatch ------------------------------------------------------------------------------------


async def test_least_loaded_counts_only_open_issues_and_skips_managers_and_inactive(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await add_issue(session, intake("I-1"), owner=E1, state=IssueState.IN_PROGRESS)
        await add_issue(session, intake("I-2"), owner=E1, state=IssueState.ASSIGNED)
        await add_issue(session, intake("I-3"), owner=E2, state=IssueState.WAITING_CUSTOMER)
        for number, state in enumerate((IssueState.CLOSED, IssueState.CANCELLED) * 2):
            await add_issue(session, intake(f"I-done-{number}"), owner=E2, state=state)
    async with database.session() as session:
        chosen = await reference.least_loaded_engineer(session, "router", Tier.FRONTLINE)
        assert chosen == E2  # 1 open issue; its 4 closed/cancelled ones do not count
        excluded = await reference.least_loaded_engineer(
            session, "router", Tier.FRONTLINE, exclude_ids=["e2"]
        )
        assert excluded == E1
        assert await issue_repo.count_open_by_owner(session) == {"e1": 2, "e2": 1}


async def test_ties_are_broken_by_engineer_id(database: Database) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
    async with database.session() as session:
        chosen = await reference.least_loaded_engineer(session, "router", Tier.FRONTLINE)
    assert chosen == E1


async def test_falls_back_to_any_team_at_the_tier(database: Database) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await add_issue(session, intake("I-1"), owner=E1, state=IssueState.IN_PROGRESS)
    async with database.session() as session:
        unlinked_product = await reference.least_loaded_engineer(session, "orphan", Tier.FRONTLINE)
        all_linked_excluded = await reference.least_loaded_engineer(
            session, "router", Tier.FRONTLINE, exclude_ids=["e1", "e2"]
        )
        expert = await reference.least_loaded_engineer(session, "router", Tier.EXPERT)
        nobody = await reference.least_loaded_engineer(session, "router", Tier.RND)
    assert unlinked_product is not None and unlinked_product.engineer_id == "e2"
    assert all_linked_excluded is not None and all_linked_excluded.engineer_id == "e4"
    assert expert == OwnerChoice(engineer_id="x1", engineer_name="Name x1", tier=Tier.EXPERT)
    assert nobody is None


# --- recipients --------------------------------------------------------------------------------


def _ids(recipients: list[Recipient]) -> list[str]:
    return [r.id for r in recipients]


async def test_recipients_of_each_audience(database: Database) -> None:
    engineer_reporter = Actor(kind=ActorKind.ENGINEER, id="e4", name="Name e4")
    async with database.transaction() as session:
        await add_reference_data(session)
        await add_issue(session, intake("OWNED"), owner=E1, state=IssueState.IN_PROGRESS)
        await add_issue(session, intake("UNOWNED"), state=IssueState.ACCEPTED)
        await add_issue(session, intake("ORPHAN", product_id="orphan"))
        await add_issue(session, intake("BY-PHONE", reporter=engineer_reporter))
    async with database.session() as session:
        owner = await reference.resolve_recipients(session, "OWNED", Audience(owner=True))
        assert owner == [
            Recipient(kind="engineer", id="e1", name="Name e1", email="e1@itr.example")
        ]
        managers = await reference.resolve_recipients(
            session, "OWNED", Audience(owner_manager=True)
        )
        assert managers == [
            Recipient(kind="manager", id="m1", name="Name m1", email="m1@itr.example")
        ]
        unowned = await reference.resolve_recipients(
            session, "UNOWNED", Audience(owner_manager=True)
        )
        assert _ids(unowned) == ["m1"]  # tier-1 managers linked to the product
        orphan = await reference.resolve_recipients(session, "ORPHAN", Audience(owner_manager=True))
        assert _ids(orphan) == ["m1", "m2", "m3"]  # nobody linked: every manager
        reporter = await reference.resolve_recipients(session, "OWNED", Audience(reporter=True))
        assert reporter == [
            Recipient(kind="customer", id="tok-acme", name="Jane Doe", email="jane@acme.example")
        ]
        by_phone = await reference.resolve_recipients(session, "BY-PHONE", Audience(reporter=True))
        assert by_phone == [Recipient(kind="engineer", id="e4", name="Name e4", email=None)]
        named = await reference.resolve_recipients(session, "OWNED", Audience(engineer_id="x1"))
        assert _ids(named) == ["x1"]
        everyone = await reference.resolve_recipients(
            session,
            "OWNED",
            Audience(owner=True, owner_manager=True, reporter=True, engineer_id="e1"),
        )
        assert _ids(everyone) == ["e1", "m1", "tok-acme"]
        assert await reference.resolve_recipients(session, "OWNED", Audience()) == []
        missing = await reference.resolve_recipients(
            session, "NO-SUCH-ISSUE", Audience(owner=True, reporter=True, engineer_id="e2")
        )
        assert _ids(missing) == ["e2"]


# --- dispatch (issue 9) --------------------------------------------------------------------------


async def test_a_callers_teams_managed_teams_and_tier_come_from_the_engineer_rows(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
    async with database.session() as session:
        manager = await reference.engineer_teams(session, "m1")
        expert = await reference.engineer_teams(session, "x1")
        nobody = await reference.engineer_teams(session, "no-such-engineer")
    assert manager == reference.EngineerTeams(("t1a",), ("t1a",), Tier.FRONTLINE)
    assert expert == reference.EngineerTeams(("t2",), (), Tier.EXPERT)
    assert nobody == reference.EngineerTeams()


async def test_a_queued_issue_reaches_its_teams_manager_and_the_dispatchers(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await reference.create_token(
            session, "Dispatch desk", Role.DISPATCHER, "secret-dispatch", engineer_id="e4"
        )
        await add_issue(session, intake("QUEUED"), state=IssueState.ACCEPTED)
        await add_issue(session, intake("HELD"), owner=E2, state=IssueState.IN_PROGRESS)
        await add_issue(session, intake("DONE"), owner=E2, state=IssueState.CLOSED)
    async with database.session() as session:
        queued = await reference.resolve_recipients(
            session, "QUEUED", Audience(team_id="t2", dispatchers=True)
        )
        held = await issue_repo.open_issue_ids_owned_by(session, "e2")
    assert _ids(queued) == ["m3", "e4"]
    assert held == ["HELD"]
