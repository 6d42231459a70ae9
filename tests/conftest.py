"""Database fixtures: every read-model test runs on SQLite and on PostgreSQL.

One migrated database per backend for the whole session (migrating is the slow part);
each test gets it emptied. When PostgreSQL is unreachable, CI (the `CI` variable set) fails
those tests: a green CI run has tested PostgreSQL. A developer's machine skips them, and the
end of the run says so in a line of its own.
"""

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from db.migrate import upgrade_to_head
from db.models import ISSUE_SEARCH_TABLE, SQLITE_SEARCH_TABLE, Base, TeamRow
from db.session import Database
from tests.support.postgres import when_postgres_is_unreachable

POSTGRES_URL_ENV = "ITR_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


_postgres_unreachable: list[str] = []
"""Why PostgreSQL tests were skipped in this run (one entry at most: a session fixture)."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The skip is easy to miss among `-ra`'s lines (or without `-ra`): say it on its own."""
    for reason in _postgres_unreachable:
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", yellow=True, bold=True)
        terminalreporter.write_line(reason, yellow=True)


async def _admin_connection(admin_url: URL) -> asyncpg.Connection:
    """A connection to the maintenance database; if the server is down, fail in CI, else skip."""
    try:
        return await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
    except (OSError, TimeoutError) as exc:
        reason = (
            f"PostgreSQL unreachable at {admin_url.render_as_string(hide_password=True)} "
            f"({exc!r}); set {POSTGRES_URL_ENV} to test against another server"
        )
        if when_postgres_is_unreachable(os.environ) == "fail":
            pytest.fail(f"{reason}. CI must test PostgreSQL (CI={os.environ['CI']!r}).")
        _postgres_unreachable.append(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """URL of a freshly migrated database, one per backend (PostgreSQL: itr_test_<uuid8>)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "itr-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_to_head(url)
        yield url
        return

    admin_url = make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
    name = f"itr_test_{uuid.uuid4().hex[:8]}"
    admin = await _admin_connection(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        await upgrade_to_head(url)
        yield url
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def shared_database(database_url: str) -> AsyncIterator[Database]:
    """The session's Database for one backend; disposed before its database is dropped."""
    database = Database(database_url)
    yield database
    await database.dispose()


async def empty_all_tables(database: Database) -> None:
    """Delete every row (children first; the teams <-> engineers cycle broken beforehand)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    async with database.transaction() as session:
        if database.dialect_name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            await session.execute(sa.text(f"TRUNCATE {names} CASCADE"))
            return
        await session.execute(sa.update(TeamRow).values(manager_id=None))
        for table in tables:
            await session.execute(table.delete())
        # The FTS5 indexes (knowledge, issues) live outside the metadata (see db.models).
        await session.execute(sa.text(f"DELETE FROM {SQLITE_SEARCH_TABLE}"))
        await session.execute(sa.text(f"DELETE FROM {ISSUE_SEARCH_TABLE}"))


@pytest.fixture
async def database(shared_database: Database) -> Database:
    """A migrated, empty database (run once per backend)."""
    await empty_all_tables(shared_database)
    return shared_database
