"""What every HTTP answer guarantees, whatever the route: bounded size and time, security
headers, no redirect built from the Host header, operator endpoints only where configured,
and a limit on failed authentications. In-process ASGI; a database only where tokens are."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from api.deps import SessionDep
from api.main import create_app
from api.state import AppState
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.seed import seed_demo_data
from db.session import Database

pytestmark = pytest.mark.timeout(60)

ADMIN = {"Authorization": "Bearer demo-admin"}
CUSTOMER = {"Authorization": "Bearer demo-customer-acme"}
WRONG = {"Authorization": "Bearer not-a-token"}


def settings_for(database_url: str, **changes: Any) -> Settings:
    return Settings(environment="test", database_url=database_url, **changes)


def client(app: FastAPI, address: str = "198.51.100.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url="http://itr.test",
    )


@pytest.fixture
def offline_url(tmp_path: Path) -> str:
    """A database nothing here touches (the routes under test answer before any query)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"


def offline_app(url: str, **changes: Any) -> FastAPI:
    settings = settings_for(url, **changes)
    state = AppState(settings=settings, db=Database(url), temporal=TemporalGateway(settings))
    return create_app(settings, state)


@pytest.fixture
async def seeded(database: Database) -> AsyncIterator[Database]:
    async with database.transaction() as session:
        await seed_demo_data(session)
    yield database


def app_on(database: Database, **changes: Any) -> FastAPI:
    settings = settings_for(database.url, **changes)
    state = AppState(settings=settings, db=database, temporal=TemporalGateway(settings))
    return create_app(settings, state)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


# --- headers and redirects -------------------------------------------------------------------


async def test_every_answer_carries_the_security_headers_and_is_not_cached(
    offline_url: str,
) -> None:
    async with client(offline_app(offline_url)) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200
        assert_secured(health)
        missing = await http.get("/no-such-endpoint")
        assert_problem(missing, 404)
        assert_secured(missing)
        assert "default-src 'none'" in missing.headers["content-security-policy"]


async def test_a_trailing_slash_is_not_redirected_to_a_forged_host(offline_url: str) -> None:
    async with client(offline_app(offline_url)) as http:
        response = await http.get("/issues/", headers={"Host": "evil.example"})
    assert not response.is_redirect
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert_problem(response, 404)


# --- body size and time ----------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_413_by_its_content_length(
    offline_url: str,
) -> None:
    async with client(offline_app(offline_url, max_body_bytes=1000)) as http:
        response = await http.post(
            "/issues", content=b"x" * 2000, headers={"Content-Type": "application/json"}
        )
    problem = assert_problem(response, 413)
    assert "1000 bytes" in problem["detail"]


async def test_a_streamed_body_over_the_limit_is_refused_413_without_a_content_length(
    offline_url: str,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 300

    async with client(offline_app(offline_url, max_body_bytes=1000)) as http:
        response = await http.post(
            "/issues", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_a_body_under_the_limit_still_reaches_the_route(offline_url: str) -> None:
    async with client(offline_app(offline_url, max_body_bytes=1000)) as http:
        response = await http.post("/issues", json={"title": "small"})
    assert response.status_code == 401  # read in full, then the missing token is refused


async def test_a_body_that_trickles_in_is_refused_408(offline_url: str) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"title": '
        await asyncio.sleep(30)
        yield b'"late"}'

    app = offline_app(offline_url, body_read_timeout=timedelta(milliseconds=200))
    async with client(app) as http:
        response = await http.post(
            "/issues", content=trickle(), headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 408)


async def test_a_request_past_the_request_timeout_is_answered_503_with_retry_after(
    offline_url: str,
) -> None:
    app = offline_app(
        offline_url,
        request_timeout=timedelta(milliseconds=200),
        retry_after=timedelta(seconds=7),
    )

    async def stuck() -> dict[str, str]:
        await asyncio.sleep(30)
        return {}

    app.add_api_route("/stuck", stuck)
    async with client(app) as http:
        response = await http.get("/stuck")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "7"
    assert_secured(response)


async def test_an_answer_that_started_in_time_may_take_longer_to_finish(
    offline_url: str,
) -> None:
    app = offline_app(offline_url, request_timeout=timedelta(milliseconds=200))

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"two ", b"three"):
            yield part
            await asyncio.sleep(0.15)

    async def streamed() -> StreamingResponse:
        return StreamingResponse(parts(), media_type="text/plain")

    app.add_api_route("/streamed", streamed)
    async with client(app) as http:
        response = await http.get("/streamed")
    assert response.status_code == 200
    assert response.text == "one two three"


# --- operator endpoints ----------------------------------------------------------------------


async def test_docs_and_metrics_are_public_in_development(offline_url: str) -> None:
    async with client(offline_app(offline_url)) as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await http.get(path)).status_code == 200, path
        spec = (await http.get("/openapi.json")).json()
        assert "/issues" in spec["paths"]
        assert "python_info" in (await http.get("/metrics")).text


