"""Which issues wait on a defect, and which tracker deliveries were already handled."""

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IssueRow, TrackerDeliveryRow, utcnow
from db.repositories._dialect import insert_if_absent
from db.repositories.reference import CLOSED_STATES
from domain.enums import IssueState, Tier


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


class WaitingIssue(BaseModel):
    """An open issue linked to a defect, as the read model last recorded it."""

    model_config = ConfigDict(frozen=True)

    issue_id: str
    defect_key: str
    state: IssueState
    tier: Tier


async def open_linked_issues(session: AsyncSession) -> list[WaitingIssue]:
    """Every open issue linked to a defect: what the tracker poll has to look at."""
    rows = await session.execute(
        sa.select(IssueRow.id, IssueRow.defect_key, IssueRow.state, IssueRow.tier)
        .where(IssueRow.defect_key.is_not(None), IssueRow.state.not_in(CLOSED_STATES))
        .order_by(IssueRow.created_at, IssueRow.id)
    )
    return [
        WaitingIssue(issue_id=id_, defect_key=key, state=state, tier=tier)
        for id_, key, state, tier in rows
        if key is not None
    ]


async def issues_with_sync_errors(session: AsyncSession) -> list[IssueRow]:
    """Open issues whose defect creation failed for good and that still have no defect."""
    rows = await session.scalars(
        sa.select(IssueRow)
        .where(
            IssueRow.tracker_sync_error.is_not(None),
            IssueRow.defect_key.is_(None),
            IssueRow.state.not_in(CLOSED_STATES),
        )
        .order_by(IssueRow.updated_at.desc(), IssueRow.id)
    )
    return list(rows)
