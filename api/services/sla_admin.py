"""SLA policies as data behind the routes: business calendars, policies per contract level x
severity, a contract's negotiated overrides.

A document is validated by the domain models themselves, so the API refuses exactly what the
SLA engine could not compute with, and every 422 names the offending field
(`body.weekly.0.1`, `body.timezone`, `body.tier_budgets`, ...). The path names the calendar
or policy; the document may repeat it but must then agree. Every write commits here; an
admin racing another to the same key gets a 409.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem, conflict, invalid, not_found
from api.schemas import (
    CalendarRead,
    ContractOverridesRead,
    PolicyCheck,
    PolicyKey,
    PolicyRead,
    control_character_errors,
)
from db.models import BusinessCalendarRow, SlaPolicyRow
from db.repositories import sla as repo
from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Severity
from domain.sla import SlaOverrides, SlaPolicy

ModelT = TypeVar("ModelT", bound=BaseModel)

READ_ONLY_FIELDS = ("updated_at", "version")
"""Fields a GET answer carries that a PUT ignores, so an answer can be edited and sent back."""


# --- calendars --------------------------------------------------------------------------------


async def list_calendars(session: AsyncSession) -> list[CalendarRead]:
    return [_calendar_read(row) for row in await repo.list_calendar_rows(session)]


async def get_calendar(session: AsyncSession, name: str) -> CalendarRead:
    row = await repo.get_calendar_row(session, name)
    if row is None:
        raise not_found(f"calendar '{name}'")
    return _calendar_read(row)


async def put_calendar(
    session: AsyncSession, name: str, body: dict[str, Any]
) -> tuple[CalendarRead, bool]:
    """Create or replace the calendar `name`; returns (calendar, created_now)."""
    document = _with_path_values(body, {"name": name})
    calendar = _validated(BusinessCalendar, document)
    row, created = await repo.put_calendar(session, calendar)
    answer = _calendar_read(row)
    await _commit(session, f"calendar '{name}'")
    return answer, created


async def delete_calendar(session: AsyncSession, name: str) -> None:
    """A calendar a policy still counts in is a 409 naming those policies."""
    users = await repo.policies_using(session, name)
    if users:
        names = ", ".join(f"{level.value}/{int(severity)}" for level, severity in users)
        raise conflict(f"calendar '{name}' is used by the policies {names}")
    if not await repo.delete_calendar(session, name):
        raise not_found(f"calendar '{name}'")
    await _commit(session, f"calendar '{name}'")


# --- policies ---------------------------------------------------------------------------------


async def list_policies(session: AsyncSession) -> list[PolicyRead]:
    return [_policy_read(row) for row in await repo.list_policy_rows(session)]


async def check_policies(session: AsyncSession) -> PolicyCheck:
    missing = [
        PolicyKey(contract_level=level, severity=severity)
        for level, severity in await repo.missing_policies(session)
    ]
    return PolicyCheck(complete=not missing, missing=missing)


async def get_policy(
    session: AsyncSession, contract_level: ContractLevel, severity: Severity
) -> PolicyRead:
    row = await repo.get_policy_row(session, contract_level, severity)
    if row is None:
        raise not_found(f"SLA policy {contract_level.value}/{int(severity)}")
    return _policy_read(row)


async def put_policy(
    session: AsyncSession, contract_level: ContractLevel, severity: Severity, body: dict[str, Any]
) -> tuple[PolicyRead, bool]:
    """Create or replace one policy of the matrix; returns (policy, created_now). Its
    calendar must exist."""
    document = _with_path_values(
        body, {"contract_level": contract_level.value, "severity": int(severity)}
    )
    policy = _validated(SlaPolicy, document)
    if await repo.get_calendar_row(session, policy.calendar) is None:
        raise invalid("body.calendar", f"unknown calendar '{policy.calendar}'")
    row, created = await repo.put_policy(session, policy)
    answer = _policy_read(row)
    await _commit(session, f"SLA policy {contract_level.value}/{int(severity)}")
    return answer, created


# --- contract overrides -----------------------------------------------------------------------


async def put_contract_overrides(
    session: AsyncSession, contract_id: str, body: dict[str, Any]
) -> ContractOverridesRead:
    """Replace a contract's negotiated targets.

    Each overridden policy is re-validated with the new targets, so an override that
    would make fixed tier budgets exceed the resolution target is refused here, not at
    the first issue of that contract.
    """
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
