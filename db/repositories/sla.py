"""SLA policies as data: business calendars, policies per contract level x severity, overrides.

Definitions are stored as the JSON dump of the domain models and re-validated on every read,
so a row edited behind the API's back fails loudly instead of producing a wrong deadline.
Writes are upserts keyed by name (calendars) or (contract level, severity) (policies); a
policy's `version` grows on every edit so a snapshot taken at intake can say which edit it
was. The caller commits.
"""

from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BusinessCalendarRow, ContractRow, SlaPolicyRow, utcnow
from domain.calendar import BusinessCalendar
from domain.enums import ContractLevel, Severity
from domain.sla import ResolvedPolicy, SlaOverrides, SlaPolicy

# --- calendars --------------------------------------------------------------------------------


async def get_calendar(session: AsyncSession, name: str) -> BusinessCalendar | None:
    """The calendar called `name`, validated, or None."""
    row = await session.get(BusinessCalendarRow, name)
    return None if row is None else BusinessCalendar.model_validate(row.definition)


async def get_calendar_row(session: AsyncSession, name: str) -> BusinessCalendarRow | None:
    """The stored row, for callers that also show when it was last changed."""
    return await session.get(BusinessCalendarRow, name)


async def list_calendar_rows(session: AsyncSession) -> list[BusinessCalendarRow]:
    """Every calendar by name."""
    result = await session.scalars(
        sa.select(BusinessCalendarRow).order_by(BusinessCalendarRow.name)
    )
    return list(result)


async def put_calendar(
    session: AsyncSession, calendar: BusinessCalendar
) -> tuple[BusinessCalendarRow, bool]:
    """Create or replace the calendar; returns the row and whether it was created."""
    row = await session.get(BusinessCalendarRow, calendar.name)
    created = row is None
    if row is None:
        row = BusinessCalendarRow(name=calendar.name)
        session.add(row)
    row.definition = calendar.model_dump(mode="json")
    row.updated_at = utcnow()
    await session.flush()
    return row, created


async def delete_calendar(session: AsyncSession, name: str) -> bool:
    """Remove the calendar; False when it did not exist. Check `policies_using` first."""
    row = await session.get(BusinessCalendarRow, name)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def policies_using(
    session: AsyncSession, calendar_name: str
) -> list[tuple[ContractLevel, Severity]]:
    """Policies that count in `calendar_name`: deleting it would leave them without one.

    Read in Python because the calendar sits inside the JSON definition and JSON path
    queries differ between SQLite and PostgreSQL; there are at most a dozen policies.
    """
    return [
        (row.contract_level, row.severity)
        for row in await list_policy_rows(session)
        if row.definition.get("calendar") == calendar_name
    ]


# --- policies ---------------------------------------------------------------------------------


async def get_policy_row(
    session: AsyncSession, contract_level: ContractLevel, severity: Severity
) -> SlaPolicyRow | None:
    """The stored policy row (definition, version, updated_at), or None."""
    return await session.get(SlaPolicyRow, (contract_level, severity))


async def get_policy(
    session: AsyncSession, contract_level: ContractLevel, severity: Severity
) -> SlaPolicy | None:
    """The validated policy, or None."""
    row = await get_policy_row(session, contract_level, severity)
    return None if row is None else SlaPolicy.model_validate(row.definition)


async def list_policy_rows(session: AsyncSession) -> list[SlaPolicyRow]:
    """Every policy, by contract level then severity."""
    result = await session.scalars(
        sa.select(SlaPolicyRow).order_by(SlaPolicyRow.contract_level, SlaPolicyRow.severity)
    )
    return list(result)


async def put_policy(session: AsyncSession, policy: SlaPolicy) -> tuple[SlaPolicyRow, bool]:
    """Create (version 1) or replace (version + 1) the policy; returns the row and created.

    The calendar it names must exist: that is checked here too, not only by the API, so a
    seed or script cannot store a policy whose deadlines could never be computed.
    """
    if await session.get(BusinessCalendarRow, policy.calendar) is None:
        raise UnknownCalendarError(policy.calendar)
    row = await get_policy_row(session, policy.contract_level, policy.severity)
    created = row is None
    if row is None:
        row = SlaPolicyRow(
            contract_level=policy.contract_level, severity=policy.severity, version=1
        )
        session.add(row)
    else:
        row.version += 1
    row.definition = policy.model_dump(mode="json")
    row.updated_at = utcnow()
    await session.flush()
    return row, created


