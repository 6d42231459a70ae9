"""Failures answer 503 (or 409) with problem+json and leave nothing half-written.

Temporal or the database unreachable, a command sent to an issue whose workflow has ended,
and a command retried with the same Idempotency-Key (a Temporal update id): on SQLite and
PostgreSQL, against the real dev server.
"""

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.services.issues import issue_id_for
from api.temporal_gateway import TemporalGateway
from db.models import IssueRow
from db.session import Database
from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    MANAGER,
    NEW_ISSUE,
    Stack,
    issue_detail,
    open_issue,
    unique,
)
from tests.support.devserver import free_port

pytestmark = pytest.mark.timeout(120)

CUSTOMER_TOKEN_ID = "tok-demo-customer-acme"  # config/demo_seed.yaml
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/nope"


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    """A 503 problem with Retry-After that says what is down and carries no stack trace."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text and 'File "' not in response.text
    problem: dict[str, Any] = response.json()
    assert problem["status"] == 503 and problem["title"] == "Service Unavailable"
    return problem


async def issue_rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(IssueRow)) or 0)


async def runs_of(stack: Stack, issue_id: str) -> int:
    return len([w async for w in stack.client.list_workflows(f"WorkflowId = 'issue-{issue_id}'")])


async def test_temporal_unreachable_is_a_503_and_a_retry_with_the_same_key_creates_once(
    stack: Stack,
) -> None:
    # Nobody listens on this port: the gateway connects lazily and fails on first use.
    cut_off = stack.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    broken = stack.api(gateway=TemporalGateway(cut_off))
    key = unique("temporal-down")

    refused = await broken.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": key}
    )
    assert "Temporal" in assert_unavailable(refused)["detail"]
    assert await issue_rows(stack.db) == 0
    assert (await broken.get("/issues", headers=MANAGER)).json()["items"] == []

    ready = await broken.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert "Temporal is unreachable" in checks["temporal"]
    assert (await broken.get("/healthz")).status_code == 200

    working = stack.api()
    created = await working.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": key}
    )
    assert created.status_code == 201, created.text
    issue_id = created.json()["id"]
    assert issue_id == issue_id_for(CUSTOMER_TOKEN_ID, key)
    assert await issue_rows(stack.db) == 1
    assert await runs_of(stack, issue_id) == 1
    assert (await working.get("/readyz")).status_code == 200


async def test_database_unreachable_is_a_503_not_a_500_and_starts_no_workflow(
    stack: Stack,
) -> None:
    down = Database(UNREACHABLE_DATABASE)
    try:
        broken = stack.api(db=down)
        assert_unavailable(await broken.get("/issues", headers=CUSTOMER))

        key = unique("db-down")
        refused = await broken.post(
            "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": key}
        )
        assert "database" in assert_unavailable(refused)["detail"]
        assert await runs_of(stack, issue_id_for(CUSTOMER_TOKEN_ID, key)) == 0

        ready = await broken.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"].startswith("unreachable")
        assert checks["temporal"] == "ok"
        health = await broken.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
    finally:
        await down.dispose()
    assert await issue_rows(stack.db) == 0


async def test_a_command_after_the_issue_was_cancelled_is_a_409_with_the_reason(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("cancel-race"))
    issue_id = issue["id"]
    cancelled = await api.post(
        f"/issues/{issue_id}/cancel", json={"reason": "Replaced the router"}, headers=CUSTOMER
    )
    assert cancelled.status_code == 200, cancelled.text

    # Right after the cancel the workflow may still be finishing: its validator refuses.
    racing = await api.post(
        f"/issues/{issue_id}/comments", json={"body": "One more thing"}, headers=CUSTOMER
    )
    assert racing.status_code == 409, racing.text
    assert "cancelled" in racing.json()["detail"]

    # Once it has ended, Temporal no longer knows a running issue: still a 409, not a 5xx.
    handle = stack.client.get_workflow_handle(f"issue-{issue_id}")
    await asyncio.wait_for(handle.result(), timeout=15)
    ended = await api.post(
        f"/issues/{issue_id}/comments", json={"body": "Hello?"}, headers=ENGINEER
    )
    assert ended.status_code == 409, ended.text
    assert ended.headers["content-type"].startswith("application/problem+json")
    assert "cancelled" in ended.json()["detail"]
    assert "open a new issue" in ended.json()["detail"]

    kinds = Counter(e["kind"] for e in (await issue_detail(api, issue_id))["timeline"])
    assert kinds["cancelled"] == 1 and kinds["commented"] == 0


async def test_a_command_retried_with_the_same_idempotency_key_applies_once(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("update-id"))
    issue_id = issue["id"]
    headers = {**CUSTOMER, "Idempotency-Key": unique("comment")}
    body = {"body": "The router rebooted again at 09:12."}

    first = await api.post(f"/issues/{issue_id}/comments", json=body, headers=headers)
    assert first.status_code == 200, first.text
    retries = await asyncio.gather(
        api.post(f"/issues/{issue_id}/comments", json=body, headers=headers),
        api.post(f"/issues/{issue_id}/comments", json=body, headers=headers),
    )
    for retry in retries:
        assert retry.status_code == 200, retry.text
        assert retry.json()["comment_id"] == first.json()["comment_id"]

    detail = await issue_detail(api, issue_id)
    assert [e["kind"] for e in detail["timeline"]].count("commented") == 1
    assert [c["body"] for c in detail["comments"]] == [body["body"]]

    # A new key is a new command.
    again = await api.post(
        f"/issues/{issue_id}/comments",
        json=body,
        headers={**CUSTOMER, "Idempotency-Key": unique("comment")},
    )
    assert again.status_code == 200 and again.json()["comment_id"] != first.json()["comment_id"]
    assert len((await issue_detail(api, issue_id))["comments"]) == 2


async def test_an_idempotency_key_reused_on_another_command_is_not_taken_for_a_retry(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("key-reuse"))
    issue_id = issue["id"]
    key = unique("reused")
    commented = await api.post(
        f"/issues/{issue_id}/comments",
        json={"body": "Any news?"},
        headers={**CUSTOMER, "Idempotency-Key": key},
    )
    assert commented.status_code == 200, commented.text
    acknowledged = await api.post(
        f"/issues/{issue_id}/acknowledge", json={}, headers={**ENGINEER, "Idempotency-Key": key}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["issue"]["state"] == "in_progress"
    kinds = [e["kind"] for e in (await issue_detail(api, issue_id))["timeline"]]
    assert kinds.count("commented") == 1 and kinds.count("acknowledged") == 1
