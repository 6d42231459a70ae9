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
from api.errors import conflict, invalid, not_found
from api.schemas import (
    ContractCreate,
    ContractRead,
    EngineerCreate,
    EngineerRead,
    OrganisationCreate,
    OrganisationRead,
    ProductCreate,
    ProductRead,
    TeamCreate,
    TeamRead,
    TokenCreate,
    TokenCreated,
)
from db.repositories import reference as repo
from domain.enums import Role, Tier

STAFF_AND_INTEGRATION = STAFF | {Role.INTEGRATION}


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


async def list_teams(session: AsyncSession, tier: Tier | None) -> list[TeamRead]:
    return [
        TeamRead(
            id=t.id,
            name=t.name,
            tier=t.tier,
            manager_id=t.manager_id,
            product_ids=await repo.team_product_ids(session, t.id),
        )
        for t in await repo.list_teams(session, tier)
    ]


async def create_team(session: AsyncSession, body: TeamCreate) -> TeamRead:
    """Each listed product must exist and appear once; a 422 points at the offending entry."""
    if await repo.get_team(session, body.id) is not None:
        raise conflict(f"team '{body.id}' already exists")
    for index, product_id in enumerate(body.product_ids):
        if product_id in body.product_ids[:index]:
            raise invalid(f"body.product_ids.{index}", f"product '{product_id}' is listed twice")
        if await repo.get_product(session, product_id) is None:
            raise invalid(f"body.product_ids.{index}", f"unknown product '{product_id}'")
    async with _writing(session, f"team '{body.id}'"):
        await repo.create_team(session, body.id, body.name, body.tier, body.product_ids)
    return TeamRead(
        id=body.id,
        name=body.name,
        tier=body.tier,
        manager_id=None,
        product_ids=sorted(body.product_ids),
    )


async def list_engineers(
    session: AsyncSession, team_id: str | None, tier: Tier | None, active_only: bool
) -> list[EngineerRead]:
    rows = await repo.list_engineers(session, team_id, tier, active_only)
    return [EngineerRead.model_validate(e) for e in rows]


async def create_engineer(session: AsyncSession, body: EngineerCreate) -> EngineerRead:
    """The engineer joins the team's tier; the team's first manager becomes its manager."""
    team = await repo.get_team(session, body.team_id)
    if team is None:
        raise invalid("body.team_id", f"unknown team '{body.team_id}'")
    if await repo.get_engineer(session, body.id) is not None:
        raise conflict(f"engineer '{body.id}' already exists")
    async with _writing(session, f"engineer '{body.id}'"):
        row = await repo.create_engineer(
            session, body.id, body.name, str(body.email), team.tier, team.id, body.is_manager
        )
        if body.is_manager and team.manager_id is None:
            await repo.set_team_manager(session, team.id, row.id)
    return EngineerRead.model_validate(row)


async def create_token(session: AsyncSession, body: TokenCreate) -> TokenCreated:
    """Issue an API token bound to what its role acts for (a customer token to an
    organisation, an engineer or manager token to that engineer); the raw token is in this
    answer only, the database keeps its hash."""
    if body.role == Role.CUSTOMER:
        if body.organisation_id is None:
            raise invalid("body.organisation_id", "required for a customer token")
        if await repo.get_organisation(session, body.organisation_id) is None:
            raise invalid("body.organisation_id", f"unknown organisation '{body.organisation_id}'")
    if body.role in (Role.ENGINEER, Role.MANAGER):
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
            engineer_id=body.engineer_id if body.role in (Role.ENGINEER, Role.MANAGER) else None,
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