async def missing_policies(session: AsyncSession) -> list[tuple[ContractLevel, Severity]]:
    """Contract level x severity combinations without a policy: issues there get no SLA."""
    present = {(row.contract_level, row.severity) for row in await list_policy_rows(session)}
    return [
        (level, severity)
        for level in ContractLevel
        for severity in Severity
        if (level, severity) not in present
    ]


class UnknownCalendarError(LookupError):
    """A policy names a calendar that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown calendar '{name}'")
        self.name = name


# --- contract overrides -----------------------------------------------------------------------


async def set_contract_overrides(
    session: AsyncSession, contract_id: str, overrides: SlaOverrides | None
) -> ContractRow | None:
    """Store a contract's validated overrides (None clears them); None if no such contract."""
    row = await session.get(ContractRow, contract_id)
    if row is None:
        return None
    row.sla_overrides = None if overrides is None else overrides.model_dump(mode="json")
    await session.flush()
    return row


async def contract_overrides(
    session: AsyncSession, organisation_id: str, contract_level: ContractLevel, on: date
) -> SlaOverrides:
    """Overrides of the organisation's contract at that level in force on `on` (latest start).

    No contract (or one without overrides) means the plain policy applies.
    """
    row = await session.scalar(
        sa.select(ContractRow)
        .where(
            ContractRow.organisation_id == organisation_id,
            ContractRow.level == contract_level,
            ContractRow.starts_on <= on,
        )
        .order_by(ContractRow.starts_on.desc(), ContractRow.id)
        .limit(1)
    )
    if row is None or not row.sla_overrides:
        return SlaOverrides()
    return SlaOverrides.model_validate(row.sla_overrides)


async def resolve_policy(
    session: AsyncSession,
    organisation_id: str,
    contract_level: ContractLevel,
    severity: Severity,
    on: date,
) -> ResolvedPolicy | None:
    """What an issue opened `on` is promised: policy + contract overrides + its calendar.

    None when no policy covers the combination (the check endpoint lists those gaps).
    The calendar is guaranteed to exist by `put_policy` and the delete guard; a missing
    one would be data corruption and raises LookupError rather than dropping the SLA.
    """
    row = await get_policy_row(session, contract_level, severity)
    if row is None:
        return None
    policy = SlaPolicy.model_validate(row.definition)
    overrides = await contract_overrides(session, organisation_id, contract_level, on)
    policy = overrides.apply(policy)
    calendar = await get_calendar(session, policy.calendar)
    if calendar is None:
        raise UnknownCalendarError(policy.calendar)
    return ResolvedPolicy(policy=policy, calendar=calendar, version=row.version)


# --- seed -------------------------------------------------------------------------------------


class SlaSeed(BaseModel):
    """The content of config/sla_policies.yaml, validated whole before anything is written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendars: tuple[BusinessCalendar, ...]
    policies: tuple[SlaPolicy, ...]

    @model_validator(mode="before")
    @classmethod
    def _drop_yaml_anchors(cls, data: Any) -> Any:
        """Top-level `x-` keys only hold YAML anchors shared by the policies; not data."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data


def read_sla_seed(path: Path) -> SlaSeed:
    """Parse and validate an SLA seed file."""
    return SlaSeed.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


async def load_sla_policies(session: AsyncSession, path: Path) -> int:
    """Add the file's calendars and policies that do not exist yet; returns how many were added.

    Idempotent and never overwriting: what an admin changed through the API survives every
    restart. The caller commits.
    """
    seed = read_sla_seed(path)
    added = 0
    for calendar in seed.calendars:
        if await session.get(BusinessCalendarRow, calendar.name) is None:
            await put_calendar(session, calendar)
            added += 1
    for policy in seed.policies:
        if await get_policy_row(session, policy.contract_level, policy.severity) is None:
            await put_policy(session, policy)
            added += 1
    return added
