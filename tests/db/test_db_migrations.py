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
            assert await connection.run_sync(_current_revision) == head == "0014"
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


async def test_revision_0014_indexes_the_issues_recorded_before_it(database: Database) -> None:
    """Issues written before the full-text index existed are found by `q=` after upgrading,
    and their soonest deadline is filled in."""
    from datetime import timedelta

    from db.repositories import issues as issue_repo
    from domain.enums import IssueState, Severity
    from domain.sla_tracking import IssueSla, fallback_policy
    from tests.db.builders import T0, add_issue, intake

    policy = fallback_policy(Severity.MAJOR, timedelta(hours=2), timedelta(hours=8))
    async with database.transaction() as session:
        await add_issue(
            session,
            intake("OLD-1", title="Tunnel flaps every night"),
            state=IssueState.IN_PROGRESS,
            sla=IssueSla.begin(policy, T0),
        )
        await add_issue(session, intake("OLD-2", title="路由器升级后丢包"))
    config = alembic_config(database.url)
    engine = build_engine(database.url, enforce_foreign_keys=False)

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()
    await upgrade_to_head(database.url)
    await database.engine.dispose()  # pooled SQLite connections cached the old schema
    async with database.session() as session:
        tunnel, _ = await issue_repo.list_issues(session, issue_repo.IssueFilters(text="tunnels"))
        chinese, _ = await issue_repo.list_issues(session, issue_repo.IssueFilters(text="丢包"))
    assert [r.id for r in tunnel] == ["OLD-1"]
    assert [r.id for r in chinese] == ["OLD-2"]
    assert tunnel[0].soonest_deadline == T0 + timedelta(hours=2)
