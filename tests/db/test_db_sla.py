"""SLA calendars and policies as data: CRUD, versions, resolution with overrides, seeding."""

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from db.repositories import reference
from db.repositories import sla as repo
from db.seed import seed_demo_data, sla_policies_path
from db.session import Database
from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Severity, Tier
from domain.sla import SeverityTargets, SlaOverrides, SlaPolicy, TierBudget

ON = date(2031, 7, 15)
BERLIN = BusinessCalendar.uniform(
    name="berlin",
    timezone="Europe/Berlin",
    intervals=[("09:00", "12:00"), ("13:00", "18:00")],
    holidays=[date(2031, 12, 25)],
)


def _policy(
    severity: Severity = Severity.MAJOR, calendar: str = "berlin", hours: int = 16
) -> SlaPolicy:
    return SlaPolicy(
        contract_level=ContractLevel.PREMIUM,
        severity=severity,
        first_response=timedelta(hours=1),
        resolution=timedelta(hours=hours),
        calendar=calendar,
        tier_budgets={Tier.FRONTLINE: TierBudget(share=0.3), Tier.EXPERT: TierBudget(share=0.4)},
    )


async def test_calendar_crud_round_trips_the_domain_model(database: Database) -> None:
    async with database.transaction() as session:
        _, created = await repo.put_calendar(session, BERLIN)
        assert created
    async with database.session() as session:
        assert await repo.get_calendar(session, "berlin") == BERLIN
        assert [row.name for row in await repo.list_calendar_rows(session)] == ["berlin"]
    changed = BERLIN.model_copy(update={"holidays": (date(2031, 12, 24),)})
    async with database.transaction() as session:
        _, created = await repo.put_calendar(session, changed)
        assert not created
    async with database.transaction() as session:
        assert await repo.get_calendar(session, "berlin") == changed
        assert await repo.delete_calendar(session, "berlin")
        assert not await repo.delete_calendar(session, "berlin")
    async with database.session() as session:
        assert await repo.get_calendar(session, "berlin") is None


async def test_each_policy_edit_increments_its_version(database: Database) -> None:
    async with database.transaction() as session:
        await repo.put_calendar(session, BERLIN)
        row, created = await repo.put_policy(session, _policy())
        assert (row.version, created) == (1, True)
    async with database.transaction() as session:
        row, created = await repo.put_policy(session, _policy(hours=20))
        assert (row.version, created) == (2, False)
    async with database.session() as session:
        row = await repo.get_policy_row(session, ContractLevel.PREMIUM, Severity.MAJOR)
        assert row is not None and row.version == 2
        policy = await repo.get_policy(session, ContractLevel.PREMIUM, Severity.MAJOR)
        assert policy == _policy(hours=20)
        assert await repo.policies_using(session, "berlin") == [
            (ContractLevel.PREMIUM, Severity.MAJOR)
        ]
        missing = await repo.missing_policies(session)
        assert len(missing) == len(ContractLevel) * len(Severity) - 1
        assert (ContractLevel.PREMIUM, Severity.MAJOR) not in missing


async def test_a_policy_cannot_name_an_unknown_calendar(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(repo.UnknownCalendarError):
            await repo.put_policy(session, _policy(calendar="nowhere"))


async def test_resolve_applies_the_contract_overrides_and_brings_the_calendar(
    database: Database,
) -> None:
    overrides = SlaOverrides(
        targets={Severity.MAJOR: SeverityTargets(resolution=timedelta(hours=8))}
    )
    async with database.transaction() as session:
        await repo.put_calendar(session, BERLIN)
        await repo.put_policy(session, _policy())
        await repo.put_policy(session, _policy())  # version 2
        await reference.create_organisation(session, "acme", "Acme")
        await reference.create_organisation(session, "plain", "Plain")
        for contract_id, organisation in (("ctr-acme", "acme"), ("ctr-plain", "plain")):
            await reference.create_contract(
                session,
                contract_id,
                organisation,
                ContractLevel.PREMIUM,
                ON - timedelta(days=10),
                ON + timedelta(days=365),
            )
        assert await repo.set_contract_overrides(session, "ctr-acme", overrides) is not None
        assert await repo.set_contract_overrides(session, "missing", overrides) is None

    async with database.session() as session:
        resolved = await repo.resolve_policy(
            session, "acme", ContractLevel.PREMIUM, Severity.MAJOR, ON
        )
        plain = await repo.resolve_policy(
            session, "plain", ContractLevel.PREMIUM, Severity.MAJOR, ON
        )
        before_contract = await repo.resolve_policy(
            session, "acme", ContractLevel.PREMIUM, Severity.MAJOR, ON - timedelta(days=30)
        )
        uncovered = await repo.resolve_policy(
            session, "acme", ContractLevel.PREMIUM, Severity.LOW, ON
        )
    assert resolved is not None and plain is not None and before_contract is not None
    assert resolved.policy.resolution == timedelta(hours=8)
    assert resolved.policy.first_response == timedelta(hours=1)  # not overridden
    assert resolved.policy.budget_for(Tier.FRONTLINE) == timedelta(hours=8) * 0.3
    assert resolved.calendar == BERLIN
    assert resolved.version == 2
    assert plain.policy == _policy()
    assert before_contract.policy == _policy()
    assert uncovered is None


def test_overrides_that_break_the_tier_budgets_are_refused() -> None:
    fixed = SlaPolicy(
        contract_level=ContractLevel.BASIC,
        severity=Severity.MINOR,
        first_response=timedelta(hours=1),
        resolution=timedelta(hours=10),
        tier_budgets={Tier.FRONTLINE: TierBudget(duration=timedelta(hours=6))},
    )
    too_short = SlaOverrides(
        targets={Severity.MINOR: SeverityTargets(resolution=timedelta(hours=4))}
    )
    with pytest.raises(ValidationError, match="tier_budgets"):
        too_short.apply(fixed)
    with pytest.raises(ValidationError):
        SlaOverrides.model_validate({"targets": {"2": {"calendar": "24x7"}}})


async def test_loading_the_shipped_policies_is_idempotent_and_complete(
    database: Database,
) -> None:
    async with database.transaction() as session:
        added = await repo.load_sla_policies(session, sla_policies_path())
    assert added == 2 + len(ContractLevel) * len(Severity)
    async with database.transaction() as session:
        assert await repo.load_sla_policies(session, sla_policies_path()) == 0
        await seed_demo_data(session, today=ON)
        await seed_demo_data(session, today=ON)
    async with database.session() as session:
        assert await repo.missing_policies(session) == []
        critical = await repo.get_policy(session, ContractLevel.PREMIUM, Severity.CRITICAL)
        major = await repo.get_policy(session, ContractLevel.PREMIUM, Severity.MAJOR)
        business = await repo.get_calendar(session, "berlin-business-hours")
        rows = await repo.list_policy_rows(session)
    assert critical is not None and critical.calendar == "24x7"
    assert major is not None and major.calendar == "berlin-business-hours"
    assert major.warnings == (50, 75, 90)
    assert business is not None and business.timezone == "Europe/Berlin"
    assert all(row.version == 1 for row in rows)


async def test_loading_keeps_what_an_admin_changed(database: Database) -> None:
    async with database.transaction() as session:
        await repo.load_sla_policies(session, sla_policies_path())
        edited = _policy(calendar="24x7", hours=3)
        await repo.put_policy(session, edited)
    async with database.transaction() as session:
        assert await repo.load_sla_policies(session, sla_policies_path()) == 0
    async with database.session() as session:
        assert await repo.get_policy(session, ContractLevel.PREMIUM, Severity.MAJOR) == edited
