"""Idempotency keys and the notification delivery log: first writer wins, success sticks."""

from db.repositories import idempotency, notifications
from db.repositories.reference import Recipient
from db.session import Database
from domain.models import Audience, Notification
from tests.db.builders import T0

NOTIFICATION = Notification(
    notification_id="ITR-1:n7",
    issue_id="ITR-1",
    kind="issue_assigned",
    audience=Audience(engineer_id="e1"),
    subject="ITR-1 is yours",
    at=T0,
    data={"severity": 2},
)
ALICE = Recipient(kind="engineer", id="e1", name="Alice", email="alice@itr.example")


async def test_the_first_request_with_a_key_wins(database: Database) -> None:
    async with database.transaction() as session:
        assert await idempotency.find_idempotency(session, "tok-acme", "k1") is None
        assert await idempotency.save_idempotency(session, "tok-acme", "k1", "hash-a", "ITR-1")
        assert not await idempotency.save_idempotency(session, "tok-acme", "k1", "hash-b", "ITR-2")
        assert await idempotency.save_idempotency(session, "tok-globex", "k1", "hash-c", "ITR-3")
    async with database.session() as session:
        saved = await idempotency.find_idempotency(session, "tok-acme", "k1")
    assert saved is not None
    assert (saved.request_hash, saved.issue_id) == ("hash-a", "ITR-1")
    assert saved.created_at.tzinfo is not None


async def test_a_claimed_key_keeps_its_first_request_and_completes_once(
    database: Database,
) -> None:
    async with database.transaction() as session:
        first = await idempotency.claim_idempotency(
            session, "tok-acme", "k2", "hash-a", "ITR-1", T0
        )
        assert (first.request_hash, first.created_at, first.completed_at) == ("hash-a", T0, None)
    async with database.transaction() as session:
        again = await idempotency.claim_idempotency(session, "tok-acme", "k2", "hash-b", "ITR-2")
        assert (again.request_hash, again.issue_id, again.created_at) == ("hash-a", "ITR-1", T0)
    async with database.transaction() as session:
        assert await idempotency.mark_completed(session, "tok-acme", "k2")
    async with database.transaction() as session:
        assert not await idempotency.mark_completed(session, "tok-acme", "k2")
        saved = await idempotency.find_idempotency(session, "tok-acme", "k2")
    assert saved is not None and saved.completed_at is not None


async def test_a_failed_attempt_is_logged_and_a_success_is_never_undone(
    database: Database,
) -> None:
    async with database.transaction() as session:
        assert not await notifications.notification_delivered(session, NOTIFICATION.notification_id)
        await notifications.record_notification(
            session, NOTIFICATION, [ALICE], delivered=False, error="timeout"
        )
    async with database.transaction() as session:
        assert not await notifications.notification_delivered(session, NOTIFICATION.notification_id)
        await notifications.record_notification(
            session, NOTIFICATION, [ALICE], delivered=True, error=None
        )
    async with database.transaction() as session:
        assert await notifications.notification_delivered(session, NOTIFICATION.notification_id)
        first = await notifications.get_notification(session, NOTIFICATION.notification_id)
        assert first is not None and first.delivered_at is not None
        delivered_at = first.delivered_at
        await notifications.record_notification(
            session, NOTIFICATION, [], delivered=False, error="late duplicate failed"
        )
    async with database.session() as session:
        assert await notifications.notification_delivered(session, NOTIFICATION.notification_id)
        row = await notifications.get_notification(session, NOTIFICATION.notification_id)
        listed = await notifications.list_notifications(session, "ITR-1")
    assert row is not None and row.delivered_at == delivered_at
    assert row.last_error == "late duplicate failed"
    assert row.payload["data"] == {"severity": 2}
    assert row.payload["audience"]["engineer_id"] == "e1"
    assert [n.notification_id for n in listed] == ["ITR-1:n7"]


async def test_recipients_are_stored_with_the_delivery(database: Database) -> None:
    async with database.transaction() as session:
        await notifications.record_notification(
            session, NOTIFICATION, [ALICE], delivered=True, error=None
        )
    async with database.session() as session:
        row = await notifications.get_notification(session, NOTIFICATION.notification_id)
    assert row is not None
    assert row.recipients == [
        {"kind": "engineer", "id": "e1", "name": "Alice", "email": "alice@itr.example"}
    ]
    assert row.last_error is None
