"""Mounts the web workspace on the API application: pages, static files, and the answers
to the web's own refusals (sign in first, CSRF, wrong role, unknown page)."""

import inspect
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import Problem
from web.deps import (
    LOCALE_COOKIE,
    CsrfRefused,
    PageForbidden,
    SignInRequired,
    Viewer,
)
from web.i18n import choose_locale, choose_timezone
from web.routes import account, admin, agent, knowledge, manage, portal
from web.templating import render

STATIC = Path(__file__).parent / "static"


def bare_viewer(request: Request) -> Viewer:
    """The viewer of an error page, from cookies and headers alone (no database)."""
    locale = choose_locale(
        request.cookies.get(LOCALE_COOKIE), None, request.headers.get("accept-language")
    )
    return Viewer(None, "", False, locale, choose_timezone(None, None))


PAGE_PREFIXES = (
    "/portal",
    "/signin",
    "/signout",
    "/language",
    "/workspace",
    "/manage",
    "/admin",
)


def is_page(request: Request) -> bool:
    """A request for a web page (answered in HTML), not for the JSON API."""
    path = request.url.path
    return path == "/" or path.startswith(PAGE_PREFIXES)


def install_web(app: FastAPI) -> None:
    """After `install_error_handlers`: a Problem raised for a page is answered as a page."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(account.router)
    app.include_router(portal.router)
    app.include_router(agent.router)
    app.include_router(knowledge.portal_router)
    app.include_router(knowledge.workspace_router)
    app.include_router(manage.router)
    app.include_router(admin.router)
    json_problem = app.exception_handlers[Problem]
    json_invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        """A page's form or query the route could not even parse (a field far too long)."""
        if not is_page(request):
            answer = json_invalid(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return render(
            request,
            bare_viewer(request),
            request.app.state.itr.settings,
            "error.html",
            {"error": "invalid"},
            status_code=422,
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        if not is_page(request):
            answer = json_problem(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        kinds = {404: "not_found", 503: "unavailable"}
        response = render(
            request,
            bare_viewer(request),
            request.app.state.itr.settings,
            "error.html",
            {"error": kinds.get(exc.status, "problem"), "detail": exc.detail},
            status_code=exc.status,
        )
        if exc.status == 503:
            response.headers["Retry-After"] = "5"
        return response

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
