"""Background work never blocks the clocks, on the real dev server with the real activities.

The webhook and Jira are both down when an issue's run must continue as new; its first
response deadline passes during the outage. The breach is recorded on time all the same,
and once both are back, what the old run could not finish (the notifications, the defect
creation) is done by the new run, once.

(The time-skipping test server cannot host this test: it stops advancing time once a run
continues as new while an activity of that run is still being retried.)
"""

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from temporalio.client import Client

from db.models import SlaPolicyRow
from db.seed import seed_demo_data
from db.session import Database
from domain.enums import Severity
from domain.models import SlaTargets
from integrations.notify.webhook import DELIVERY_HEADER
from jira_test_server import JiraTestServer
from tests.integration.conftest import ENGINEER, Stack, eventually, issue_detail, open_issue, unique
from tests.replay.record import jira_config, running
from tests.support.devserver import free_port

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

FIRST_RESPONSE = timedelta(seconds=20)
CREATE_DEFECT = r"/rest/api/\d+/issue/?$"


class Receiver(BaseHTTPRequestHandler):
    """The webhook's receiving end, once it is back: counts each delivery id it accepts."""

    deliveries: ClassVar[Counter[str]] = Counter()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.deliveries[self.headers[DELIVERY_HEADER]] += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def webhook_back_on(port: int) -> Iterator[Counter[str]]:
    Receiver.deliveries = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver.deliveries
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def jira() -> Iterator[JiraTestServer]:
    with JiraTestServer() as server:
        yield server


@pytest.fixture
async def outage_stack(
    database: Database, temporal_client: Client, jira: JiraTestServer, tmp_path: Path
) -> AsyncIterator[tuple[Stack, int]]:
    """A stack with Jira, a webhook on a port nobody listens on yet, 24x7 targets of seconds,
    and runs due to continue as new after 10 steps (intake and an escalation take 9, so the
    first warning makes it due, while both are down)."""
    async with database.transaction() as session:
        await seed_demo_data(session)
        await session.execute(sa.delete(SlaPolicyRow))
    port = free_port()
    targets = {
        s: SlaTargets(first_response=FIRST_RESPONSE, resolution=timedelta(hours=1))
        for s in Severity
    }
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with running(
            temporal_client,
            database,
            executor,
            tracker_config=jira_config(tmp_path, jira),
            notify_webhook_url=f"http://127.0.0.1:{port}/hook",
            notify_webhook_secret="webhook-secret",
            sla_targets=targets,
            max_events_per_run=10,
        ) as stack:
            yield stack, port


def at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_a_breach_fires_on_time_while_tracker_and_webhook_are_down_at_continue_as_new(
    outage_stack: tuple[Stack, int], jira: JiraTestServer
) -> None:
    stack, port = outage_stack
    api = stack.api()
    jira.faults.fail_next(10_000, status=503, method="POST", path=CREATE_DEFECT)
    issue = await open_issue(api, key=unique("outage"))
    issue_id = str(issue["id"])
    deadline = at(str(issue["created_at"])) + FIRST_RESPONSE  # 24x7: plain arithmetic
    escalated = await api.post(
        f"/issues/{issue_id}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    handle = stack.client.get_workflow_handle(f"issue-{issue_id}")
    first_run = (await handle.describe()).run_id

    async def breach() -> dict[str, Any] | None:
        timeline = (await issue_detail(api, issue_id))["timeline"]
        return next(
            (
                e
                for e in timeline
                if e["kind"] == "sla_breached" and "first_response" in e["summary"]
            ),
            None,
        )

    event = await eventually(breach, "the first-response breach", within=40, every=0.25)
    assert deadline <= at(event["at"]) < deadline + timedelta(seconds=3), (event, deadline)

    async def continued() -> bool | None:
        return True if (await handle.describe()).run_id != first_run else None

    # Still down a minute after continue-as-new became due: the run hands its work over.
    await eventually(continued, "the run to continue as new", within=90, every=0.5)
    assert not jira.issues()

    jira.faults.clear()
    with webhook_back_on(port) as deliveries:

        async def recovered() -> bool | None:
            detail = await issue_detail(api, issue_id)
            done = detail["defect_key"] is not None and f"{issue_id}:n6" in deliveries
            return True if done else None

        await eventually(recovered, "the defect and the first notification", within=90)
        assert len(jira.issues()) == 1
        assert deliveries[f"{issue_id}:n6"] == 1  # the assignment, carried over and sent once
        assert set(deliveries.values()) == {1}, deliveries
