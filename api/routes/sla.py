"""SLA policies as data: business calendars, policies per contract level x severity, overrides.

Admins write, staff read, customers and integrations are refused. PUT is an upsert (201
when it created, 200 when it replaced) validated by the domain models themselves, so the
API refuses exactly what the SLA engine could not compute with, and every 422 names the
offending field (`body.weekly.0.1`, `body.timezone`, `body.tier_budgets`, ...). The path
names the calendar or policy; the body may repeat it but must then agree.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Response, status
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import EVERYONE, STAFF
from api.deps import IdempotencyKey, PrincipalDep, SessionDep, TemporalDep
from api.errors import Problem, conflict, invalid, not_found
from api.schemas import (
    AtRiskPage,
    ReapplyBody,
    ReapplyReport,
    control_character_errors,
    refuse_control_characters,
)
from api.services import sla as sla_service
from db.models import BusinessCalendarRow, SlaPolicyRow
from db.repositories import sla as repo
from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Role, Severity
from domain.sla import SlaOverrides, SlaPolicy

router = APIRouter(
    prefix="/sla", tags=["SLA policies"], dependencies=[Depends(refuse_control_characters)]
)
ADMIN = frozenset({Role.ADMIN})
ModelT = TypeVar("ModelT", bound=BaseModel)

Document = Annotated[dict[str, Any], Body()]

READ_ONLY_FIELDS = ("updated_at", "version")
"""Fields a GET answer carries that a PUT ignores, so an answer can be edited and sent back."""


class CalendarRead(BaseModel):
    calendar: BusinessCalendar
    updated_at: datetime


class PolicyRead(BaseModel):
    policy: SlaPolicy
    version: int
    updated_at: datetime


class PolicyKey(BaseModel):
    contract_level: ContractLevel
    severity: Severity


class PolicyCheck(BaseModel):
    """Whether every contract level x severity has a policy, and which do not."""

    complete: bool
    missing: list[PolicyKey]


class ContractOverridesRead(BaseModel):
    contract_id: str
    overrides: SlaOverrides | None


# --- calendars --------------------------------------------------------------------------------


@router.get("/calendars", response_model=list[CalendarRead])
async def list_calendars(principal: PrincipalDep, session: SessionDep) -> list[CalendarRead]:
    principal.require(STAFF, "read SLA calendars")
    return [_calendar_read(row) for row in await repo.list_calendar_rows(session)]


@router.get("/calendars/{name}", response_model=CalendarRead)
async def get_calendar(name: str, principal: PrincipalDep, session: SessionDep) -> CalendarRead:
    principal.require(STAFF, "read SLA calendars")
    row = await repo.get_calendar_row(session, name)
    if row is None:
        raise not_found(f"calendar '{name}'")
    return _calendar_read(row)


@router.put("/calendars/{name}", response_model=CalendarRead)
async def put_calendar(
    name: str, body: Document, response: Response, principal: PrincipalDep, session: SessionDep
) -> CalendarRead:
    principal.require(ADMIN, "change SLA calendars")
    document = _with_path_values(body, {"name": name})
    calendar = _validated(BusinessCalendar, document)
    row, created = await repo.put_calendar(session, calendar)
    answer = _calendar_read(row)
    await _commit(session, f"calendar '{name}'")
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return answer


@router.delete("/calendars/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(name: str, principal: PrincipalDep, session: SessionDep) -> Response:
    principal.require(ADMIN, "delete SLA calendars")
    users = await repo.policies_using(session, name)
    if users:
        names = ", ".join(f"{level.value}/{int(severity)}" for level, severity in users)
        raise conflict(f"calendar '{name}' is used by the policies {names}")
    if not await repo.delete_calendar(session, name):
        raise not_found(f"calendar '{name}'")
    await _commit(session, f"calendar '{name}'")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- policies ---------------------------------------------------------------------------------


@router.get("/policies", response_model=list[PolicyRead])
async def list_policies(principal: PrincipalDep, session: SessionDep) -> list[PolicyRead]:
    principal.require(STAFF, "read SLA policies")
    return [_policy_read(row) for row in await repo.list_policy_rows(session)]


@router.get("/policies/check", response_model=PolicyCheck)
async def check_policies(principal: PrincipalDep, session: SessionDep) -> PolicyCheck:
    """Gaps in the matrix: an issue at a missing combination would run without an SLA."""
    principal.require(STAFF, "read SLA policies")
    missing = [
        PolicyKey(contract_level=level, severity=severity)
        for level, severity in await repo.missing_policies(session)
    ]
    return PolicyCheck(complete=not missing, missing=missing)


@router.get("/policies/{contract_level}/{severity}", response_model=PolicyRead)
async def get_policy(
    contract_level: ContractLevel, severity: Severity, principal: PrincipalDep, session: SessionDep
) -> PolicyRead:
    principal.require(STAFF, "read SLA policies")
    row = await repo.get_policy_row(session, contract_level, severity)
    if row is None:
        raise not_found(f"SLA policy {contract_level.value}/{int(severity)}")
    return _policy_read(row)


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
    document = _with_path_values(
        body, {"contract_level": contract_level.value, "severity": int(severity)}
    )
    policy = _validated(SlaPolicy, document)
    if await repo.get_calendar_row(session, policy.calendar) is None:
        raise invalid("body.calendar", f"unknown calendar '{policy.calendar}'")
    row, created = await repo.put_policy(session, policy)
    answer = _policy_read(row)
    await _commit(session, f"SLA policy {contract_level.value}/{int(severity)}")
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
    overrides = _validated(SlaOverrides, body)
    row = await repo.set_contract_overrides(session, contract_id, overrides)
    if row is None:
        raise not_found(f"contract '{contract_id}'")
    for severity in overrides.targets:
        policy = await repo.get_policy(session, row.level, severity)
        if policy is None:
            continue
        try:
            overrides.apply(policy)
        except ValidationError as exc:
            raise _unprocessable(exc, prefix=("body", "targets", int(severity))) from exc
    await _commit(session, f"contract '{contract_id}'")
    return ContractOverridesRead(contract_id=contract_id, overrides=overrides)


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


# --- helpers ----------------------------------------------------------------------------------


def _calendar_read(row: BusinessCalendarRow) -> CalendarRead:
    return CalendarRead(
        calendar=BusinessCalendar.model_validate(row.definition), updated_at=row.updated_at
    )


def _policy_read(row: SlaPolicyRow) -> PolicyRead:
    return PolicyRead(
        policy=SlaPolicy.model_validate(row.definition),
        version=row.version,
        updated_at=row.updated_at,
    )


def _with_path_values(body: dict[str, Any], from_path: dict[str, Any]) -> dict[str, Any]:
    """The body with the path's key fields filled in; a body naming another key is a 422.

    A GET answer (`{"calendar": {...}, "updated_at": ...}`) is accepted as well, so an
    admin can fetch, edit and put back without reshaping the document.
    """
    for wrapper in ("calendar", "policy"):
        if isinstance(body.get(wrapper), dict):
            body = body[wrapper]
            break
    document = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
    for field, value in from_path.items():
        given = document.get(field)
        if given is not None and str(given) != str(value):
            raise invalid(f"body.{field}", f"must match the path ({value}), got {given!r}")
        document[field] = value
    return document


async def _commit(session: AsyncSession, what: str) -> None:
    """Commit; a concurrent admin creating the same key first turns into a 409."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise conflict(f"{what} was changed concurrently; read it again and retry") from None


