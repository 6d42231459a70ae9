"""SLA policies as data: business calendars, policies per contract level x severity, overrides.

Admins write, staff read, customers and integrations are refused. PUT is an upsert (201
when it created, 200 when it replaced) validated by the domain models themselves, so the
API refuses exactly what the SLA engine could not compute with, and every 422 names the
offending field (`body.weekly.0.1`, `body.timezone`, `body.tier_budgets`, ...). The path
names the calendar or policy; the body may repeat it but must then agree. The rules live in
`api.services.sla_admin` (policies as data) and `api.services.sla` (running issues).
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status

from api.auth import EVERYONE, STAFF
from api.deps import IdempotencyKey, PrincipalDep, SessionDep, TemporalDep
from api.schemas import (
    AtRiskPage,
    CalendarRead,
    ContractOverridesRead,
    PolicyCheck,
    PolicyRead,
    ReapplyBody,
    ReapplyReport,
    refuse_control_characters,
)
from api.services import sla as sla_service
from api.services import sla_admin as service
from domain.enums import ContractLevel, Role, Severity

router = APIRouter(
    prefix="/sla", tags=["SLA policies"], dependencies=[Depends(refuse_control_characters)]
)
ADMIN = frozenset({Role.ADMIN})

Document = Annotated[dict[str, Any], Body()]


# --- calendars --------------------------------------------------------------------------------


@router.get("/calendars", response_model=list[CalendarRead])
async def list_calendars(principal: PrincipalDep, session: SessionDep) -> list[CalendarRead]:
    principal.require(STAFF, "read SLA calendars")
    return await service.list_calendars(session)


@router.get("/calendars/{name}", response_model=CalendarRead)
async def get_calendar(name: str, principal: PrincipalDep, session: SessionDep) -> CalendarRead:
    principal.require(STAFF, "read SLA calendars")
    return await service.get_calendar(session, name)


@router.put("/calendars/{name}", response_model=CalendarRead)
async def put_calendar(
    name: str, body: Document, response: Response, principal: PrincipalDep, session: SessionDep
) -> CalendarRead:
    principal.require(ADMIN, "change SLA calendars")
    answer, created = await service.put_calendar(session, name, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return answer


@router.delete("/calendars/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(name: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require(ADMIN, "delete SLA calendars")
    await service.delete_calendar(session, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- policies ---------------------------------------------------------------------------------


@router.get("/policies", response_model=list[PolicyRead])
async def list_policies(principal: PrincipalDep, session: SessionDep) -> list[PolicyRead]:
    principal.require(STAFF, "read SLA policies")
    return await service.list_policies(session)


@router.get("/policies/check", response_model=PolicyCheck)
async def check_policies(principal: PrincipalDep, session: SessionDep) -> PolicyCheck:
    """Gaps in the matrix: an issue at a missing combination would run without an SLA."""
    principal.require(STAFF, "read SLA policies")
    return await service.check_policies(session)


@router.get("/policies/{contract_level}/{severity}", response_model=PolicyRead)
async def get_policy(
    contract_level: ContractLevel, severity: Severity, principal: PrincipalDep, session: SessionDep
) -> PolicyRead:
    principal.require(STAFF, "read SLA policies")
    return await service.get_policy(session, contract_level, severity)


@router.put("/policies/{contract_level}/{severity}", response_model=PolicyRead)
async def put_policy(
    contract_level: ContractLevel,
    severity: Severity,
    body: Document,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
) -> PolicyRead:
    principal.require(ADMIN, "change SLA policies")
    answer, created = await service.put_policy(session, contract_level, severity, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return answer


# --- contract overrides -----------------------------------------------------------------------


@router.put("/contracts/{contract_id}/overrides", response_model=ContractOverridesRead)
async def put_contract_overrides(
    contract_id: str, body: Document, principal: PrincipalDep, session: SessionDep
) -> ContractOverridesRead:
    """Replace a contract's negotiated targets (`{"targets": {"1": {"resolution": "PT4H"}}}`).

    Each overridden policy is re-validated with the new targets, so an override that
    would make fixed tier budgets exceed the resolution target is refused here, not at
    the first issue of that contract.
    """
    principal.require(ADMIN, "change contract SLA overrides")
    return await service.put_contract_overrides(session, contract_id, body)


# --- running issues ---------------------------------------------------------------------------


@router.get("/at-risk", response_model=AtRiskPage)
async def at_risk(
    principal: PrincipalDep,
    session: SessionDep,
    within: Annotated[
        str, Query(description="ISO 8601 duration (PT2H) or seconds", examples=["PT2H"])
    ] = "PT1H",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AtRiskPage:
    """Open issues whose next breach is due within `within` (already overdue ones first),
    soonest first, with the clock that breaches and the business time left. Customers see
    their organisation's issues and their two promises only."""
    principal.require(EVERYONE, "list issues at risk")
    window = sla_service.parse_within(within)
    now = datetime.now(UTC)
    items = await sla_service.at_risk(session, principal, window, limit, now)
    return AtRiskPage(as_of=now, within=window, items=items)


@router.post("/reapply", response_model=ReapplyReport)
async def reapply(
    body: ReapplyBody,
    principal: PrincipalDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> ReapplyReport:
    """Re-apply the current policies to running issues; one result per issue (reapplied,
    refused with the reason, not_found), so a closed issue never fails the others."""
    principal.require(ADMIN, "re-apply SLA policies")
    results = await sla_service.reapply_many(
        session, temporal, principal, body.issue_ids, body.reason, idempotency_key
    )
    return ReapplyReport(results=results)
