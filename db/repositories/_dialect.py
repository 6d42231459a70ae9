"""INSERT ... ON CONFLICT for SQLite and PostgreSQL: same SQL, dialect-specific constructs."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Base


def dialect_name(session: AsyncSession) -> str:
    """The dialect of the connection this session writes to."""
    return session.get_bind().dialect.name


def _insert(session: AsyncSession, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    name = dialect_name(session)
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"insert-if-absent is not implemented for dialect {name!r}")


async def insert_if_absent(
    session: AsyncSession,
    model: type[Base],
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    conflict_on: Sequence[InstrumentedAttribute[Any]],
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING, so a retry writes nothing twice; returns rows added."""
    rows = [dict(values)] if isinstance(values, Mapping) else [dict(v) for v in values]
    if not rows:
        return 0
    statement = (
        _insert(session, model)
        .values(rows)
        .on_conflict_do_nothing(index_elements=list(conflict_on))
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return int(result.rowcount)


async def upsert(
    session: AsyncSession,
    model: type[Base],
    values: Mapping[str, Any],
    conflict_on: Sequence[InstrumentedAttribute[Any]],
    changes: Callable[[Any], Mapping[str, Any]],
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE SET changes(excluded), excluded being the proposed row."""
    statement = _insert(session, model).values(dict(values))
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=list(conflict_on), set_=dict(changes(statement.excluded))
        )
    )