def _validated(model: type[ModelT], document: dict[str, Any]) -> ModelT:
    """The document as the domain model; text with control characters is refused first, as
    for every other request body (the domain models are lax by design)."""
    errors = control_character_errors(document, "body")
    if errors:
        detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        raise Problem(422, "Unprocessable Content", detail, errors=list(errors))
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise _unprocessable(exc) from exc


def _unprocessable(exc: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> Problem:
    """A 422 listing every domain validation error at its path below `body`."""
    errors = []
    for error in exc.errors():
        loc = tuple(error["loc"]) or _model_level_field(error["msg"])
        errors.append(
            {
                "loc": ".".join(str(part) for part in (*prefix, *loc)),
                "msg": error["msg"],
                "type": error["type"],
            }
        )
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
    return Problem(422, "Unprocessable Content", detail, errors=errors)


def _model_level_field(message: str) -> tuple[str, ...]:
    """Where a whole-model check points: the domain prefixes its message with the field.

    `SlaPolicy` checks the tier budgets against the resolution target after both are
    parsed, so pydantic locates the error at the model; its message starts with
    ``tier_budgets:``, which is the field an admin has to fix.
    """
    head = message.removeprefix("Value error, ").split(":", 1)[0]
    return (head,) if head.isidentifier() and ":" in message else ()
