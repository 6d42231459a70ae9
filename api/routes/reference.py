"""Reference data: organisations and contracts, products, teams, engineers, API tokens.

Everyone authenticated may read products (a portal needs them to open an issue); staff read
the rest; only admins write. Creating an id that exists is a 409, never an overwrite, also
when two admins create it at the same moment (`api.services.reference` holds the rules).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import EVERYONE, ORGANISATION_STAFF
from api.deps import PrincipalDep, SessionDep
from api.schemas import (
    ContractCreate,
    ContractRead,
    EngineerCreate,
    EngineerRead,
    EngineerUpdate,
    OrganisationCreate,
    OrganisationRead,
    ProductCreate,
    ProductRead,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    refuse_control_characters,
)
from api.services import reference as service
from domain.enums import Role, Tier

router = APIRouter(tags=["reference data"], dependencies=[Depends(refuse_control_characters)])
ADMIN = frozenset({Role.ADMIN})


@router.get("/organisations", response_model=list[OrganisationRead])
async def list_organisations(
    principal: PrincipalDep, session: SessionDep
) -> list[OrganisationRead]:
    return await service.list_organisations(session, principal)


@router.post("/organisations", status_code=status.HTTP_201_CREATED, response_model=OrganisationRead)
async def create_organisation(
    body: OrganisationCreate, principal: PrincipalDep, session: SessionDep
) -> OrganisationRead:
    principal.require(ADMIN, "create organisations")
    return await service.create_organisation(session, body)


@router.get("/organisations/{organisation_id}/contracts", response_model=list[ContractRead])
async def list_contracts(
    organisation_id: str, principal: PrincipalDep, session: SessionDep
) -> list[ContractRead]:
    principal.require(EVERYONE, "list contracts")
    return await service.list_contracts(session, principal, organisation_id)


@router.post(
    "/organisations/{organisation_id}/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
)
async def create_contract(
    organisation_id: str, body: ContractCreate, principal: PrincipalDep, session: SessionDep
) -> ContractRead:
    principal.require(ADMIN, "create contracts")
    return await service.create_contract(session, organisation_id, body)


@router.get("/products", response_model=list[ProductRead])
async def list_products(principal: PrincipalDep, session: SessionDep) -> list[ProductRead]:
    return await service.list_products(session)


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductRead)
async def create_product(
    body: ProductCreate, principal: PrincipalDep, session: SessionDep
) -> ProductRead:
    principal.require(ADMIN, "create products")
    return await service.create_product(session, body)


@router.get("/teams", response_model=list[TeamRead])
async def list_teams(
    principal: PrincipalDep, session: SessionDep, tier: Tier | None = None
) -> list[TeamRead]:
    principal.require(ORGANISATION_STAFF, "list teams")
    return await service.list_teams(session, tier)


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamRead)
async def create_team(body: TeamCreate, principal: PrincipalDep, session: SessionDep) -> TeamRead:
    principal.require(ADMIN, "create teams")
    return await service.create_team(session, body)


@router.get("/teams/{team_id}", response_model=TeamRead)
async def get_team(team_id: str, principal: PrincipalDep, session: SessionDep) -> TeamRead:
    principal.require(ORGANISATION_STAFF, "read teams")
    return await service.get_team(session, team_id)


@router.put("/teams/{team_id}", response_model=TeamRead)
async def update_team(
    team_id: str, body: TeamUpdate, principal: PrincipalDep, session: SessionDep
) -> TeamRead:
    """Replace the team's routing attributes, products and manager (id and tier stay)."""
    principal.require(ADMIN, "edit teams")
    return await service.update_team(session, team_id, body)


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    """Only a team that is nobody's primary team and no routing rule's target (else 409)."""
    principal.require(ADMIN, "delete teams")
    await service.delete_team(session, team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/engineers", response_model=list[EngineerRead])
async def list_engineers(
    principal: PrincipalDep,
    session: SessionDep,
    team_id: str | None = None,
    tier: Tier | None = None,
    active_only: Annotated[bool, Query()] = True,
) -> list[EngineerRead]:
    principal.require(ORGANISATION_STAFF, "list engineers")
    return await service.list_engineers(session, team_id, tier, active_only)


@router.post("/engineers", status_code=status.HTTP_201_CREATED, response_model=EngineerRead)
async def create_engineer(
    body: EngineerCreate, principal: PrincipalDep, session: SessionDep
) -> EngineerRead:
    principal.require(ADMIN, "create engineers")
    return await service.create_engineer(session, body)


@router.get("/engineers/{engineer_id}", response_model=EngineerRead)
async def get_engineer(
    engineer_id: str, principal: PrincipalDep, session: SessionDep
) -> EngineerRead:
    principal.require(ORGANISATION_STAFF, "read engineers")
    return await service.get_engineer(session, engineer_id)


@router.put("/engineers/{engineer_id}", response_model=EngineerRead)
async def update_engineer(
    engineer_id: str, body: EngineerUpdate, principal: PrincipalDep, session: SessionDep
) -> EngineerRead:
    """Replace the engineer's teams, skills, languages, region, presence, capacity and
    substitute (managers set presence through PUT /engineers/{id}/presence)."""
    principal.require(ADMIN, "edit engineers")
    return await service.update_engineer(session, engineer_id, body)


@router.delete("/engineers/{engineer_id}", response_model=EngineerRead)
async def deactivate_engineer(
    engineer_id: str, principal: PrincipalDep, session: SessionDep
) -> EngineerRead:
    """Deactivate: the engineer takes no more work; issues and the timeline keep naming them."""
    principal.require(ADMIN, "deactivate engineers")
    return await service.deactivate_engineer(session, engineer_id)


@router.get("/tokens", response_model=list[TokenRead])
async def list_tokens(
    principal: PrincipalDep, session: SessionDep, include_revoked: bool = False
) -> list[TokenRead]:
    """The issued tokens (never the tokens themselves: only their hashes are kept)."""
    principal.require(ADMIN, "list tokens")
    return await service.list_tokens(session, include_revoked)


@router.post("/tokens/{token_id}/revoke", response_model=TokenRead)
async def revoke_token(token_id: str, principal: PrincipalDep, session: SessionDep) -> TokenRead:
    """Revoke a token now (409 when it already is)."""
    principal.require(ADMIN, "revoke tokens")
    return await service.revoke_token(session, token_id)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(
    body: TokenCreate, principal: PrincipalDep, session: SessionDep
) -> TokenCreated:
    """Issue an API token; the token is shown once in this answer and stored only hashed."""
    principal.require(ADMIN, "issue tokens")
    return await service.create_token(session, body)
