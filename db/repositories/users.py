"""People who sign in to the web workspace, and their browser sessions (server-side)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import UserRow, WebSessionRow
from db.repositories.reference import hash_token
from domain.enums import Role


async def create_user(
    session: AsyncSession,
    *,
    user_id: str,
    username: str,
    password_hash: str,
    role: Role,
    display_name: str,
    organisation_id: str | None = None,
    engineer_id: str | None = None,
    email: str | None = None,
    locale: str | None = None,
    timezone: str | None = None,
) -> UserRow:
    row = UserRow(
        id=user_id,
        username=username.casefold(),
        password_hash=password_hash,
        role=role,
        display_name=display_name,
        organisation_id=organisation_id,
        engineer_id=engineer_id,
        email=email,
        locale=locale,
        timezone=timezone,
        failed_attempts=0,
    )
    session.add(row)
    await session.flush()
    return row


async def find_user(session: AsyncSession, username: str) -> UserRow | None:
    """The enabled user signing in as `username` (case-insensitive)."""
    result = await session.scalars(
        sa.select(UserRow).where(
            UserRow.username == username.strip().casefold(), UserRow.disabled_at.is_(None)
        )
    )
    return result.first()


async def get_user(session: AsyncSession, user_id: str) -> UserRow | None:
    return await session.get(UserRow, user_id)


async def create_session(
    session: AsyncSession, raw_token: str, user_id: str, csrf_token: str, expires_at: datetime
) -> WebSessionRow:
    row = WebSessionRow(
        id=hash_token(raw_token), user_id=user_id, csrf_token=csrf_token, expires_at=expires_at
    )
    session.add(row)
    await session.flush()
    return row


async def find_session(
    session: AsyncSession, raw_token: str, now: datetime
) -> tuple[WebSessionRow, UserRow] | None:
    """The live session a cookie names, with its (enabled) user."""
    result = await session.execute(
        sa.select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(
            WebSessionRow.id == hash_token(raw_token),
            WebSessionRow.expires_at > now,
            UserRow.disabled_at.is_(None),
        )
    )
    found = result.first()
    return None if found is None else (found[0], found[1])


async def delete_session(session: AsyncSession, raw_token: str) -> None:
    await session.execute(sa.delete(WebSessionRow).where(WebSessionRow.id == hash_token(raw_token)))


async def delete_user_sessions(session: AsyncSession, user_id: str) -> None:
    """Every session of a user (a lock-out or a password change ends them all)."""
    await session.execute(sa.delete(WebSessionRow).where(WebSessionRow.user_id == user_id))


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(sa.delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
