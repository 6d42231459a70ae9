"""The OpenAPI document as the server really answers, so generated clients and contract
tests (schemathesis in CI) can trust it.

FastAPI documents only the success response and a JSON 422; the server also answers
problem+json for 401/403/404/409/413/422/429/503, sends dictionary keys as strings and
times of day without a zone. This module rewrites the generated document once, from the
routes themselves: which statuses an operation can answer follows from what it is
(authenticated or not, has path parameters, changes state, takes a body).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
# What pydantic's `time` really serialises to (no zone), which JSON Schema's `time` refuses.
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"
# ISO 8601 durations as pydantic writes them: fractional seconds, which RFC 3339's
# `duration` format (what JSON Schema validators check) does not allow.
ISO_DURATION_PATTERN = (
    r"^-?P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?"
    r"(T([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?$"
)
STATE_CHANGING = {"post", "put", "patch", "delete"}
# Commands that run as Temporal Updates, which may be accepted but not yet applied (202).
COMMAND_RESPONSES = (
    "CommandResponse",
    "VisitDispatched",
    "PartRequested",
    "VisitCommandResponse",
    "PartCommandResponse",
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each invalid field by its path.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "string", "description": "e.g. body.severity"},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

ERROR_DESCRIPTIONS = {
    400: "the body is not parseable (e.g. not JSON, or not UTF-8)",
    401: "missing, malformed or unknown credentials",
    403: "the caller's role may not do this, or (a command) the caller may not act on this "
    "issue: only its owner, the owning team's manager or a dispatcher may; `detail` says who",
    404: "no such resource (or not visible to the caller)",
    408: "the request body did not arrive in time",
    409: "the resource's state does not allow this; `detail` says why",
    413: "the request body is too large",
    422: "invalid input; `errors` names each field by its path",
    429: "too many failed authentication attempts; retry after `Retry-After` seconds",
    503: "a dependency (database, Temporal) is unreachable or did not answer in time; "
    "retry after `Retry-After` seconds (commands with the same Idempotency-Key apply once)",
}
COMMAND_ACCEPTED_SCHEMA: dict[str, Any] = {
    "title": "CommandAccepted",
    "type": "object",
    "required": ["status", "issue_id", "detail"],
    "properties": {
        "status": {"type": "string", "enum": ["accepted"]},
        "issue_id": {"type": "string"},
        "detail": {"type": "string"},
    },
}
COMMAND_ACCEPTED: dict[str, Any] = {
    "description": "the issue took the command but did not finish it within ITR_COMMAND_TIMEOUT; "
    "see `Location`, or retry with the same Idempotency-Key for the result",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommandAccepted"}}},
    "headers": {
        "Location": {"description": "the issue", "schema": {"type": "string"}},
        "Retry-After": {"description": "seconds", "schema": {"type": "integer"}},
    },
}
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` by the honest document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            describe_errors(document)
            fix_formats(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe_errors(document: dict[str, Any]) -> None:
    """Every operation lists the problem+json answers it can give, and only problem+json."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in error_statuses(path, method, operation):
                responses[str(status)] = problem_response(status)
            replayed = idempotent_replay(operation)
            if replayed is not None:
                responses.setdefault("200", replayed)
            if any(_answers_with(operation, name) for name in COMMAND_RESPONSES):
                responses["202"] = COMMAND_ACCEPTED
        schemas["CommandAccepted"] = COMMAND_ACCEPTED_SCHEMA


def _answers_with(operation: dict[str, Any], schema_name: str) -> bool:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return bool(ref == f"#/components/schemas/{schema_name}")


def idempotent_replay(operation: dict[str, Any]) -> dict[str, Any] | None:
    """A create retried with its Idempotency-Key answers 200 with the first result."""
    created = operation.get("responses", {}).get("201")
    keyed = any(
        p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
        for p in operation.get("parameters", [])
    )
    if created is None or not keyed:
        return None
    return {
        "description": "a retry with the same Idempotency-Key: the first answer, again "
        "(header `Idempotent-Replayed: true`)",
        "content": created.get("content", {}),
    }


BODY_NAMES_A_RESOURCE = frozenset({"/routing/dry-run"})
"""Operations without a path parameter whose body may name something that does not exist
(the dry run of an issue id)."""


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses this operation can answer, from what kind of operation it is."""
    if path == "/healthz":
        return []
    if path == "/readyz":
        return [503]
    statuses = {422, 503}
    if operation.get("security"):
        statuses |= {401, 403, 429}
    elif "webhook" in path:
        statuses |= {401, 404}  # a missing or wrong signature; the tracker is not configured
    if "{" in path or path in BODY_NAMES_A_RESOURCE:
        statuses.add(404)
    if method in STATE_CHANGING:
        statuses |= {409, 413}
    if "requestBody" in operation:
        statuses |= {400, 408}
    return sorted(statuses)


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER_HEADER
    return response


def fix_formats(document: dict[str, Any]) -> None:
    """JSON object keys are strings, and times of day carry no zone: say so."""
    schemas = document.get("components", {}).get("schemas", {})

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            names = node.get("propertyNames")
            if isinstance(names, dict):
                node["propertyNames"] = string_keys(names, schemas)
            if node.get("type") == "string" and node.get("format") == "time":
                node["format"] = "partial-time"
                node["pattern"] = TIME_OF_DAY_PATTERN
            if node.get("type") == "string" and node.get("format") == "duration":
                node["format"] = "iso8601-duration"
                node["pattern"] = ISO_DURATION_PATTERN
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)


def string_keys(names: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The key schema as JSON sends it: an integer enum (severity 1-4) becomes its digits."""
    target = names
    ref = names.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        target = schemas.get(ref.rsplit("/", 1)[-1], {})
    values = target.get("enum")
    if isinstance(values, list):
        return {"type": "string", "enum": [str(v) for v in values]}
    return {"type": "string"}
