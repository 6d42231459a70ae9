"""The Database wrapper: probes, SQLite pragmas, UTC datetimes, transaction boundaries."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from db.models import OrganisationRow
from db.repositories import reference
from db.session import Database


async def test_ping_succeeds_on_a_live_database(database: Database) -> None:
    await database.ping()


async def test_ping_raises_when_the_server_is_unreachable() -> None:
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(OSError):
            await unreachable.ping()
    finally:
        await unreachable.dispose()


async def test_sqlite_gets_its_folder_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "itr.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.session() as session:
            assert (await session.execute(sa.text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await session.execute(sa.text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await session.execute(sa.text("PRAGMA busy_timeout"))).scalar_one() == 5000
    finally:
        await database.dispose()
    assert path.exists()


async def test_datetimes_come_back_aware_in_utc(database: Database) -> None:
    paris = timezone(timedelta(hours=2))
    created = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    async with database.transaction() as session:
        session.add(OrganisationRow(id="acme", name="Acme", created_at=created))
    async with database.session() as session:
        stored = await session.scalar(
            sa.select(OrganisationRow.created_at).where(OrganisationRow.id == "acme")
        )
    assert stored == created
    assert stored is not None and stored.tzinfo == UTC and stored.hour == 12


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with database.transaction() as session:
            session.add(OrganisationRow(id="acme", name="Acme", created_at=datetime(2026, 1, 1)))


async def test_transaction_commits_on_success_and_rolls_back_on_error(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await reference.create_organisation(session, "kept", "Kept")
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await reference.create_organisation(session, "lost", "Lost")
            raise RuntimeError("boom")
    async with database.session() as session:
        assert [o.id for o in await reference.list_organisations(session)] == ["kept"]
