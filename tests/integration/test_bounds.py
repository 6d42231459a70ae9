"""Every request answers within its bound, whatever is down, and the retry is safe.

No worker polling, a write-locked database, a command accepted but not finished: the API
answers 503 + Retry-After (or 202 with where to look) instead of waiting, and a retry
with the same Idempotency-Key converges on one result. /readyz names each failing check.
On SQLite and PostgreSQL, against the real dev server.
"""

import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.worker import Worker

from api.services.issues import issue_id_for
from api.temporal_gateway import TemporalGateway
from db.models import CommentRow, IssueRow
from db.session import Database
from domain.ids import workflow_id_for
from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    NEW_ISSUE,
    Stack,
    eventually,
    issue_detail,
    open_issue,
    running_stack,
    unique,
)
from workflows.issue import IssueWorkflow
from workflows.tracker_poll import TrackerPollWorkflow

pytestmark = pytest.mark.timeout(180)

CUSTOMER_TOKEN_ID = "tok-demo-customer-acme"  # config/demo_seed.yaml
# Every table a create, a comment or the readiness write touches (PostgreSQL locks tables).
WRITTEN_TABLES = ("idempotency_keys", "issues", "issue_events", "comments", "alembic_version")


@pytest.fixture
async def stack(database: Database, temporal_client: Client) -> AsyncIterator[Stack]:
    """A stack whose commands wait 3 s for their workflow (the bound under test)."""
    async with running_stack(
        database, temporal_client, command_timeout=timedelta(seconds=3)
    ) as running:
        yield running


