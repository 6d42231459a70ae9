"""Descriptions of issue attachments (their bytes are in the attachment store)."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AttachmentRow


async def add_attachment(session: AsyncSession, row: AttachmentRow) -> AttachmentRow:
    session.add(row)
    await session.flush()
    return row


async def list_attachments(session: AsyncSession, issue_id: str) -> list[AttachmentRow]:
    result = await session.scalars(
        sa.select(AttachmentRow)
        .where(AttachmentRow.issue_id == issue_id)
        .order_by(AttachmentRow.uploaded_at, AttachmentRow.id)
    )
    return list(result)


async def get_attachment(
    session: AsyncSession, issue_id: str, attachment_id: str
) -> AttachmentRow | None:
    row = await session.get(AttachmentRow, attachment_id)
    return row if row is not None and row.issue_id == issue_id else None