def test_docs_are_off_and_metrics_admin_only_by_default_in_production() -> None:
    production = Settings(
        environment="production", database_url="postgresql+asyncpg://itr@db.example/itr"
    )
    assert production.docs_exposure == "off"
    assert production.metrics_exposure == "admin"
    assert Settings(environment="development").docs_exposure == "public"


async def test_docs_can_be_switched_off_and_metrics_kept_for_admin_tokens(
    seeded: Database,
) -> None:
    app = app_on(seeded, api_docs="off", api_metrics="admin")
    async with client(app) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert_problem(await http.get(path, headers=ADMIN), 404)
        assert_problem(await http.get("/metrics"), 401)
        assert_problem(await http.get("/metrics", headers=CUSTOMER), 403)
        metrics = await http.get("/metrics", headers=ADMIN)
        assert metrics.status_code == 200 and "python_info" in metrics.text


async def test_docs_can_be_kept_for_admin_tokens(seeded: Database) -> None:
    async with client(app_on(seeded, api_docs="admin")) as http:
        assert_problem(await http.get("/openapi.json"), 401)
        assert (await http.get("/openapi.json", headers=ADMIN)).status_code == 200


# --- failed authentication -------------------------------------------------------------------


async def test_failed_authentications_from_one_address_are_limited_with_429(
    seeded: Database,
) -> None:
    app = app_on(seeded, auth_failure_limit="3/minute")
    async with client(app, "203.0.113.9") as guesser, client(app, "203.0.113.10") as other:
        for _ in range(3):
            assert_problem(await guesser.get("/issues", headers=WRONG), 401)
        limited = await guesser.get("/issues", headers=WRONG)
        assert_problem(limited, 429)
        assert 0 < int(limited.headers["Retry-After"]) <= 60
        # Past the limit even a valid token waits: the address is what is limited...
        assert_problem(await guesser.get("/issues", headers=CUSTOMER), 429)
        # ...and only that address.
        assert (await other.get("/issues", headers=CUSTOMER)).status_code == 200


async def test_successful_authentications_are_never_limited(seeded: Database) -> None:
    app = app_on(seeded, auth_failure_limit="2/minute")
    async with client(app) as http:
        for _ in range(5):
            assert (await http.get("/issues", headers=CUSTOMER)).status_code == 200


# --- database bounds -------------------------------------------------------------------------


async def test_a_statement_past_the_database_statement_timeout_is_a_503_not_a_500(
    database: Database,
) -> None:
    if database.dialect_name != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's (SQLite's bound is its busy timeout)")
    settings = settings_for(database.url, database_statement_timeout=timedelta(milliseconds=100))
    bounded = Database.from_settings(settings)
    try:
        state = AppState(settings=settings, db=bounded, temporal=TemporalGateway(settings))
        app = create_app(settings, state)

        async def slow_query(session: SessionDep) -> dict[str, str]:
            await session.execute(sa.text("SELECT pg_sleep(5)"))
            return {}

        app.add_api_route("/slow-query", slow_query)
        async with client(app) as http:
            response = await http.get("/slow-query")
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
    finally:
        await bounded.dispose()
