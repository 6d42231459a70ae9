"""Engine and session factory for the read model, built at runtime from a database URL."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from config.settings import Settings

DEFAULT_LOCK_TIMEOUT = timedelta(seconds=5)

# PostgreSQL states that mean "busy, try again": lock_timeout, statement_timeout (or a
# cancel), deadlock, serialization failure. SQLite's "database is locked" is an
# OperationalError already.
BUSY_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001"})


def database_busy(exc: sa.exc.DBAPIError) -> bool:
    """True when the database refused for now (a lock or time bound), not for good."""
    return getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _postgres_bounds(
    lock_timeout: timedelta | None, statement_timeout: timedelta | None
) -> dict[str, Any]:
    """asyncpg connect arguments: a lock wait, a statement and a round trip bounded."""
    server_settings: dict[str, str] = {}
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if lock_timeout is not None:
        server_settings["lock_timeout"] = str(int(lock_timeout.total_seconds() * 1000))
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout.total_seconds() * 1000))
        # The client-side bound too: a server that stops answering is not waited for forever.
        connect_args["command_timeout"] = statement_timeout.total_seconds() + 5
    return connect_args


def build_engine(
    database_url: str,
    *,
    enforce_foreign_keys: bool = True,
    lock_timeout: timedelta | None = None,
    statement_timeout: timedelta | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine whose waits are bounded, and whose errors carry no row values.

    `lock_timeout` bounds a lock wait (SQLite's busy timeout, 5 s when not given;
    PostgreSQL's `lock_timeout`) and the wait for a pooled connection; `statement_timeout`
    bounds a PostgreSQL statement. The API passes both (`Database.from_settings`); the
    worker and migrations keep waiting as before. SQLite also gets its directory created,
    WAL and FKs. `hide_parameters`: a database error's text (logged by the worker, stored
    in Temporal's history) names the statement, never the values bound to it, which are
    customers' titles, descriptions and e-mail addresses.
    """
    url = make_url(database_url)
    kwargs.setdefault("hide_parameters", True)
    path = sqlite_file(url) if url.get_backend_name() == "sqlite" else None
    if lock_timeout is not None and (url.get_backend_name() != "sqlite" or path is not None):
        kwargs.setdefault("pool_timeout", max(lock_timeout.total_seconds(), 1.0))
    if url.get_backend_name() != "sqlite":
        connect_args = _postgres_bounds(lock_timeout, statement_timeout)
        connect_args.update(kwargs.pop("connect_args", {}))
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if path is not None:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
    busy_timeout_ms = int((lock_timeout or DEFAULT_LOCK_TIMEOUT).total_seconds() * 1000)
    engine = create_async_engine(url, **kwargs)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        finally:
            cursor.close()

    return engine


class Database:
    """One engine and session factory per process; pass it to whatever needs the read model."""

    def __init__(self, database_url: str, **engine_kwargs: Any) -> None:
        self.url = database_url
        self.engine: AsyncEngine = build_engine(database_url, **engine_kwargs)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Database":
        """The database named by ITR_DATABASE_URL, with the configured lock and statement
        bounds (a request never waits longer than these for the database)."""
        return cls(
            settings.database_url,
            lock_timeout=settings.database_lock_timeout,
            statement_timeout=settings.database_statement_timeout,
        )

    @property
    def dialect_name(self) -> str:
        """The dialect ("sqlite" or "postgresql"), for the few places that differ."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits (or not) explicitly."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Round-trip SELECT 1 for readiness probes; raises when the database is unreachable."""
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def check_writable(self) -> None:
        """Take the write lock and write a row, then roll back: raises when no write could be
        made (SQLite locked by another writer, a read-only PostgreSQL, a full disk...).

        The write touches Alembic's version row, which every migrated database has, and
        rewrites it with its own value, so even a commit would change nothing.
        """
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            try:
                await connection.execute(
                    sa.text("UPDATE alembic_version SET version_num = version_num")
                )
            finally:
                await transaction.rollback()

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or before dropping a test database)."""
        await self.engine.dispose()
