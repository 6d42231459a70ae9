"""Sign-in, sign-out, the language switch and the home page each role lands on."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep, StateDep
from api.ratelimit import TooManyFailedAttempts
from api.services import accounts
from domain.enums import Role
from web.deps import LOCALE_COOKIE, SESSION_COOKIE, ViewerDep, verify_csrf
from web.i18n import LOCALES
from web.templating import render, set_cookie

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

CUSTOMER_HOME = "/portal"


def home_for(role: Role) -> str:
    return CUSTOMER_HOME if role == Role.CUSTOMER else "/workspace"


def safe_next(target: str | None, fallback: str) -> str:
    """Only a path of this site: a sign-in link can never send someone elsewhere."""
    if not target or len(target) > 500:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


@router.get("/", response_model=None)
async def home(viewer: ViewerDep) -> Response:
    if viewer.signed_in is None:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    return RedirectResponse(
        home_for(viewer.signed_in.principal.role), status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    request: Request, viewer: ViewerDep, state: StateDep, next: str | None = None
) -> HTMLResponse:
    return render(
        request, viewer, state.settings, "signin.html", {"next": safe_next(next, ""), "error": None}
    )


@router.post("/signin", response_model=None)
async def signin(
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A wrong password is answered like an unknown user; a lock names its remaining time."""
    client = request.client.host if request.client else "unknown"
    now = datetime.now(UTC)
    error: dict[str, object]
    try:
        raw, signed_in = await accounts.sign_in(
            session,
            state.settings,
            state.auth_failures,
            client,
            username,
            password,
            now,
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except accounts.SignInRefused as refused:
        if refused.reason == accounts.RefusalReason.LOCKED:
            remaining = accounts.lockout_remaining(refused, now)
            error = {"kind": "locked", "remaining": viewer.formats.duration(remaining)}
            code = status.HTTP_423_LOCKED
        else:
            error, code = {"kind": "invalid"}, status.HTTP_401_UNAUTHORIZED
        return render(
            request,
            viewer,
            state.settings,
            "signin.html",
            {"next": safe_next(next, ""), "error": error, "username": username},
            status_code=code,
        )
    except TooManyFailedAttempts as blocked:
        error = {"kind": "throttled", "seconds": blocked.retry_after}
        response = render(
            request,
            viewer,
            state.settings,
            "signin.html",
            {"next": safe_next(next, ""), "error": error, "username": username},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        )
        response.headers["Retry-After"] = str(blocked.retry_after)
        return response
    target = safe_next(next, home_for(signed_in.principal.role))
    redirect = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    lifetime = int(state.settings.web_session_lifetime.total_seconds())
    set_cookie(redirect, state.settings, SESSION_COOKIE, raw, max_age=lifetime)
    return redirect


@router.post("/signout", response_model=None)
async def signout(request: Request, state: StateDep, session: SessionDep) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await accounts.sign_out(session, raw)
    redirect = RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    redirect.delete_cookie(SESSION_COOKIE, path="/")
    return redirect


@router.post("/language", response_model=None)
async def choose_language(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    locale: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """The visible switch: a cookie for everyone, and the preference of a signed-in person."""
    redirect = RedirectResponse(safe_next(next, "/"), status_code=status.HTTP_303_SEE_OTHER)
    if locale not in LOCALES:
        return redirect
    if viewer.signed_in is not None:
        await accounts.save_preferences(session, viewer.signed_in.user_id, locale=locale)
    set_cookie(redirect, state.settings, LOCALE_COOKIE, locale, max_age=365 * 24 * 3600)
    return redirect
