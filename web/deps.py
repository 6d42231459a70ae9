"""Who is looking at a page (session, language, timezone) and the CSRF check of every
state-changing request.

CSRF: a signed-in browser's forms carry its session's synchronizer token; before sign-in
(the sign-in and language forms) the token is a double-submit cookie. Forms send it as the
`csrf_token` field, htmx requests as the `X-CSRF-Token` header (set once on `<body>`).
The check is a dependency of the whole web router, so no state-changing route can forget it.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from api.auth import Principal
from api.deps import SessionDep, StateDep
from api.services import accounts
from web.i18n import Formats, choose_locale, choose_timezone

SESSION_COOKIE = "itr_session"
CSRF_COOKIE = "itr_csrf"
LOCALE_COOKIE = "itr_locale"
TIMEZONE_COOKIE = "itr_tz"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """The page needs a signed-in person: answered with a redirect to the sign-in page."""


class CsrfRefused(Exception):
    """A state-changing request without the right CSRF token: answered 403, nothing done."""


class PageForbidden(Exception):
    """Signed in, but this part of the workspace is not for the person's role (403)."""


@dataclass(frozen=True)
class Viewer:
    """The person (or anonymous visitor) a page is rendered for."""

    signed_in: accounts.SignedIn | None
    csrf_token: str
    new_csrf_cookie: bool
    locale: str
    timezone: ZoneInfo

    @property
    def principal(self) -> Principal:
        if self.signed_in is None:
            raise SignInRequired()
        return self.signed_in.principal

    @property
    def formats(self) -> Formats:
        return Formats(self.locale, self.timezone)


async def get_viewer(request: Request, state: StateDep, session: SessionDep) -> Viewer:
    """Resolved once per request (FastAPI caches a dependency within one request)."""
    signed_in = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw and len(raw) <= 128:
        signed_in = await accounts.resolve_session(session, raw, datetime.now(UTC))
    if signed_in is not None:
        csrf, new_cookie = signed_in.csrf_token, False
    else:
        cookie = request.cookies.get(CSRF_COOKIE)
        if cookie and 20 <= len(cookie) <= 128:
            csrf, new_cookie = cookie, False
        else:
            csrf, new_cookie = secrets.token_urlsafe(32), True
    preference = signed_in.locale if signed_in else None
    locale = choose_locale(
        request.cookies.get(LOCALE_COOKIE), preference, request.headers.get("accept-language")
    )
    timezone = choose_timezone(
        signed_in.timezone if signed_in else None, unquote(request.cookies.get(TIMEZONE_COOKIE, ""))
    )
    return Viewer(signed_in, csrf, new_cookie, locale, timezone)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def verify_csrf(request: Request, viewer: ViewerDep) -> None:
    """Router dependency: refuse any unsafe method whose token does not match."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # cached on the request: the route reads the same form
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if viewer.new_csrf_cookie or not sent or not secrets.compare_digest(sent, viewer.csrf_token):
        raise CsrfRefused()


def signed_in_principal(viewer: ViewerDep) -> Principal:
    return viewer.principal


PrincipalPage = Annotated[Principal, Depends(signed_in_principal)]
