"""The notify activity: signed webhook delivery, resolved recipients, never sent twice."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from db.repositories import notifications as notification_repo
from db.session import Database
from domain.models import Audience, Notification
from integrations.notify.port import NotificationFailed
from integrations.notify.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, WebhookNotifier, verify
from tests.db.builders import T0, add_issue, add_reference_data, intake

SECRET = "s3cret"


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint on loopback that keeps what it received."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    status: ClassVar[int] = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.status = 204
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def notification(audience: Audience) -> Notification:
    return Notification(
        notification_id="ITR-1:n7",
        issue_id="ITR-1",
        kind="sla_breached",
        audience=audience,
        subject="SLA breach on ITR-1",
        at=T0,
        data={"clock": "first_response"},
    )


async def test_a_notification_is_signed_delivered_once_and_remembered(
    database: Database, receiver: str
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await add_issue(session, intake("ITR-1"), owner=None)
    activities = NotificationActivities(
        database, WebhookNotifier(receiver, SECRET), "http://itr.example"
    )
    env = ActivityEnvironment()
    message = notification(Audience(owner_manager=True, reporter=True))

    await env.run(activities.notify, message)
    await env.run(activities.notify, message)  # a retried activity

    assert len(Receiver.received) == 1
    headers, body = Receiver.received[0]
    assert verify(body, SECRET, headers[SIGNATURE_HEADER])
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert headers[DELIVERY_HEADER] == "ITR-1:n7"
    payload = json.loads(body)
    assert payload["issue_url"] == "http://itr.example/issues/ITR-1"
    assert payload["recipients"], "the manager and the reporter are addressed"
    async with database.transaction() as session:
        assert await notification_repo.notification_delivered(session, "ITR-1:n7")


async def test_a_failed_delivery_is_recorded_and_raised_for_temporal_to_retry(
    database: Database, receiver: str
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await add_issue(session, intake("ITR-1"), owner=None)
    Receiver.status = 503
    activities = NotificationActivities(database, WebhookNotifier(receiver, SECRET), "http://x")
    with pytest.raises(NotificationFailed, match="503"):
        await ActivityEnvironment().run(
            activities.notify, notification(Audience(owner_manager=True))
        )
    async with database.transaction() as session:
        assert not await notification_repo.notification_delivered(session, "ITR-1:n7")
        row = await notification_repo.get_notification(session, "ITR-1:n7")
    assert row is not None and row.last_error and "503" in row.last_error
