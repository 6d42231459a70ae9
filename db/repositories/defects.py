"""Which issues wait on a defect, and which tracker deliveries were already handled.

A defect is matched by the tracker's immutable id (tracker_defect_links): a moved defect
changes its key, and a rebuilt tracker may give a key to another defect. The key alone
decides only for issues linked before ids were recorded (no link row)."""

from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IssueRow, TrackerDefectLinkRow, TrackerDeliveryRow, utcnow
from db.repositories._dialect import insert_if_absent, upsert
from db.repositories.reference import CLOSED_STATES
from domain.enums import IssueState, Tier


async def record_defect_link(
    session: AsyncSession, issue_id: str, defect_key: str, defect_id: str
) -> None:
    """Remember which defect (by immutable id) the issue is linked to; a retry rewrites it."""
    values = {
        "issue_id": issue_id,
        "defect_key": defect_key,
        "defect_id": defect_id,
        "linked_at": utcnow(),
    }
    await upsert(
        session,
        TrackerDefectLinkRow,
        values,
        [TrackerDefectLinkRow.issue_id],
        lambda new: {"defect_key": new.defect_key, "defect_id": new.defect_id},
    )


async def defect_id_of(session: AsyncSession, issue_id: str) -> str | None:
    """The recorded tracker id of the issue's defect, None when linked before ids were kept."""
    found: str | None = await session.scalar(
        sa.select(TrackerDefectLinkRow.defect_id).where(TrackerDefectLinkRow.issue_id == issue_id)
    )
    return found


class LinkedIssue(BaseModel):
    """An open issue a tracker event reaches; defect_key is the key its workflow holds (what
    a signal must name), which differs from the event's once the defect has moved."""

    model_config = ConfigDict(frozen=True)

    issue_id: str
    defect_key: str
    matched_by: Literal["id", "key"]


class DefectMatch(BaseModel):
    """Who a tracker event reaches, and who shares its key but not its id (never signalled)."""

    model_config = ConfigDict(frozen=True)

    issues: list[LinkedIssue]
    other_defect: list[str]

    @property
    def issue_ids(self) -> list[str]:
        return [issue.issue_id for issue in self.issues]


async def match_defect(
    session: AsyncSession, defect_id: str | None, defect_key: str
) -> DefectMatch:
    """Open issues linked to the defect (many issues may share one), oldest first: by recorded
    id, or by key for issues with no recorded id. An issue whose recorded id differs from the
    event's is another defect that had (or got) this key: it goes to other_defect, unsignalled.
    An event without an id reaches only issues with no recorded id."""
    by_id = TrackerDefectLinkRow.defect_id == defect_id if defect_id is not None else sa.false()
    rows = await session.execute(
        sa.select(IssueRow.id, IssueRow.defect_key, TrackerDefectLinkRow.defect_id)
        .outerjoin(TrackerDefectLinkRow, TrackerDefectLinkRow.issue_id == IssueRow.id)
        .where(
            IssueRow.defect_key.is_not(None),
            IssueRow.state.not_in(CLOSED_STATES),
            sa.or_(IssueRow.defect_key == defect_key, by_id),
        )
        .order_by(IssueRow.created_at, IssueRow.id)
    )
    issues: list[LinkedIssue] = []
    other: list[str] = []
    for issue_id, issue_key, recorded_id in rows:
        if recorded_id is None:
            if issue_key == defect_key:
                issues.append(
                    LinkedIssue(issue_id=issue_id, defect_key=issue_key, matched_by="key")
                )
        elif recorded_id == defect_id:
            issues.append(LinkedIssue(issue_id=issue_id, defect_key=issue_key, matched_by="id"))
        else:
            other.append(issue_id)
    return DefectMatch(issues=issues, other_defect=other)


async def count_linked_issues(session: AsyncSession, defect_id: str, defect_key: str) -> int:
    """How many of our issues are linked to the defect (the impact R&D is told about): by the
    recorded id, or by key for issues linked before ids were kept."""
    query = (
        sa.select(sa.func.count())
        .select_from(IssueRow)
        .outerjoin(TrackerDefectLinkRow, TrackerDefectLinkRow.issue_id == IssueRow.id)
        .where(
            sa.or_(
                TrackerDefectLinkRow.defect_id == defect_id,
                sa.and_(TrackerDefectLinkRow.issue_id.is_(None), IssueRow.defect_key == defect_key),
            )
        )
    )
    return int((await session.execute(query)).scalar_one())


def comment_delivery_key(defect_id: str | None, defect_key: str, comment_id: str) -> str:
    """One tracker comment's delivery key, shared by the webhook and the poll so a comment both
    deliver is forwarded once; by defect id when known (a rebuilt tracker reuses keys and
    comment ids), else the key as before ids were recorded."""
    if defect_id:
        return f"comment:id:{defect_id}:{comment_id}"
    return f"comment:{defect_key}:{comment_id}"


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
    defect_id: str | None = None
    state: IssueState
    tier: Tier


async def open_linked_issues(session: AsyncSession) -> list[WaitingIssue]:
    """Every open issue linked to a defect, with the defect's recorded id (None when linked
    before ids were kept): what the tracker poll has to look at."""
    rows = await session.execute(
        sa.select(
            IssueRow.id,
            IssueRow.defect_key,
            TrackerDefectLinkRow.defect_id,
            IssueRow.state,
            IssueRow.tier,
        )
        .outerjoin(TrackerDefectLinkRow, TrackerDefectLinkRow.issue_id == IssueRow.id)
        .where(IssueRow.defect_key.is_not(None), IssueRow.state.not_in(CLOSED_STATES))
        .order_by(IssueRow.created_at, IssueRow.id)
    )
    return [
        WaitingIssue(issue_id=id_, defect_key=key, defect_id=defect_id, state=state, tier=tier)
        for id_, key, defect_id, state, tier in rows
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
