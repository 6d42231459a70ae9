"""Demo data: loaded once, relative to today, with the well-known tokens the README uses."""

from datetime import date, timedelta

import sqlalchemy as sa

from db.models import ContractRow, EngineerRow, OrganisationRow, TeamRow, TokenRow
from db.repositories import reference
from db.seed import demo_tokens, load_demo_seed, seed_demo_data
from db.session import Database
from domain.enums import ContractLevel, Role, Tier, WarrantyStatus

TODAY = date(2031, 7, 15)


async def _count(database: Database, model: type[object]) -> int:
    async with database.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def test_seeding_twice_loads_the_demo_data_once(database: Database) -> None:
    async with database.transaction() as session:
        created = await seed_demo_data(session, today=TODAY)
    counts = [
        await _count(database, model)
        for model in (OrganisationRow, ContractRow, TeamRow, EngineerRow, TokenRow)
    ]
    async with database.transaction() as session:
        assert await seed_demo_data(session, today=TODAY) == []
    assert counts == [
        await _count(database, model)
        for model in (OrganisationRow, ContractRow, TeamRow, EngineerRow, TokenRow)
    ]
    assert counts[0] == 3
    assert created == demo_tokens()


async def test_demo_tokens_are_the_documented_well_known_values(database: Database) -> None:
    async with database.transaction() as session:
        created = await seed_demo_data(session, today=TODAY)
    roles = {token: role for token, role, _ in created}
    assert roles["demo-customer-acme"] == Role.CUSTOMER
    assert roles["demo-customer-globex"] == Role.CUSTOMER
    assert roles["demo-engineer-alice"] == Role.ENGINEER
    assert roles["demo-engineer-frank"] == Role.ENGINEER
    assert roles["demo-manager-nina"] == Role.MANAGER
    assert roles["demo-admin"] == Role.ADMIN
    assert roles["demo-integration"] == Role.INTEGRATION
    async with database.session() as session:
        for token, role, _ in created:
            row = await reference.find_token(session, token)
            assert row is not None and row.role == role
        acme = await reference.find_token(session, "demo-customer-acme")
        alice = await reference.find_token(session, "demo-engineer-alice")
        frank = await reference.find_token(session, "demo-engineer-frank")
        assert acme is not None and acme.organisation_id == "acme"
        assert alice is not None and alice.engineer_id == "alice"
        assert frank is not None and frank.engineer_id == "frank"
        alice_row = await reference.get_engineer(session, "alice")
        frank_row = await reference.get_engineer(session, "frank")
    assert alice_row is not None and alice_row.tier == Tier.FRONTLINE
    assert frank_row is not None and frank_row.tier == Tier.EXPERT


async def test_demo_contracts_cover_each_warranty_case_relative_to_today(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session, today=TODAY)
    async with database.session() as session:
        acme = await reference.find_entitlement(session, "acme", "edge-router", TODAY)
        globex = await reference.find_entitlement(session, "globex", "storage-array", TODAY)
        initech = await reference.find_entitlement(session, "initech", "cloud-console", TODAY)
    assert (acme.level, acme.warranty_status) == (
        ContractLevel.PREMIUM,
        WarrantyStatus.IN_WARRANTY,
    )
    assert (globex.level, globex.warranty_status) == (
        ContractLevel.STANDARD,
        WarrantyStatus.IN_WARRANTY,
    )
    assert (initech.level, initech.warranty_status) == (
        ContractLevel.BASIC,
        WarrantyStatus.OUT_OF_WARRANTY,
    )
    assert initech.warranty_end is not None and initech.warranty_end < TODAY
    assert acme.warranty_end is not None and acme.warranty_end > TODAY + timedelta(days=30)


async def test_every_product_has_a_tier1_owner_and_every_team_a_manager(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session, today=TODAY)
    seed = load_demo_seed()
    async with database.session() as session:
        for product in seed.products:
            for tier in Tier:
                owner = await reference.least_loaded_engineer(session, product.id, tier)
                assert owner is not None and owner.tier == tier
        teams = await reference.list_teams(session)
        assert {t.tier for t in teams} == {Tier.FRONTLINE, Tier.EXPERT, Tier.RND}
        # Two frontline teams own products; the field service team visits customers only.
        frontline = [t for t in teams if t.tier == Tier.FRONTLINE]
        assert len(frontline) == 3
        assert [t.id for t in frontline if not await reference.team_product_ids(session, t.id)] == [
            "field-service"
        ]
        assert all(t.manager_id is not None for t in teams)
        for team in teams:
            members = await reference.list_engineers(session, team_id=team.id)
            workers = [m for m in members if not m.is_manager]
            assert 2 <= len(workers) <= 3
