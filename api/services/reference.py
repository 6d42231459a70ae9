"""Reference data use cases behind the routes: organisations and contracts, products, teams,
engineers, API tokens.

Creating an id that exists is a 409, never an overwrite, also when two admins create it at
the same moment: the lookup answers the common case with a clear message, the database's
constraint decides the race (see `_writing`). Every write commits here, so a route never
holds a transaction.
"""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import STAFF, Principal
from api.errors import conflict, forbidden, invalid, not_found
from api.schemas import (
    ContractCreate,
    ContractRead,
    EngineerCreate,
    EngineerFields,
    EngineerRead,
    EngineerUpdate,
    OrganisationCreate,
    OrganisationRead,
    ProductCreate,
    ProductRead,
    TeamCreate,
    TeamFields,
    TeamRead,
    TeamUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from db.models import EngineerRow, TeamRow
from db.repositories import dispatch as dispatch_repo
from db.repositories import reference as repo
from db.repositories import sla as sla_repo
from domain.enums import Presence, Role, Tier

STAFF_AND_INTEGRATION = STAFF | {Role.INTEGRATION}
ENGINEER_BOUND = frozenset({Role.ENGINEER, Role.MANAGER, Role.FIELD_ENGINEER})
"""Roles whose token acts as an engineer (a field engineer's optionally)."""


async def list_organisations(session: AsyncSession, principal: Principal) -> list[OrganisationRead]:
    """A customer sees its own organisation; staff and integrations see all of them."""
    if principal.role == Role.CUSTOMER:
        assert principal.organisation_id is not None
        own = await repo.get_organisation(session, principal.organisation_id)
        return [OrganisationRead.model_validate(own)] if own else []
    principal.require(STAFF_AND_INTEGRATION, "list organisations")
    return [OrganisationRead.model_validate(o) for o in await repo.list_organisations(session)]


async def create_organisation(session: AsyncSession, body: OrganisationCreate) -> OrganisationRead:
    if await repo.get_organisation(session, body.id) is not None:
        raise conflict(f"organisation '{body.id}' already exists")
    async with _writing(session, f"organisation '{body.id}'"):
        row = await repo.create_organisation(session, body.id, body.name)
    return OrganisationRead.model_validate(row)


async def list_contracts(
    session: AsyncSession, principal: Principal, organisation_id: str
) -> list[ContractRead]:
    """Another organisation's contracts are a 404 to a customer, as if it did not exist."""
    if not principal.can_see_organisation(organisation_id):
        raise not_found(f"organisation {organisation_id}")
    if await repo.get_organisation(session, organisation_id) is None:
        raise not_found(f"organisation {organisation_id}")
    rows = await repo.list_contracts(session, organisation_id)
    return [ContractRead.model_validate(c) for c in rows]


async def create_contract(
    session: AsyncSession, organisation_id: str, body: ContractCreate
) -> ContractRead:
    if await repo.get_organisation(session, organisation_id) is None:
        raise not_found(f"organisation {organisation_id}")
    if body.warranty_end < body.starts_on:
        raise invalid("body.warranty_end", "must not be before starts_on")
    if await repo.get_contract(session, body.id) is not None:
        raise conflict(f"contract '{body.id}' already exists")
    async with _writing(session, f"contract '{body.id}'"):
        row = await repo.create_contract(
            session, body.id, organisation_id, body.level, body.starts_on, body.warranty_end
        )
    return ContractRead.model_validate(row)


async def list_products(session: AsyncSession) -> list[ProductRead]:
    return [ProductRead.model_validate(p) for p in await repo.list_products(session)]


async def create_product(session: AsyncSession, body: ProductCreate) -> ProductRead:
    if await repo.get_product(session, body.id) is not None:
        raise conflict(f"product '{body.id}' already exists")
    async with _writing(session, f"product '{body.id}'"):
        row = await repo.create_product(session, body.id, body.name, body.current_version)
    return ProductRead.model_validate(row)


def _team_read(team: TeamRow, product_ids: list[str], manager_ids: list[str]) -> TeamRead:
    return TeamRead(
        id=team.id,
        name=team.name,
        tier=team.tier,
        manager_id=team.manager_id,
        manager_ids=manager_ids,
        product_ids=product_ids,
        regions=list(team.regions or ()),
        languages=list(team.languages or ()),
        calendar=team.calendar_name,
        strategy=team.strategy,
        offer_timeout_minutes=team.offer_timeout_minutes,
        load_counts_running_only=team.load_counts_running_only,
    )


async def list_teams(session: AsyncSession, tier: Tier | None) -> list[TeamRead]:
    return [
        _team_read(
            t,
            await repo.team_product_ids(session, t.id),
            await repo.team_manager_ids(session, t.id),
        )
        for t in await repo.list_teams(session, tier)
    ]


async def get_team(session: AsyncSession, team_id: str) -> TeamRead:
    team = await repo.get_team(session, team_id)
    if team is None:
        raise not_found(f"team {team_id}")
    return _team_read(
        team,
        await repo.team_product_ids(session, team_id),
        await repo.team_manager_ids(session, team_id),
    )


async def _check_team_fields(session: AsyncSession, body: TeamFields) -> None:
    """Each listed product must exist and appear once, the calendar must exist; a 422 points
    at the offending entry."""
    for index, product_id in enumerate(body.product_ids):
        if product_id in body.product_ids[:index]:
            raise invalid(f"body.product_ids.{index}", f"product '{product_id}' is listed twice")
        if await repo.get_product(session, product_id) is None:
            raise invalid(f"body.product_ids.{index}", f"unknown product '{product_id}'")
    if body.calendar is not None and await sla_repo.get_calendar(session, body.calendar) is None:
        raise invalid("body.calendar", f"unknown business calendar '{body.calendar}'")


def _team_values(body: TeamFields) -> dict[str, object]:
    return {
        "regions": sorted(set(body.regions)),
        "languages": sorted(set(body.languages)),
        "calendar_name": body.calendar,
        "strategy": body.strategy,
        "offer_timeout_minutes": body.offer_timeout_minutes,
        "load_counts_running_only": body.load_counts_running_only,
    }


async def create_team(session: AsyncSession, body: TeamCreate) -> TeamRead:
    if await repo.get_team(session, body.id) is not None:
        raise conflict(f"team '{body.id}' already exists")
    await _check_team_fields(session, body)
    async with _writing(session, f"team '{body.id}'"):
        await repo.create_team(session, body.id, body.name, body.tier, body.product_ids)
        await repo.update_team(session, body.id, _team_values(body))
    return await get_team(session, body.id)


async def update_team(session: AsyncSession, team_id: str, body: TeamUpdate) -> TeamRead:
    """Replace the team's editable fields, products and managers (each must be a manager)."""
    team = await repo.get_team(session, team_id)
    if team is None:
        raise not_found(f"team {team_id}")
    await _check_team_fields(session, body)
    named = [("body.manager_id", body.manager_id)] if body.manager_id is not None else []
    named += [(f"body.manager_ids.{i}", m) for i, m in enumerate(body.manager_ids)]
    for field, engineer_id in named:
        manager = await repo.get_engineer(session, engineer_id)
        if manager is None or not manager.is_manager:
            raise invalid(field, f"'{engineer_id}' is not a manager")
    async with _writing(session, f"team '{team_id}'"):
        await repo.update_team(session, team_id, {**_team_values(body), "name": body.name})
        await repo.set_team_managers(session, team_id, body.manager_id, body.manager_ids)
        await repo.set_team_products(session, team_id, body.product_ids)
    return await get_team(session, team_id)


async def delete_team(session: AsyncSession, team_id: str) -> None:
    """Only a team that is no rule's target, no tier's default and nobody's primary team
    may go (its issues' history keeps its id)."""
    if await repo.get_team(session, team_id) is None:
        raise not_found(f"team {team_id}")
    rules = await dispatch_repo.rules_naming_team(session, team_id)
    if rules:
        raise conflict(f"team '{team_id}' is the target of routing rules {', '.join(rules)}")
    defaults = await dispatch_repo.load_defaults(session)
    tiers = [str(int(tier)) for tier, team in sorted(defaults.items()) if team == team_id]
    if tiers:
        raise conflict(f"team '{team_id}' is the default team of tier {', '.join(tiers)}")
    primary = [e.id for e in await repo.list_engineers(session) if e.team_id == team_id]
    if primary:
        raise conflict(f"team '{team_id}' is the primary team of {', '.join(primary)}")
    async with _writing(session, f"team '{team_id}'"):
        await repo.delete_team(session, team_id)


async def _engineer_read(session: AsyncSession, row: EngineerRow) -> EngineerRead:
    teams = (await repo.team_ids_of(session, [row.id])).get(row.id, [])
    return _as_read(row, teams)


def _as_read(row: EngineerRow, team_ids: list[str]) -> EngineerRead:
    return EngineerRead(
        id=row.id,
        name=row.name,
        email=row.email,
        tier=row.tier,
        team_id=row.team_id,
        is_manager=row.is_manager,
        active=row.active,
        team_ids=team_ids,
        skills=dict(row.skills or {}),
        languages=list(row.languages or ()),
        region=row.region,
        presence=row.presence,
        capacity=row.capacity,
        substitute_id=row.substitute_id,
    )


async def list_engineers(
    session: AsyncSession, team_id: str | None, tier: Tier | None, active_only: bool
) -> list[EngineerRead]:
    rows = await repo.list_engineers(session, team_id, tier, active_only)
    teams = await repo.team_ids_of(session, [r.id for r in rows])
    return [_as_read(e, teams.get(e.id, [])) for e in rows]


async def get_engineer(session: AsyncSession, engineer_id: str) -> EngineerRead:
    row = await repo.get_engineer(session, engineer_id)
    if row is None:
        raise not_found(f"engineer {engineer_id}")
    return await _engineer_read(session, row)


async def _check_engineer_fields(
    session: AsyncSession, engineer_id: str, primary: TeamRow, body: EngineerFields
) -> None:
    """Every further team exists, once, at the primary team's tier; the substitute exists
    and is someone else."""
    for index, team_id in enumerate(body.team_ids):
        if team_id in body.team_ids[:index]:
            raise invalid(f"body.team_ids.{index}", f"team '{team_id}' is listed twice")
        team = await repo.get_team(session, team_id)
        if team is None:
            raise invalid(f"body.team_ids.{index}", f"unknown team '{team_id}'")
        if team.tier != primary.tier:
            raise invalid(
                f"body.team_ids.{index}",
                f"team '{team_id}' is tier {int(team.tier)}, the engineer's team tier "
                f"{int(primary.tier)}",
            )
    if body.substitute_id is not None:
        if body.substitute_id == engineer_id:
            raise invalid("body.substitute_id", "an engineer cannot be their own substitute")
        if await repo.get_engineer(session, body.substitute_id) is None:
            raise invalid("body.substitute_id", f"unknown engineer '{body.substitute_id}'")


def _engineer_values(body: EngineerFields) -> dict[str, object]:
    return {
        "skills": dict(sorted(body.skills.items())),
        "languages": sorted(set(body.languages)),
        "region": body.region,
        "presence": body.presence,
        "capacity": body.capacity,
        "substitute_id": body.substitute_id,
    }


async def create_engineer(session: AsyncSession, body: EngineerCreate) -> EngineerRead:
    """The engineer joins the team's tier; the team's first manager becomes its manager."""
    team = await repo.get_team(session, body.team_id)
    if team is None:
        raise invalid("body.team_id", f"unknown team '{body.team_id}'")
    if await repo.get_engineer(session, body.id) is not None:
        raise conflict(f"engineer '{body.id}' already exists")
    await _check_engineer_fields(session, body.id, team, body)
    async with _writing(session, f"engineer '{body.id}'"):
        row = await repo.create_engineer(
            session, body.id, body.name, str(body.email), team.tier, team.id, body.is_manager
        )
        await repo.update_engineer(session, body.id, _engineer_values(body))
        await repo.set_memberships(session, body.id, [team.id, *body.team_ids])
        if body.is_manager and team.manager_id is None:
            await repo.set_team_manager(session, team.id, row.id)
    return await get_engineer(session, body.id)


async def update_engineer(
    session: AsyncSession, engineer_id: str, body: EngineerUpdate
) -> EngineerRead:
    """Replace the engineer's editable fields; the primary team may change within the tier."""
    row = await repo.get_engineer(session, engineer_id)
    if row is None:
        raise not_found(f"engineer {engineer_id}")
    team = await repo.get_team(session, body.team_id)
    if team is None:
        raise invalid("body.team_id", f"unknown team '{body.team_id}'")
    if team.tier != row.tier:
        raise invalid(
            "body.team_id",
            f"team '{team.id}' is tier {int(team.tier)}, the engineer tier {int(row.tier)}",
        )
    await _check_engineer_fields(session, engineer_id, team, body)
    values = {
        **_engineer_values(body),
        "name": body.name,
        "email": str(body.email),
        "team_id": team.id,
        "active": body.active,
    }
    async with _writing(session, f"engineer '{engineer_id}'"):
        await repo.update_engineer(session, engineer_id, values)
        await repo.set_memberships(session, engineer_id, [team.id, *body.team_ids])
    return await get_engineer(session, engineer_id)


async def deactivate_engineer(session: AsyncSession, engineer_id: str) -> EngineerRead:
    """Engineers are never deleted (issues and the timeline name them): they stop taking work."""
    if await repo.get_engineer(session, engineer_id) is None:
        raise not_found(f"engineer {engineer_id}")
    async with _writing(session, f"engineer '{engineer_id}'"):
        await repo.update_engineer(
            session, engineer_id, {"active": False, "presence": Presence.OFF_DUTY}
        )
    return await get_engineer(session, engineer_id)


async def set_presence(
    session: AsyncSession, principal: Principal, engineer_id: str, presence: Presence
) -> EngineerRead:
    """The engineer themself, a manager of one of their teams, a dispatcher or an admin."""
    row = await repo.get_engineer(session, engineer_id)
    if row is None:
        raise not_found(f"engineer {engineer_id}")
    if principal.role not in (Role.ADMIN, Role.DISPATCHER) and principal.engineer_id != engineer_id:
        managed: list[str] = []
        if principal.role == Role.MANAGER and principal.engineer_id is not None:
            managed = await repo.managed_team_ids(session, principal.engineer_id)
        teams = (await repo.team_ids_of(session, [engineer_id])).get(engineer_id, [])
        if not set(managed) & set(teams):
            raise forbidden(
                "only the engineer, a manager of their team, a dispatcher or an admin may "
                "set their presence"
            )
    async with _writing(session, f"engineer '{engineer_id}'"):
        await repo.update_engineer(session, engineer_id, {"presence": presence})
    return await get_engineer(session, engineer_id)


async def list_tokens(session: AsyncSession, include_revoked: bool) -> list[TokenRead]:
    return [
        TokenRead.model_validate(row) for row in await repo.list_tokens(session, include_revoked)
    ]


async def revoke_token(session: AsyncSession, token_id: str) -> TokenRead:
    """Revoke now: the token authenticates nothing from here on. Revoking a revoked token
    is a 409 (it already was), an unknown one a 404."""
    row = await repo.get_token(session, token_id)
    if row is None:
        raise not_found(f"token '{token_id}'")
    async with _writing(session, f"token '{token_id}'"):
        revoked = await repo.revoke_token(session, token_id)
    if not revoked:
        raise conflict(f"token '{token_id}' is already revoked")
    row = await repo.get_token(session, token_id)
    assert row is not None
    await session.refresh(row)
    return TokenRead.model_validate(row)


async def create_token(session: AsyncSession, body: TokenCreate) -> TokenCreated:
    """Issue an API token bound to what its role acts for (a customer token to an
    organisation, an engineer or manager token to that engineer); the raw token is in this
    answer only, the database keeps its hash."""
    if body.role == Role.CUSTOMER:
        if body.organisation_id is None:
            raise invalid("body.organisation_id", "required for a customer token")
        if await repo.get_organisation(session, body.organisation_id) is None:
            raise invalid("body.organisation_id", f"unknown organisation '{body.organisation_id}'")
    if body.role in (Role.ENGINEER, Role.MANAGER) or (
        body.role == Role.FIELD_ENGINEER and body.engineer_id is not None
    ):
        if body.engineer_id is None:
            raise invalid("body.engineer_id", f"required for a {body.role.value} token")
        engineer = await repo.get_engineer(session, body.engineer_id)
        if engineer is None:
            raise invalid("body.engineer_id", f"unknown engineer '{body.engineer_id}'")
        if (body.role == Role.MANAGER) != engineer.is_manager:
            raise invalid("body.role", "manager tokens go to managers, engineer tokens to others")
    raw = f"itr_{secrets.token_urlsafe(32)}"
    async with _writing(session, f"token '{body.name}'"):
        row = await repo.create_token(
            session,
            body.name,
            body.role,
            raw,
            organisation_id=body.organisation_id if body.role == Role.CUSTOMER else None,
            engineer_id=body.engineer_id if body.role in ENGINEER_BOUND else None,
            contact_email=str(body.contact_email) if body.contact_email else None,
        )
    return TokenCreated(id=row.id, name=row.name, role=row.role, token=raw)


@asynccontextmanager
async def _writing(session: AsyncSession, what: str) -> AsyncIterator[None]:
    """Write and commit; a constraint the database enforces (an id another request created
    meanwhile, a row that vanished) is a 409 naming `what`, raised at flush or at commit."""
    try:
        yield
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise conflict(
            f"{what} conflicts with existing data (created or changed concurrently?)"
        ) from None
