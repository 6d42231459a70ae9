"""Idempotency keys: a client retrying a create gets the issue its first attempt created."""

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKeyRow, utcnow
from db.repositories._dialect import insert_if_absent


async def find_idempotency(session: AsyncSession, scope: str, key: str) -> IdempotencyKeyRow | None:
    """The earlier request made with this key in this scope (e.g. one customer token), if any."""
    return await session.get(IdempotencyKeyRow, (scope, key), populate_existing=True)


async def save_idempotency(
    session: AsyncSession, scope: str, key: str, request_hash: str, issue_id: str
) -> bool:
    """Remember what a key created; False when the key was already taken (the first one wins)."""
    values = {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "issue_id": issue_id,
        "created_at": utcnow(),
    }
    added = await insert_if_absent(
        session, IdempotencyKeyRow, values, [IdempotencyKeyRow.scope, IdempotencyKeyRow.key]
    )
    return added == 1
