"""Web sign-in: passwords, lock-out, server-side sessions, and the Principal they resolve to.

A signed-in person resolves to the same `Principal` a bearer token does (role, organisation,
engineer), so every service applies one set of rules whichever door the caller came in by.
Failures count twice: per user (consecutive failures lock the account for a while) and per
client address (the `limits` window the API's bearer tokens use), so neither guessing one
password nor spraying many accounts from one address pays.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.ratelimit import AuthFailureLimiter
from config.settings import Settings
from db.models import UserRow
from db.passwords import burn_verification, verify_password
from db.repositories import users as user_repo


class RefusalReason(StrEnum):
    INVALID = "invalid"
    LOCKED = "locked"


class SignInRefused(Exception):
    """Wrong credentials, or an account locked until `locked_until`."""

    def __init__(self, reason: RefusalReason, locked_until: datetime | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.locked_until = locked_until


@dataclass(frozen=True)
class SignedIn:
    """A live session: who it is, the preferences the pages use, and its CSRF token."""

    principal: Principal
    user_id: str
    display_name: str
    locale: str | None
    timezone: str | None
    csrf_token: str


def principal_for(user: UserRow) -> Principal:
    """The user as a caller: the same fields a bearer token carries."""
    return Principal(
        token_id=user.id,
        role=user.role,
        name=user.display_name,
        organisation_id=user.organisation_id,
        engineer_id=user.engineer_id,
    )


def _signed_in(user: UserRow, csrf_token: str) -> SignedIn:
    return SignedIn(
        principal=principal_for(user),
        user_id=user.id,
        display_name=user.display_name,
        locale=user.locale,
        timezone=user.timezone,
        csrf_token=csrf_token,
    )


async def sign_in(
    session: AsyncSession,
    settings: Settings,
    limiter: AuthFailureLimiter,
    client: str,
    username: str,
    password: str,
    now: datetime,
    replaces: str | None = None,
) -> tuple[str, SignedIn]:
    """(the new session's cookie token, the session) or SignInRefused / TooManyFailedAttempts.

    A locked account is refused without looking at the password, so the lock cannot be
    used to test guesses; reaching the limit ends the account's other sessions too. A
    successful sign-in always starts a new session (and ends the one it `replaces`), so a
    session token planted before sign-in is worth nothing after it.
    """
    await limiter.refuse_if_blocked(client)
    user = await user_repo.find_user(session, username)
    if user is None:
        burn_verification(password)
        await session.commit()
        await limiter.failed(client)
        raise SignInRefused(RefusalReason.INVALID)
    if user.locked_until is not None and user.locked_until > now:
        await session.commit()
        raise SignInRefused(RefusalReason.LOCKED, user.locked_until)
    matches, rehashed = verify_password(password, user.password_hash)
    if not matches:
        user.failed_attempts += 1
        locked_until = None
        if user.failed_attempts >= settings.signin_lockout_attempts:
            locked_until = now + settings.signin_lockout_time
            user.locked_until, user.failed_attempts = locked_until, 0
            await user_repo.delete_user_sessions(session, user.id)
        await session.commit()
        await limiter.failed(client)
        if locked_until is not None:
            raise SignInRefused(RefusalReason.LOCKED, locked_until)
        raise SignInRefused(RefusalReason.INVALID)
    if rehashed is not None:
        user.password_hash = rehashed
    user.failed_attempts, user.locked_until = 0, None
    raw_token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await user_repo.delete_expired_sessions(session, now)
    if replaces is not None:
        await user_repo.delete_session(session, replaces)
    await user_repo.create_session(
        session, raw_token, user.id, csrf_token, now + settings.web_session_lifetime
    )
    signed_in = _signed_in(user, csrf_token)
    await session.commit()
    return raw_token, signed_in


async def resolve_session(session: AsyncSession, raw_token: str, now: datetime) -> SignedIn | None:
    """The session a cookie names, if it is live."""
    found = await user_repo.find_session(session, raw_token, now)
    await session.commit()
    if found is None:
        return None
    web_session, user = found
    return _signed_in(user, web_session.csrf_token)


async def sign_out(session: AsyncSession, raw_token: str) -> None:
    await user_repo.delete_session(session, raw_token)
    await session.commit()


async def save_preferences(
    session: AsyncSession, user_id: str, *, locale: str | None = None, timezone: str | None = None
) -> None:
    """Remember a signed-in person's language or timezone choice (None leaves it as is)."""
    user = await user_repo.get_user(session, user_id)
    if user is not None:
        if locale is not None:
            user.locale = locale
        if timezone is not None:
            user.timezone = timezone
    await session.commit()


def lockout_remaining(refused: SignInRefused, now: datetime) -> timedelta:
    """How long a locked-out person still waits (zero when not locked)."""
    if refused.locked_until is None:
        return timedelta(0)
    return max(timedelta(0), refused.locked_until - now)
