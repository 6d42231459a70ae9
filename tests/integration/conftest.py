"""The whole stack in one test process: real dev server, real worker, real database, the API.

The dev server is shared by the session; each test gets its own task queue, a freshly
emptied database (SQLite and PostgreSQL) with the demo reference data, a worker and an
API client (in-process ASGI, the same app `itr api` serves).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from api.state import AppState
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.models import SlaPolicyRow
from db.seed import seed_demo_data
from db.session import Database
from tests.support.devserver import dev_server, free_port
from worker import build_worker

T = TypeVar("T")


@pytest.fixture(scope="session")
async def temporal_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    directory = tmp_path_factory.mktemp("temporal")
    async with dev_server(directory / "temporal.db", free_port(), directory / "log") as client:
        yield client


@dataclass
class Stack:
    """Handles on every running part, so tests can restart or break one of them."""

    settings: Settings
    db: Database
    client: Client
    executor: ThreadPoolExecutor
    worker: Worker | None = None
    apps: list[httpx.AsyncClient] = field(default_factory=list)

    def api(
        self, gateway: TemporalGateway | None = None, db: Database | None = None
    ) -> httpx.AsyncClient:
        """A new API instance (as after a restart) sharing the database and Temporal."""
        state = AppState(
            settings=self.settings,
            db=db or self.db,
            temporal=gateway or TemporalGateway(self.settings, self.client),
        )
        app = create_app(self.settings, state)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://itr.test",
        )
        self.apps.append(http)
        return http

    async def start_worker(self) -> None:
        self.worker = build_worker(
            self.client,
            self.settings,
            self.db,
            self.executor,
            task_queue=self.settings.temporal_task_queue,
        )
        await self.worker.__aenter__()

    async def stop_worker(self) -> None:
        if self.worker is not None:
            await self.worker.__aexit__(None, None, None)
            self.worker = None


@pytest.fixture
async def stack(database: Database, temporal_client: Client) -> AsyncIterator[Stack]:
    async with running_stack(database, temporal_client) as running:
        yield running


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CUSTOMER = auth("demo-customer-acme")
OTHER_CUSTOMER = auth("demo-customer-globex")
ENGINEER = auth("demo-engineer-alice")
EXPERT = auth("demo-engineer-frank")
MANAGER = auth("demo-manager-nina")
ADMIN = auth("demo-admin")
INTEGRATION = auth("demo-integration")

NEW_ISSUE = {
    "title": "Edge router drops packets after upgrade",
    "description": "Since firmware 5.2 the router drops about 3% of packets under load.",
    "product_id": "edge-router",
    "severity": 2,
    "category": "incident",
}


async def open_issue(
    api: httpx.AsyncClient,
    key: str | None = None,
    headers: dict[str, str] = CUSTOMER,
    owner: str | None = "alice",
    **changes: object,
) -> dict[str, object]:
    """Open an issue; with `owner` (default alice, whose token ENGINEER is) an admin assigns
    it to them when dispatch chose a colleague, since only the owner acts on an issue."""
    extra = {"Idempotency-Key": key} if key else {}
    response = await api.post(
        "/issues", json={**NEW_ISSUE, **changes}, headers={**headers, **extra}
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, object] = response.json()
    if owner is not None and body.get("owner_id") not in (None, owner):
        assigned = await api.post(
            f"/issues/{body['id']}/assign",
            json={"engineer_id": owner, "reason": "the test's owner"},
            headers=ADMIN,
        )
        assert assigned.status_code == 200, assigned.text
        body = assigned.json()["issue"]
    return body


# --- helpers for the authorisation, failure and restart tests -----------------------------


def stack_settings(database: Database, client: Client, **changes: Any) -> Settings:
    """Settings for a stack on `database` and the dev server, on a fresh task queue."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database.url,
        "temporal_address": client.service_client.config.target_host,
        "temporal_task_queue": f"itr-test-{uuid.uuid4().hex[:8]}",
        "seed_demo_data": False,
        "worker_max_concurrent_activities": 8,
        # The authorisation matrix fails authentication far more often than a client would.
        "auth_failure_limit": "100000/minute",
        # A loaded CI machine can take longer than the production bound to run a command's
        # workflow task; the bound itself is tested with its own short value (test_bounds).
        "command_timeout": timedelta(seconds=30),
        "request_timeout": timedelta(seconds=60),
        **changes,
    }
    return Settings(**values)


@asynccontextmanager
async def running_stack(
    database: Database, client: Client, *, sla_policies: bool = True, **changes: Any
) -> AsyncIterator[Stack]:
    """What the `stack` fixture builds, for any fixture scope and with Settings `changes`.

    The caller empties the database first if it needs to (the `database` fixture does).
    `sla_policies=False` removes the seeded SLA policies, so every new issue falls back to
    the configured `sla_targets` (24x7): what a stack with short targets needs, since the
    demo organisations' contracts are otherwise covered by business-hours policies.
    """
    async with database.transaction() as session:
        await seed_demo_data(session)
        if not sla_policies:
            await session.execute(sa.delete(SlaPolicyRow))
    settings = stack_settings(database, client, **changes)
    with ThreadPoolExecutor(max_workers=8) as executor:
        running = Stack(settings=settings, db=database, client=client, executor=executor)
        await running.start_worker()
        try:
            yield running
        finally:
            for http in running.apps:
                await http.aclose()
            await running.stop_worker()


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = 15.0, every: float = 0.1
) -> T:
    """Poll `probe` until it returns something other than None; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await probe()
        if found is not None:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def issue_detail(api: httpx.AsyncClient, issue_id: object) -> dict[str, Any]:
    """The staff view of an issue (all timeline entries and comments)."""
    response = await api.get(f"/issues/{issue_id}", headers=MANAGER)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


def unique(prefix: str) -> str:
    """A key or id no other run on the shared dev server (or database) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
