"""Activity that delivers a notification once, to the people its audience names."""

from temporalio import activity

from db.repositories import notifications as notification_repo
from db.repositories import reference as reference_repo
from db.session import Database
from domain.models import Notification
from integrations.notify.port import Notifier, OutboundMessage, Recipient


class NotificationActivities:
    def __init__(self, db: Database, notifier: Notifier, public_base_url: str) -> None:
        self._db = db
        self._notifier = notifier
        self._base_url = public_base_url.rstrip("/")

    @activity.defn(name="itr.notify")
    async def notify(self, notification: Notification) -> None:
        """Skip if already delivered, else send and remember; at-least-once with receiver dedupe."""
        async with self._db.transaction() as session:
            if await notification_repo.notification_delivered(
                session, notification.notification_id
            ):
                return
            found = await reference_repo.resolve_recipients(
                session, notification.issue_id, notification.audience
            )
        recipients = tuple(
            Recipient(kind=r.kind, id=r.id, name=r.name, email=r.email) for r in found
        )
        message = OutboundMessage(
            delivery_id=notification.notification_id,
            issue_id=notification.issue_id,
            kind=notification.kind,
            subject=notification.subject,
            at=notification.at,
            recipients=recipients,
            data=notification.data,
            issue_url=f"{self._base_url}/issues/{notification.issue_id}",
        )
        try:
            await self._notifier.send(message)
        except Exception as exc:
            async with self._db.transaction() as session:
                await notification_repo.record_notification(
                    session, notification, list(found), delivered=False, error=repr(exc)[:500]
                )
            raise
        async with self._db.transaction() as session:
            await notification_repo.record_notification(
                session, notification, list(found), delivered=True, error=None
            )
