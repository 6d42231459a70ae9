"""Builds the FastAPI application (no engine, client or settings created at import time)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import make_asgi_app

from api.errors import install_error_handlers
from api.openapi import install_openapi
from api.routes import health, issues, reference, sla, tracker
from api.state import AppState
from api.temporal_gateway import TemporalGateway
from config.settings import Settings, get_settings
from db.session import Database


def operation_id(route: APIRoute) -> str:
    """Stable OpenAPI operation ids (tag-name), so generated clients keep their method names."""
    tag = route.tags[0] if route.tags else "default"
    return f"{str(tag).replace(' ', '_')}-{route.name}"


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """The API; `state` lets tests and the dev stack share a Database or Temporal client."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = state is None
        app_state = state or AppState(
            settings=settings,
            db=Database(settings.database_url),
            temporal=TemporalGateway(settings),
        )
        app.state.itr = app_state
        try:
            yield
        finally:
            if owned:
                await app_state.db.dispose()

    app = FastAPI(
        title="ITR — Issue to Resolution",
        version="0.1.0",
        description="Durable after-sales issue handling: every issue is a Temporal workflow.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    if state is not None:
        app.state.itr = state  # usable without the lifespan (e.g. an in-process ASGI client)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(issues.router)
    app.include_router(reference.router)
    app.include_router(sla.router)
    app.include_router(tracker.router)
    app.mount("/metrics", make_asgi_app())
    return app
