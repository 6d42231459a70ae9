"""Alembic environment: async engines, SQLite batch mode, and a connection handed in by code."""

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from db.models import Base, is_unmanaged_table
from db.session import build_engine

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:  # the CLI: log like alembic.ini says; code keeps its own
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our TypeDecorators as their plain SQL type, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave hand-made tables (SQLite's FTS5 index) out of autogenerate's comparison."""
    return not (type_ == "table" and is_unmanaged_table(name))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
        include_name=include_name,
    )


def run_migrations_with(connection: Connection) -> None:
    """Run the migrations on an open synchronous connection."""
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def database_url() -> str:
    """The URL from code (attributes), alembic.ini / -x url=..., or ITR_DATABASE_URL."""
    url = (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("ITR_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL: set ITR_DATABASE_URL or pass -x url=...")
    return str(url)


async def run_async_migrations() -> None:
    """Open an async engine (foreign keys off on SQLite, as batch table copies require)."""
    engine = build_engine(database_url(), enforce_foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations_with)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`)."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    run_migrations_with(connection)
else:
    asyncio.run(run_async_migrations())
