"""The Jira REST API v2 subset the `jira` library calls for ITR, as a FastAPI app over JiraState."""

import base64
import binascii
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Scope

from jira_test_server.faults import FaultInjectionMiddleware, FaultPlan, RecordedRequest
from jira_test_server.records import NOT_AUTHENTICATED, JiraApiError
from jira_test_server.spec import UserSpec
from jira_test_server.state import JiraState

API = "/rest/api/2"
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
)


def _credentials(header: str | None) -> tuple[tuple[str, str] | None, str | None]:
    if not header:
        return None, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return None, value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, secret = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return (user, secret), None
    return None, None


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "strict", "1")


def _fields_param(values: list[str] | Any) -> list[str] | None:
    if values is None or values == []:
        return None
    items = values if isinstance(values, list) else [values]
    return [str(v) for v in items]


def build_app(state: JiraState) -> FastAPI:
    """Routes for serverInfo, myself, field, project, priority, status, resolution, issue,
    comment, transitions, remotelink, search and search/jql, and the applinks list."""
    app = FastAPI(title="Jira test server", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(JiraApiError)
    async def jira_error(request: Request, exc: JiraApiError) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": 'Basic realm="protected-area"'} if exc.status == 401 else None
        )
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    def user_of(request: Request) -> UserSpec:
        basic, bearer = _credentials(request.headers.get("authorization"))
        user = state.user_by_credentials(basic, bearer)
        if user is None:
            raise JiraApiError(401, [NOT_AUTHENTICATED])
        return user

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            parsed = await request.json()
        except ValueError as exc:
            raise JiraApiError(400, ["Unexpected character in the request body."]) from exc
        if not isinstance(parsed, dict):
            raise JiraApiError(400, ["The request body must be a JSON object."])
        return parsed

    @app.get(f"{API}/serverInfo")
    async def server_info() -> dict[str, Any]:
        return state.json.server_info(state.clock.now())

    @app.get(f"{API}/myself")
    async def myself(request: Request) -> dict[str, Any]:
        return state.json.user_json(user_of(request))

    @app.get(f"{API}/field")
    async def fields(request: Request) -> list[dict[str, Any]]:
        user_of(request)
        return state.json.fields()

    @app.get(f"{API}/project")
    async def projects(request: Request) -> list[dict[str, Any]]:
        user_of(request)
        return state.json.projects()

    @app.get(f"{API}/project/{{key}}")
    async def project(request: Request, key: str) -> dict[str, Any]:
        user_of(request)
        return state.project(key)

    @app.get(f"{API}/priority")
    async def priorities(request: Request) -> list[dict[str, Any]]:
        user_of(request)
        return state.json.priorities()

    @app.get(f"{API}/status")
    async def statuses(request: Request) -> list[dict[str, Any]]:
        user_of(request)
        return state.json.statuses()

    @app.get(f"{API}/resolution")
    async def resolutions(request: Request) -> list[dict[str, Any]]:
        user_of(request)
        return state.json.resolutions()

    @app.get("/rest/applinks/latest/listApplicationlinks")
    async def application_links(request: Request) -> dict[str, Any]:
        user_of(request)
        return {"list": []}

    @app.post(f"{API}/issue")
    async def create_issue(request: Request) -> JSONResponse:
        user = user_of(request)
        return JSONResponse(state.create_issue(user, await json_body(request)), status_code=201)

    @app.get(f"{API}/issue/{{key}}")
    async def get_issue(request: Request, key: str) -> dict[str, Any]:
        user_of(request)
        wanted = request.query_params.getlist("fields")
        with state.lock:
            return state.json.issue_json(state.issue(key), wanted or None)

    @app.put(f"{API}/issue/{{key}}")
    async def edit_issue(request: Request, key: str) -> Response:
        user = user_of(request)
        state.edit_issue(user, key, await json_body(request))
        return Response(status_code=204)

    @app.get(f"{API}/issue/{{key}}/comment")
    async def comments(
        request: Request, key: str, startAt: int = 0, maxResults: int = 5000, orderBy: str = ""
    ) -> dict[str, Any]:
        user_of(request)
        return state.list_comments(key, startAt, maxResults, orderBy or None)

    @app.post(f"{API}/issue/{{key}}/comment")
    async def add_comment(request: Request, key: str) -> JSONResponse:
        user = user_of(request)
        created = state.add_comment(user, key, await json_body(request))
        return JSONResponse(created, status_code=201)

    @app.get(f"{API}/issue/{{key}}/transitions")
    async def transitions(request: Request, key: str, expand: str = "") -> dict[str, Any]:
        user_of(request)
        return state.transitions(key, "transitions.fields" in expand)

    @app.post(f"{API}/issue/{{key}}/transitions")
    async def do_transition(request: Request, key: str) -> Response:
        user = user_of(request)
        state.do_transition(user, key, await json_body(request))
        return Response(status_code=204)

    @app.get(f"{API}/issue/{{key}}/remotelink")
    async def remote_links(request: Request, key: str) -> list[dict[str, Any]]:
        user_of(request)
        return state.remote_links(key)

    @app.post(f"{API}/issue/{{key}}/remotelink")
    async def add_remote_link(request: Request, key: str) -> JSONResponse:
        user = user_of(request)
        body, created = state.add_remote_link(user, key, await json_body(request))
        return JSONResponse(body, status_code=201 if created else 200)

    async def search(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        user = user_of(request)
        if state.spec.deployment_type == "Cloud":
            raise JiraApiError(410, [SEARCH_REMOVED])
        return state.search(
            user,
            str(params.get("jql") or ""),
            int(params.get("startAt") or 0),
            min(int(params.get("maxResults") or 50), 100),
            _fields_param(params.get("fields")),
            _flag(params.get("validateQuery"), default=True),
        )

    @app.get(f"{API}/search")
    async def search_get(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        params["fields"] = request.query_params.getlist("fields")
        return await search(request, params)

    @app.post(f"{API}/search")
    async def search_post(request: Request) -> dict[str, Any]:
        return await search(request, await json_body(request))

    async def search_jql(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        user = user_of(request)
        if state.spec.deployment_type != "Cloud":
            raise JiraApiError(404, ["null for uri: /rest/api/2/search/jql"])
        return state.search_jql(
            user,
            str(params.get("jql") or ""),
            params.get("nextPageToken") or None,
            min(int(params.get("maxResults") or 50), 100),
            _fields_param(params.get("fields")),
        )

    @app.get(f"{API}/search/jql")
    async def search_jql_get(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        params["fields"] = request.query_params.getlist("fields")
        return await search_jql(request, params)

    @app.post(f"{API}/search/jql")
    async def search_jql_post(request: Request) -> dict[str, Any]:
        return await search_jql(request, await json_body(request))

    return app


def build_asgi(
    state: JiraState,
    plan: FaultPlan,
    log: list[RecordedRequest],
    drop_connection: Callable[[Scope], bool],
) -> ASGIApp:
    """The app wrapped in fault injection and request recording."""
    return FaultInjectionMiddleware(build_app(state), plan, log, drop_connection)
