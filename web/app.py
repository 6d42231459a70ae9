"""Mounts the web workspace on the API application: pages, static files, and the answers
to the web's own refusals (sign in first, CSRF, wrong role, unknown page)."""

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from web.deps import (
    LOCALE_COOKIE,
    CsrfRefused,
    PageForbidden,
    SignInRequired,
    Viewer,
)
from web.i18n import choose_locale, choose_timezone
from web.routes import account, agent, portal
from web.templating import render

STATIC = Path(__file__).parent / "static"


def bare_viewer(request: Request) -> Viewer:
    """The viewer of an error page, from cookies and headers alone (no database)."""
    locale = choose_locale(
        request.cookies.get(LOCALE_COOKIE), None, request.headers.get("accept-language")
    )
    return Viewer(None, "", False, locale, choose_timezone(None, None))


def install_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(account.router)
    app.include_router(portal.router)
    app.include_router(agent.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/signin"})
        return RedirectResponse(
            f"/signin?next={quote(target, safe='')}", status_code=status.HTTP_303_SEE_OTHER
        )

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> HTMLResponse:
        settings = request.app.state.itr.settings
        return render(
            request,
            bare_viewer(request),
            settings,
            "error.html",
            {"error": "csrf"},
            status_code=status.HTTP_403_FORBIDDEN,
        )

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> HTMLResponse:
        settings = request.app.state.itr.settings
        return render(
            request,
            bare_viewer(request),
            settings,
            "error.html",
            {"error": "forbidden"},
            status_code=status.HTTP_403_FORBIDDEN,
        )
