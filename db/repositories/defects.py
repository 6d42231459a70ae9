"""Which issues wait on a defect, and which tracker deliveries were already handled."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IssueRow, TrackerDeliveryRow, utcnow
from db.repositories._dialect import insert_if_absent
from db.repositories.reference import CLOSED_STATES


async def linked_issue_ids(session: AsyncSession, defect_key: str) -> list[str]:
    """Open issues linked to the defect (many issues may share one), oldest first."""
    rows = await session.scalars(
        sa.select(IssueRow.id)
        .where(IssueRow.defect_key == defect_key, IssueRow.state.not_in(CLOSED_STATES))
        .order_by(IssueRow.created_at, IssueRow.id)
    )
    return list(rows)


async def remember_delivery(session: AsyncSession, dedupe_key: str, defect_key: str) -> bool:
    """Insert-if-absent; False when this delivery was already handled (a redelivery)."""
    values = {"dedupe_key": dedupe_key, "defect_key": defect_key, "received_at": utcnow()}
    added = await insert_if_absent(
        session, TrackerDeliveryRow, values, [TrackerDeliveryRow.dedupe_key]
    )
    return added == 1
