"""One error format everywhere (RFC 9457 problem+json), and the mapping of failures to it.

No handler ever returns a stack trace: unexpected errors are logged with their trace and
answered with a 500 problem that carries only a correlation id.
"""

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.session import database_busy

log = structlog.get_logger("itr.api")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the API answers on purpose, with its HTTP status."""

    def __init__(
        self, status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors


def not_found(what: str) -> Problem:
    return Problem(404, "Not Found", f"{what} does not exist")


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


def unavailable(detail: str) -> Problem:
    return Problem(503, "Service Unavailable", detail)


def invalid(field: str, message: str) -> Problem:
    """A 422 about one field of the body that only the server can judge (e.g. unknown id)."""
    return Problem(
        422,
        "Unprocessable Content",
        f"{field}: {message}",
        errors=[{"loc": field, "msg": message, "type": "value_error"}],
    )


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return problem_response(request, exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": _field_path(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        return problem_response(request, 422, "Unprocessable Content", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request,
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(ConnectionError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", error=repr(exc)[:300])
        return problem_response(
            request,
            503,
            "Service Unavailable",
            "the database is unreachable; nothing was changed, retry later",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated or database_busy(exc):
            return await _database_down(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error", incident=incident, path=request.url.path, exc_info=exc)
        return problem_response(
            request, 500, "Internal Server Error", f"unexpected error (incident {incident})"
        )
