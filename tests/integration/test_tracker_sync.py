"""Tracker sync end to end: dev server, worker, API, and the Jira test server over HTTP."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client

from config.settings import Settings
from db.seed import seed_demo_data
from db.session import Database
from jira_test_server import INTEGRATION_USER, JiraTestServer, webhook_request
from tests.integration.conftest import CUSTOMER, ENGINEER, MANAGER, Stack, open_issue

SECRET = "jira-webhook-secret"
WEBHOOK = "/tracker/jira/webhook"


@pytest.fixture
def jira() -> Iterator[JiraTestServer]:
    with JiraTestServer() as server:
        yield server


@pytest.fixture
async def tracked_stack(
    database: Database, temporal_client: Client, jira: JiraTestServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The usual stack, with ITR_TRACKER_CONFIG pointing at the Jira test server."""
    config = tmp_path / "jira.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "jira": {
                    "url": jira.url,
                    "auth": {
                        "kind": "basic",
                        "email": INTEGRATION_USER.email,
                        "api_token": INTEGRATION_USER.api_token,
                    },
                    "timeout_seconds": 5,
                    "webhook_secret": SECRET,
                    "products": {"edge-router": {"project_key": "RND"}},
                }
            }
        )
    )
    async with database.transaction() as session:
        await seed_demo_data(session)
    settings = Settings(
        environment="test",
        database_url=database.url,
        temporal_address=temporal_client.service_client.config.target_host,
        temporal_task_queue=f"itr-test-{uuid.uuid4().hex[:8]}",
        seed_demo_data=False,
        worker_max_concurrent_activities=8,
        public_base_url="https://itr.example",
        tracker_config=config,
    )
    with ThreadPoolExecutor(max_workers=8) as executor:
        running = Stack(settings=settings, db=database, client=temporal_client, executor=executor)
        await running.start_worker()
        try:
            yield running
        finally:
            for http in running.apps:
                await http.aclose()
            await running.stop_worker()


async def issue(api: httpx.AsyncClient, issue_id: object) -> dict[str, Any]:
    response = await api.get(f"/issues/{issue_id}", headers=MANAGER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(
    api: httpx.AsyncClient, issue_id: object, key: str, value: object
) -> dict[str, Any]:
    """Poll the issue until `key` equals `value` (or is set at all, when value is None)."""
    for _ in range(200):
        body = await issue(api, issue_id)
        if body[key] == value if value is not None else body[key] is not None:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{issue_id}: {key} never became {value!r}; last {body[key]!r}")


async def test_two_issues_share_one_defect_and_its_fix_asks_both_customers_to_confirm(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    first = await open_issue(api, key=f"tracker-a-{uuid.uuid4()}")
    second = await open_issue(api, key=f"tracker-b-{uuid.uuid4()}")

    escalated = await api.post(
        f"/issues/{first['id']}/escalate",
        json={"to_tier": 3, "reason": "Firmware defect"},
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    linked = await until(api, first["id"], "defect_key", None)
    key = linked["defect_key"]
    assert [i.key for i in jira.issues()] == [key]
    defect = jira.issue(key)
    assert "4.2.1" in (defect.description or "")
    assert f"https://itr.example/issues/{first['id']}" in (defect.description or "")
    assert "Jane" not in (defect.description or "") + defect.summary

    shared = await api.post(
        f"/issues/{second['id']}/escalate",
        json={"to_tier": 3, "reason": "Same defect", "defect_key": key},
        headers=ENGINEER,
    )
    assert shared.status_code == 200, shared.text
    assert shared.json()["issue"]["defect_key"] == key
    assert {link.object["url"] for link in jira.issue(key).links} >= {
        f"https://itr.example/issues/{second['id']}"
    }
    relinked = await api.post(
        f"/issues/{second['id']}/defect", json={"defect_key": key}, headers=ENGINEER
    )
    assert relinked.status_code == 409, relinked.text

    jira.act_update(key, {"fixVersions": [{"name": "4.3.0"}]})
    event = jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(event, SECRET)

    forged = await api.post(WEBHOOK, content=body, headers={**headers, "X-Hub-Signature": "x"})
    assert forged.status_code == 401

    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    assert delivered.json()["outcome"] == "signalled"
    assert sorted(delivered.json()["issue_ids"]) == sorted([first["id"], second["id"]])
    for issue_id in (first["id"], second["id"]):
        done = await until(api, issue_id, "state", "awaiting_confirmation")
        assert done["tier"] == 1
        assert "4.3.0" in done["resolution_summary"]
        customer_view = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()
        assert customer_view["state"] == "awaiting_confirmation"

    before = [await issue(api, i) for i in (first["id"], second["id"])]
    replayed = await api.post(
        WEBHOOK, content=body, headers={**headers, "X-Atlassian-Webhook-Retry": "1"}
    )
    assert replayed.status_code == 202
    assert replayed.json()["outcome"] == "duplicate"
    after = [await issue(api, i) for i in (first["id"], second["id"])]
    assert [b["timeline"] for b in before] == [a["timeline"] for a in after]
    assert len(jira.issues()) == 1
    kinds = [e["kind"] for e in after[0]["timeline"]]
    assert kinds.count("defect_linked") == 1 and kinds.count("defect_fixed") == 1


async def test_webhook_is_404_without_a_tracker(stack: Stack) -> None:
    api = stack.api()
    response = await api.post(WEBHOOK, content=b"{}", headers={"X-Hub-Signature": "sha256=00"})
    assert response.status_code == 404
