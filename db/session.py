"""Engine and session factory for the read model, built at runtime from a database URL."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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

SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def build_engine(
    database_url: str, *, enforce_foreign_keys: bool = True, **kwargs: Any
) -> AsyncEngine:
    """An async engine; SQLite gets its directory created and WAL, busy timeout and FKs set."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    path = sqlite_file(url)
    if path is not None:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
        """The database named by ITR_DATABASE_URL."""
        return cls(settings.database_url)

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

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or before dropping a test database)."""
        await self.engine.dispose()
