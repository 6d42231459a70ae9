"""Visits and spare-part requests in the read model, and who the field engineers are.

Writes come from the visit and part workflows' activities: a row is inserted once and then
only moved forward (its `revision` is the child workflow's step counter), so a retried or
late activity never overwrites a newer step.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    EngineerRow,
    OnsiteVisitRow,
    OrganisationRow,
    PartRequestRow,
    TokenRow,
    utcnow,
)
from db.repositories._dialect import insert_if_absent
from domain.enums import Role
from domain.onsite import PartRequest, Visit
from domain.onsite_contracts import FieldEngineer


def _visit_values(visit: Visit, organisation_id: str, seq: int, by: str) -> dict[str, Any]:
    on_site = visit.time_on_site
    return {
        "visit_id": visit.visit_id,
        "issue_id": visit.issue_id,
        "organisation_id": organisation_id,
        "number": visit.number,
        "state": visit.state,
        "engineer_id": visit.engineer_id,
        "engineer_name": visit.engineer_name,
        "window_start": visit.window_start,
        "window_end": visit.window_end,
        "reminder_at": visit.reminder_at,
        "scheduled_at": visit.scheduled_at,
        "reminded_at": visit.reminded_at,
        "checked_in_at": visit.checked_in_at,
        "checked_out_at": visit.checked_out_at,
        "missed_at": visit.missed_at,
        "time_on_site_seconds": int(on_site.total_seconds()) if on_site is not None else None,
        "report": visit.report,
        "dispatched_by_name": by,
        "revision": seq,
        "updated_at": utcnow(),
    }


def _part_values(part: PartRequest, organisation_id: str, seq: int, by: str) -> dict[str, Any]:
    return {
        "part_id": part.part_id,
        "issue_id": part.issue_id,
        "organisation_id": organisation_id,
        "number": part.number,
        "part_number": part.part_number,
        "quantity": part.quantity,
        "warehouse": part.warehouse,
        "state": part.state,
        "requested_at": part.requested_at,
        "requested_by_name": by,
        "steps": [s.model_dump(mode="json") for s in part.steps],
        "return_reason": part.return_reason,
        "revision": seq,
        "updated_at": utcnow(),
    }


async def _forward(
    session: AsyncSession,
    model: type[OnsiteVisitRow] | type[PartRequestRow],
    key: Any,
    values: dict[str, Any],
) -> bool:
    """Insert the row, or move it forward to `values` if they are newer; True if written."""
    if await insert_if_absent(session, model, values, [key]):
        return True
    changes = {k: v for k, v in values.items() if k != key.key}
    result = await session.execute(
        sa.update(model)
        .where(key == values[key.key], model.revision < values["revision"])
        .values(**changes)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_visit(
    session: AsyncSession, visit: Visit, organisation_id: str, seq: int, dispatched_by: str
) -> bool:
    values = _visit_values(visit, organisation_id, seq, dispatched_by)
    return await _forward(session, OnsiteVisitRow, OnsiteVisitRow.visit_id, values)


async def record_part(
    session: AsyncSession, part: PartRequest, organisation_id: str, seq: int, requested_by: str
) -> bool:
    values = _part_values(part, organisation_id, seq, requested_by)
    return await _forward(session, PartRequestRow, PartRequestRow.part_id, values)


async def visits_of(session: AsyncSession, issue_id: str) -> list[OnsiteVisitRow]:
    rows = await session.scalars(
        sa.select(OnsiteVisitRow)
        .where(OnsiteVisitRow.issue_id == issue_id)
        .order_by(OnsiteVisitRow.number)
    )
    return list(rows)


async def parts_of(session: AsyncSession, issue_id: str) -> list[PartRequestRow]:
    rows = await session.scalars(
        sa.select(PartRequestRow)
        .where(PartRequestRow.issue_id == issue_id)
        .order_by(PartRequestRow.number)
    )
    return list(rows)


async def get_visit(session: AsyncSession, visit_id: str) -> OnsiteVisitRow | None:
    return await session.get(OnsiteVisitRow, visit_id)


async def get_part(session: AsyncSession, part_id: str) -> PartRequestRow | None:
    return await session.get(PartRequestRow, part_id)


def _region(row: Any) -> str | None:
    """The row's region where the schema has one (engineer and organisation regions come
    with the dispatch data); None otherwise."""
    value = getattr(row, "region", None)
    return value if isinstance(value, str) and value else None


async def field_engineers(session: AsyncSession) -> list[FieldEngineer]:
    """Active engineers holding a live field-engineer token, by id (a stable order)."""
    rows = await session.scalars(
        sa.select(EngineerRow)
        .join(TokenRow, TokenRow.engineer_id == EngineerRow.id)
        .where(
            EngineerRow.active.is_(True),
            TokenRow.role == Role.FIELD_ENGINEER,
            TokenRow.revoked_at.is_(None),
        )
        .distinct()
        .order_by(EngineerRow.id)
    )
    return [FieldEngineer(engineer_id=e.id, engineer_name=e.name, region=_region(e)) for e in rows]


async def field_engineer(session: AsyncSession, engineer_id: str) -> FieldEngineer | None:
    return next((e for e in await field_engineers(session) if e.engineer_id == engineer_id), None)


async def organisation_region(session: AsyncSession, organisation_id: str) -> str | None:
    return _region(await session.get(OrganisationRow, organisation_id))


async def open_visit_counts(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Per field engineer, the visits still ahead of them (scheduled or under way)."""
    rows = await session.execute(
        sa.select(OnsiteVisitRow.engineer_id, sa.func.count())
        .where(
            OnsiteVisitRow.state.in_(("scheduled", "checked_in")),
            OnsiteVisitRow.window_end >= now,
        )
        .group_by(OnsiteVisitRow.engineer_id)
    )
    return {engineer_id: int(count) for engineer_id, count in rows.tuples()}
