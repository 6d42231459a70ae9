"""Migrations build exactly the schema the models declare, from any directory, repeatably."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from db.migrate import alembic_config, upgrade_to_head
from db.models import Base, is_unmanaged_table
from db.session import Database, build_engine


def _schema_diffs(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, type_, _parents: (
                not (type_ == "table" and is_unmanaged_table(name))
            ),
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        diffs = await connection.run_sync(_schema_diffs)
    assert diffs == []


async def test_upgrade_to_head_again_is_a_no_op(database_url: str) -> None:
    await upgrade_to_head(database_url)
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = build_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_current_revision) == head == "0013"
    finally:
        await engine.dispose()


async def test_downgrade_to_base_then_upgrade_restores_the_schema(database: Database) -> None:
    config = alembic_config(database.url)
    engine = build_engine(database.url, enforce_foreign_keys=False)

    def downgrade(connection: Connection) -> list[str]:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        return sa.inspect(connection).get_table_names()

    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(downgrade) == ["alembic_version"]
    finally:
        await engine.dispose()
    await upgrade_to_head(database.url)
    await database.engine.dispose()  # pooled SQLite connections cached the dropped schema
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_schema_diffs) == []


async def test_upgrade_works_from_any_directory_and_creates_the_sqlite_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    target = tmp_path / "not" / "yet" / "there" / "itr.db"
    url = f"sqlite+aiosqlite:///{target}"
    await upgrade_to_head(url)
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_schema_diffs) == []
    finally:
        await database.dispose()
    assert target.exists()
