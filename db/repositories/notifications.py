"""Notification delivery log: what was sent to whom, so a retried activity sends once."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import NotificationRow, utcnow
from db.repositories._dialect import upsert
from db.repositories.reference import Recipient
from domain.models import Notification


async def notification_delivered(session: AsyncSession, notification_id: str) -> bool:
    """True once a delivery of this notification succeeded."""
    delivered_at = await session.scalar(
        sa.select(NotificationRow.delivered_at).where(
            NotificationRow.notification_id == notification_id
        )
    )
    return delivered_at is not None


async def get_notification(session: AsyncSession, notification_id: str) -> NotificationRow | None:
    """The delivery log entry of one notification."""
    return await session.get(NotificationRow, notification_id, populate_existing=True)


async def list_notifications(session: AsyncSession, issue_id: str) -> list[NotificationRow]:
    """Notifications of one issue, oldest first (for the internal audit view)."""
    result = await session.scalars(
        sa.select(NotificationRow)
        .where(NotificationRow.issue_id == issue_id)
        .order_by(NotificationRow.created_at, NotificationRow.notification_id)
    )
    return list(result)


async def record_notification(
    session: AsyncSession,
    notification: Notification,
    recipients: Sequence[Recipient],
    delivered: bool,
    error: str | None,
) -> None:
    """Upsert the outcome of one delivery attempt; a success is never undone by a later failure."""
    now = utcnow()
    values: dict[str, Any] = {
        "notification_id": notification.notification_id,
        "issue_id": notification.issue_id,
        "kind": notification.kind,
        "subject": notification.subject,
        "recipients": [recipient.model_dump(mode="json") for recipient in recipients],
        "payload": {
            "at": notification.at.isoformat(),
            "audience": notification.audience.model_dump(mode="json"),
            "data": dict(notification.data),
        },
        "created_at": now,
        "delivered_at": now if delivered else None,
        "last_error": error,
    }

    def changes(excluded: Any) -> Mapping[str, Any]:
        return {
            "recipients": excluded.recipients,
            "payload": excluded.payload,
            "last_error": excluded.last_error,
            "delivered_at": sa.func.coalesce(NotificationRow.delivered_at, excluded.delivered_at),
        }

    await upsert(session, NotificationRow, values, [NotificationRow.notification_id], changes)
