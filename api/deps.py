"""Dependency aliases for route handlers (Annotated, per the FastAPI template)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, unauthorized
from api.errors import Problem
from api.state import AppState
from api.temporal_gateway import TemporalGateway
from db.repositories import reference as reference_repo
from domain.enums import Role


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.itr
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.db.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_temporal(state: StateDep) -> TemporalGateway:
    return state.temporal


TemporalDep = Annotated[TemporalGateway, Depends(get_temporal)]


# Documents the bearer scheme in OpenAPI; the header itself is parsed below, so a missing or
# malformed one gets our own 401 problem rather than the library's.
BEARER = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer <token>`")


async def get_principal(
    request: Request,
    state: StateDep,
    session: SessionDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Principal:
    """Resolve the bearer token; only its hash is compared, in the database.

    Each failure counts against the caller's address; past ITR_AUTH_FAILURE_LIMIT the
    address is answered 429 (before any token lookup) until the window frees a slot.
    """
    client = request.client.host if request.client else "unknown"
    await state.auth_failures.refuse_if_blocked(client)
    try:
        return await _principal(session, request.headers.get("authorization"))
    except Problem:
        await state.auth_failures.failed(client)
        raise


async def _principal(session: AsyncSession, authorization: str | None) -> Principal:
    if not authorization:
        raise unauthorized("missing Authorization: Bearer <token> header")
    scheme, _, raw = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    token = await reference_repo.find_token(session, raw.strip())
    await session.commit()  # end the read; objects stay loaded (expire_on_commit=False)
    if token is None:
        raise unauthorized("unknown or revoked token")
    teams = reference_repo.EngineerTeams()
    if token.engineer_id is not None:
        teams = await reference_repo.engineer_teams(session, token.engineer_id)
        await session.commit()
    return Principal(
        token_id=token.id,
        role=token.role,
        name=token.contact_name,
        organisation_id=token.organisation_id,
        engineer_id=token.engineer_id,
        team_ids=teams.team_ids,
        managed_team_ids=teams.managed_team_ids,
        tier=teams.tier,
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    """For the operator endpoints (/docs, /metrics) when they are set to `admin`."""
    principal.require(frozenset({Role.ADMIN}), "read this endpoint")
    return principal


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retrying a request with the same key never applies it twice",
    ),
]
