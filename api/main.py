"""Builds the FastAPI application (no engine, client or settings created at import time)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp

from api import middleware
from api.deps import require_admin
from api.errors import install_error_handlers, problem_response
from api.middleware import BodyRefused
from api.openapi import install_openapi
from api.ratelimit import TooManyFailedAttempts
from api.routes import (
    attachments,
    dispatch,
    health,
    issue_dispatch,
    issue_page,
    issues,
    knowledge,
    onsite,
    reference,
    sla,
    stats,
    tracker,
)
from api.state import AppState
from api.temporal_gateway import CommandAccepted, TemporalGateway
from config.settings import Exposure, Settings, get_settings
from db.session import Database
from web.app import install_web


def operation_id(route: APIRoute) -> str:
    """Stable OpenAPI operation ids (tag-name), so generated clients keep their method names."""
    tag = route.tags[0] if route.tags else "default"
    return f"{str(tag).replace(' ', '_')}-{route.name}"


class ItrApi(FastAPI):
    """FastAPI with the bounds and security headers wrapped around everything it answers,
    Starlette's own 500 answer included (user middleware would sit inside that one)."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.itr_settings = settings

    def build_middleware_stack(self) -> ASGIApp:
        return middleware.wrap(super().build_middleware_stack(), self.itr_settings)


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """The API; `state` lets tests and the dev stack share a Database or Temporal client."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = state is None
        app_state = state or AppState(
            settings=settings,
            db=Database.from_settings(settings),
            temporal=TemporalGateway(settings),
        )
        app.state.itr = app_state
        try:
            yield
        finally:
            if owned:
                await app_state.db.dispose()

    app = ItrApi(
        settings,
        title="ITR — Issue to Resolution",
        version="0.1.0",
        description="Durable after-sales issue handling: every issue is a Temporal workflow.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # A redirect to the slash-less path is built from the Host header: never echo it.
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if state is not None:
        app.state.itr = state  # usable without the lifespan (e.g. an in-process ASGI client)
    install_error_handlers(app)
    install_openapi(app)
    _install_bound_handlers(app, settings)
    app.include_router(health.router)
    # Before the issues router: /issues/bulk/assign is not /issues/{issue_id}/assign.
    app.include_router(issue_dispatch.router)
    app.include_router(issues.router)
    app.include_router(issue_page.router)
    app.include_router(attachments.router)
    app.include_router(reference.router)
    app.include_router(dispatch.router)
    app.include_router(sla.router)
    app.include_router(stats.router)
    app.include_router(tracker.router)
    app.include_router(onsite.router)
    app.include_router(knowledge.router)
    install_web(app)
    _operator_endpoints(app, settings)
    return app


def _install_bound_handlers(app: FastAPI, settings: Settings) -> None:
    retry_after = str(max(1, int(settings.retry_after.total_seconds())))

    @app.exception_handler(CommandAccepted)
    async def _accepted(request: Request, exc: CommandAccepted) -> JSONResponse:
        location = f"/issues/{exc.issue_id}"
        return JSONResponse(
            {
                "status": "accepted",
                "issue_id": exc.issue_id,
                "detail": (
                    "the issue accepted the command and is still applying it; see "
                    f"{location}, or retry with the same Idempotency-Key for its result"
                ),
            },
            status_code=202,
            headers={"Location": location, "Retry-After": retry_after},
        )

    @app.exception_handler(TooManyFailedAttempts)
    async def _too_many(request: Request, exc: TooManyFailedAttempts) -> JSONResponse:
        return problem_response(
            request,
            429,
            "Too Many Requests",
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(BodyRefused)
    async def _body(request: Request, exc: BodyRefused) -> JSONResponse:
        return problem_response(
            request, exc.status_code, exc.title, str(exc.detail), headers={"Connection": "close"}
        )


def _operator_endpoints(app: FastAPI, settings: Settings) -> None:
    """/docs, /redoc, /openapi.json and /metrics: public, for admin tokens, or absent (404)."""

    def guard(exposure: Exposure) -> list[Any]:
        return [Depends(require_admin)] if exposure == "admin" else []

    docs = settings.docs_exposure
    if docs != "off":

        @app.get("/openapi.json", include_in_schema=False, dependencies=guard(docs))
        async def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", include_in_schema=False, dependencies=guard(docs))
        async def swagger() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

        @app.get("/redoc", include_in_schema=False, dependencies=guard(docs))
        async def redoc() -> HTMLResponse:
            return get_redoc_html(openapi_url="/openapi.json", title=app.title)

    metrics = settings.metrics_exposure
    if metrics != "off":

        @app.get("/metrics", include_in_schema=False, dependencies=guard(metrics))
        async def prometheus() -> Response:
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
