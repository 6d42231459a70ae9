"""Dispatch endpoints: routing rules and defaults (admin), the dry run, presence, and the
work views staff use (my issues, a team's queue and workload, an engineer's issues)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import ORGANISATION_STAFF
from api.deps import PrincipalDep, SessionDep
from api.schemas import (
    DryRunBody,
    DryRunRead,
    EngineerRead,
    IssuePage,
    PresenceBody,
    RoutingDefaultBody,
    RoutingDefaultRead,
    RoutingRuleCreate,
    RoutingRuleFields,
    RoutingRuleRead,
    TeamWorkload,
    refuse_control_characters,
)
from api.services import dispatch as service
from api.services import issues as issue_service
from api.services import reference as reference_service
from domain.enums import Role, Tier

router = APIRouter(tags=["dispatch"], dependencies=[Depends(refuse_control_characters)])
ADMIN = frozenset({Role.ADMIN})
Cursor = Annotated[
    str | None, Query(max_length=issue_service.MAX_CURSOR_LENGTH, description="next_cursor")
]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/routing/rules", response_model=list[RoutingRuleRead])
async def list_rules(principal: PrincipalDep, session: SessionDep) -> list[RoutingRuleRead]:
    """The routing rules in the order they are tried (position, then id)."""
    principal.require(ORGANISATION_STAFF, "read routing rules")
    return await service.list_rules(session)


@router.post("/routing/rules", status_code=status.HTTP_201_CREATED, response_model=RoutingRuleRead)
async def create_rule(
    body: RoutingRuleCreate, principal: PrincipalDep, session: SessionDep
) -> RoutingRuleRead:
    principal.require(ADMIN, "create routing rules")
    return await service.create_rule(session, body)


@router.get("/routing/rules/{rule_id}", response_model=RoutingRuleRead)
async def get_rule(rule_id: str, principal: PrincipalDep, session: SessionDep) -> RoutingRuleRead:
    principal.require(ORGANISATION_STAFF, "read routing rules")
    return await service.get_rule(session, rule_id)


@router.put("/routing/rules/{rule_id}", response_model=RoutingRuleRead)
async def update_rule(
    rule_id: str, body: RoutingRuleFields, principal: PrincipalDep, session: SessionDep
) -> RoutingRuleRead:
    principal.require(ADMIN, "edit routing rules")
    return await service.update_rule(session, rule_id, body)


@router.delete("/routing/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require(ADMIN, "delete routing rules")
    await service.delete_rule(session, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/routing/defaults", response_model=list[RoutingDefaultRead])
async def list_defaults(principal: PrincipalDep, session: SessionDep) -> list[RoutingDefaultRead]:
    """The team per tier that takes what no rule matched."""
    principal.require(ORGANISATION_STAFF, "read routing defaults")
    return await service.list_defaults(session)


@router.put("/routing/defaults/{tier}", response_model=RoutingDefaultRead)
async def set_default(
    tier: Tier, body: RoutingDefaultBody, principal: PrincipalDep, session: SessionDep
) -> RoutingDefaultRead:
    principal.require(ADMIN, "set routing defaults")
    return await service.set_default(session, tier, body)


@router.delete("/routing/defaults/{tier}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_default(tier: Tier, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require(ADMIN, "delete routing defaults")
    await service.delete_default(session, tier)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/routing/dry-run", response_model=DryRunRead)
async def dry_run(body: DryRunBody, principal: PrincipalDep, session: SessionDep) -> DryRunRead:
    """Who would get this issue now and why: every rule, the team, every engineer of it."""
    principal.require(ORGANISATION_STAFF, "dry-run routing")
    return await service.dry_run(session, body)


@router.put("/engineers/{engineer_id}/presence", response_model=EngineerRead)
async def set_presence(
    engineer_id: str, body: PresenceBody, principal: PrincipalDep, session: SessionDep
) -> EngineerRead:
    """Available, away (no new offers) or off duty (nothing; their substitute takes over)."""
    principal.require(ORGANISATION_STAFF, "set presence")
    return await reference_service.set_presence(session, principal, engineer_id, body.presence)


@router.get("/me/issues", response_model=IssuePage)
async def my_issues(
    principal: PrincipalDep, session: SessionDep, cursor: Cursor = None, limit: Limit = 25
) -> IssuePage:
    """The caller's open issues, the next SLA deadline first."""
    principal.require(ORGANISATION_STAFF, "list their issues")
    return await service.my_issues(session, principal, cursor, limit)


@router.get("/teams/{team_id}/queue", response_model=IssuePage)
async def team_queue(
    team_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    assigned: Annotated[
        bool | None, Query(description="false: unassigned only; true: assigned only")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> IssuePage:
    """The team's open issues (unassigned and assigned), the next SLA deadline first."""
    principal.require(ORGANISATION_STAFF, "read team queues")
    return await service.team_queue(session, principal, team_id, assigned, cursor, limit)


@router.get("/teams/{team_id}/workload", response_model=TeamWorkload)
async def team_workload(team_id: str, principal: PrincipalDep, session: SessionDep) -> TeamWorkload:
    """Open issues per engineer against their capacity, with their presence."""
    principal.require(ORGANISATION_STAFF, "read team workloads")
    return await service.team_workload(session, team_id)


@router.get("/engineers/{engineer_id}/issues", response_model=IssuePage)
async def engineer_issues(
    engineer_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    include_closed: bool = False,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> IssuePage:
    """The engineer's issues (open ones unless include_closed), the next SLA deadline first."""
    principal.require(ORGANISATION_STAFF, "list an engineer's issues")
    return await service.engineer_issues(
        session, principal, engineer_id, include_closed, cursor, limit
    )
