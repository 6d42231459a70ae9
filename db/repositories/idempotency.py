"""Idempotency keys: a retried request gets its first answer, a different request under the
same key is refused, and of many concurrent attempts exactly one counts as the creator."""

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKeyRow, utcnow
from db.repositories._dialect import insert_if_absent


async def find_idempotency(session: AsyncSession, scope: str, key: str) -> IdempotencyKeyRow | None:
    """The earlier request made with this key in this scope (e.g. one customer token), if any."""
    return await session.get(IdempotencyKeyRow, (scope, key), populate_existing=True)


async def save_idempotency(
    session: AsyncSession,
    scope: str,
    key: str,
    request_hash: str,
    issue_id: str,
    created_at: datetime | None = None,
) -> bool:
    """Remember what a key is used for; False when the key was already taken (the first one
    wins, also under a race: the loser reads the winner's row with `find_idempotency`)."""
    values = {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "issue_id": issue_id,
        "created_at": created_at or utcnow(),
    }
    added = await insert_if_absent(
        session, IdempotencyKeyRow, values, [IdempotencyKeyRow.scope, IdempotencyKeyRow.key]
    )
    return added == 1


async def claim_idempotency(
    session: AsyncSession,
    scope: str,
    key: str,
    request_hash: str,
    issue_id: str,
    created_at: datetime | None = None,
) -> IdempotencyKeyRow:
    """The key's row for this request: saved now, or the earlier one (compare its hash)."""
    await save_idempotency(session, scope, key, request_hash, issue_id, created_at)
    row = await find_idempotency(session, scope, key)
    if row is None:  # pragma: no cover - inserted or found just above, in this transaction
        raise LookupError(f"idempotency key {key!r} vanished")
    return row


async def mark_completed(session: AsyncSession, scope: str, key: str) -> bool:
    """Mark the key's request answered; True for exactly one caller (the one that answers 201)."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            sa.update(IdempotencyKeyRow)
            .where(
                IdempotencyKeyRow.scope == scope,
                IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.completed_at.is_(None),
            )
            .values(completed_at=utcnow())
        ),
    )
    return int(result.rowcount) == 1