@asynccontextmanager
async def bounded_db(stack: Stack) -> AsyncIterator[Database]:
    """The API's own Database with a short lock timeout, as `itr api` builds it."""
    settings = stack.settings.model_copy(
        update={"database_lock_timeout": timedelta(milliseconds=300)}
    )
    db = Database.from_settings(settings)
    try:
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def write_locked(db: Database) -> AsyncIterator[None]:
    """Another connection holds a write transaction: SQLite's single writer lock, or on
    PostgreSQL an EXCLUSIVE lock (reads pass, writes wait) on every table we write."""
    url = make_url(db.url)
    if db.dialect_name == "sqlite":
        assert url.database is not None
        with _sqlite_writer(url.database):
            yield
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(f"LOCK TABLE {', '.join(WRITTEN_TABLES)} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await connection.close()


@contextmanager
def _sqlite_writer(path: str) -> Iterator[None]:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def assert_retry_later(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    problem: dict[str, Any] = response.json()
    assert problem["status"] == 503
    return problem


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.session() as session:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int(await session.scalar(query) or 0)


async def retried_until_done(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """Retry (same key) while the answer is "later" (503) or "still applying" (202)."""

    async def attempt() -> httpx.Response | None:
        response = await api.post(path, json=body, headers=headers)
        return None if response.status_code in (202, 503) else response

    return await eventually(attempt, "the command's result", within=60, every=0.5)


async def test_a_command_no_worker_takes_answers_503_with_retry_after_and_a_retry_applies_once(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("no-worker"))
    issue_id = issue["id"]
    await stack.stop_worker()

    path = f"/issues/{issue_id}/comments"
    body = {"body": "Still dropping packets tonight."}
    headers = {**CUSTOMER, "Idempotency-Key": unique("no-worker-comment")}
    refused = assert_retry_later(await api.post(path, json=body, headers=headers))
    assert "Idempotency-Key" in refused["detail"]

    await stack.start_worker()
    done = await retried_until_done(api, path, body, headers)
    assert done.status_code == 200, done.text
    again = await api.post(path, json=body, headers=headers)
    assert again.status_code == 200 and again.json()["comment_id"] == done.json()["comment_id"]
    comments = (await issue_detail(api, issue_id))["comments"]
    assert [c["body"] for c in comments] == [body["body"]]


async def test_a_command_accepted_but_not_applied_in_time_answers_202_with_the_issue_location(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("slow-apply"))
    issue_id = issue["id"]
    path = f"/issues/{issue_id}/comments"
    body = {"body": "Here is the capture you asked for."}
    headers = {**ENGINEER, "Idempotency-Key": unique("slow-apply-comment")}

    # The workflow takes the command, but its projection cannot be written yet: the only
    # worker polling runs workflow tasks and no activities.
    await stack.stop_worker()
    async with Worker(
        stack.client,
        task_queue=stack.settings.temporal_task_queue,
        workflows=[IssueWorkflow, TrackerPollWorkflow],
    ):
        # A query first: this worker replays the issue into its cache, so the command's
        # bound measures taking the command, not a cold worker's start on a busy machine.
        await stack.client.get_workflow_handle(workflow_id_for(issue_id)).query("status")
        pending = await api.post(path, json=body, headers=headers)
    await stack.start_worker()
    assert pending.status_code == 202, pending.text
    assert pending.headers["Location"] == f"/issues/{issue_id}"
    assert pending.json()["issue_id"] == issue_id

    done = await retried_until_done(api, path, body, headers)
    assert done.status_code == 200, done.text
    assert await count(stack.db, CommentRow, CommentRow.issue_id == issue_id) == 1


async def test_a_create_while_the_database_is_write_locked_answers_503_and_the_retry_creates_once(
    stack: Stack,
) -> None:
    key = unique("locked-create")
    issue_id = issue_id_for(CUSTOMER_TOKEN_ID, key)
    async with bounded_db(stack) as db:
        api = stack.api(db=db)
        headers = {**CUSTOMER, "Idempotency-Key": key}
        async with write_locked(stack.db):
            refused = await api.post("/issues", json=NEW_ISSUE, headers=headers)
            assert "database" in assert_retry_later(refused)["detail"]
        assert await count(stack.db, IssueRow) == 0
        started = stack.client.list_workflows(f"WorkflowId = 'issue-{issue_id}'")
        assert [w async for w in started] == []

        created = await api.post("/issues", json=NEW_ISSUE, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["id"] == issue_id
        assert await count(stack.db, IssueRow) == 1


async def test_a_create_without_a_key_refused_by_a_locked_database_is_never_half_written(
    stack: Stack,
) -> None:
    """Without an Idempotency-Key the workflow may start before the insert is refused; its
    first step then writes the whole row itself (the intake travels with it)."""
    async with bounded_db(stack) as db:
        api = stack.api(db=db)
        title = f"Locked out {unique('title')}"
        async with write_locked(stack.db):
            assert_retry_later(
                await api.post("/issues", json={**NEW_ISSUE, "title": title}, headers=CUSTOMER)
            )

    async def rows() -> list[IssueRow] | None:
        async with stack.db.session() as session:
            found = list(await session.scalars(sa.select(IssueRow)))
        return found or None

    try:
        (row,) = await eventually(rows, "the workflow's own row", within=10)
    except AssertionError:
        return  # nothing started at all: nothing half-written either
    assert row.title == title and row.description == NEW_ISSUE["description"]
    assert row.reporter_name != "unknown"


async def test_readyz_fails_the_worker_check_when_no_worker_polls_the_task_queue(
    stack: Stack,
) -> None:
    async def ready() -> httpx.Response | None:
        response = await stack.api().get("/readyz")
        return response if response.status_code == 200 else None

    served = (await eventually(ready, "a ready stack")).json()
    assert served["checks"] == {
        "database": "ok",
        "database_writable": "ok",
        "temporal": "ok",
        "worker": "ok",
    }

    # A task queue no worker has ever polled, as when every worker is down.
    unserved = stack.settings.model_copy(update={"temporal_task_queue": unique("nobody")})
    response = await stack.api(gateway=TemporalGateway(unserved, stack.client)).get("/readyz")
    assert response.status_code == 503, response.text
    checks = response.json()["checks"]
    assert "no worker polled" in checks["worker"]
    assert checks["temporal"] == "ok" and checks["database_writable"] == "ok"


async def test_readyz_fails_the_database_writable_check_while_another_writer_holds_the_lock(
    stack: Stack,
) -> None:
    async with bounded_db(stack) as db:
        api = stack.api(db=db)
        async with write_locked(stack.db):
            response = await api.get("/readyz")
        assert response.status_code == 503, response.text
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["database_writable"].startswith("not writable")

        async def ready() -> httpx.Response | None:
            answer = await api.get("/readyz")
            return answer if answer.status_code == 200 else None

        await eventually(ready, "the database writable again")


async def test_a_database_error_in_an_activity_logs_no_customer_data(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("pii"))
    canary = f"reach me at canary-{uuid.uuid4().hex[:8]}@example.com"
    path = f"/issues/{issue['id']}/comments"
    headers = {**CUSTOMER, "Idempotency-Key": unique("pii-comment")}

    async with stack.db.transaction() as session:  # the comment's insert will fail
        await session.execute(sa.text("ALTER TABLE comments RENAME TO comments_away"))
    try:
        with caplog.at_level(logging.WARNING, logger="temporalio"):
            answer = await api.post(path, json={"body": canary}, headers=headers)
            assert answer.status_code == 202, answer.text

            def failure_logged() -> str | None:
                failed = [
                    r
                    for r in caplog.records
                    if r.getMessage().startswith("Completing activity as failed")
                ]
                return caplog.text if failed else None

            async def logged() -> str | None:
                return failure_logged()

            text = await eventually(logged, "the activity failure in the worker log")
    finally:
        async with stack.db.transaction() as session:
            await session.execute(sa.text("ALTER TABLE comments_away RENAME TO comments"))

    assert "comments" in text  # the failure is logged, with the statement...
    assert canary not in text  # ...but not the values bound to it
    assert "example.com" not in text
    done = await retried_until_done(api, path, {"body": canary}, headers)
    assert done.status_code == 200, done.text
