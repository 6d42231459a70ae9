"""The published document says what the server sends (checked without a server; the
contract test in tests/contract checks it against real answers)."""

from typing import Any

from api.main import create_app
from api.openapi import ISO_DURATION_PATTERN, TIME_OF_DAY_PATTERN
from config.settings import Settings


def document() -> dict[str, Any]:
    return create_app(Settings(environment="test")).openapi()


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


def test_every_error_answer_is_documented_as_problem_json() -> None:
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_commands_document_conflict_not_found_and_unavailable_with_retry_after() -> None:
    responses = document()["paths"]["/issues/{issue_id}/acknowledge"]["post"]["responses"]
    assert {"404", "409", "422", "503", "401", "403"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]
    assert responses["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CommandAccepted"
    )


def test_authenticated_operations_declare_the_bearer_scheme() -> None:
    spec = document()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/issues"]["get"]["security"] == [{"HTTPBearer": []}]
    parameters = spec["paths"]["/issues"]["get"].get("parameters", [])
    assert "authorization" not in {p["name"].lower() for p in parameters}
    assert "security" not in spec["paths"]["/tracker/jira/webhook"]["post"]


def test_object_keys_are_strings_and_times_and_durations_match_what_is_sent() -> None:
    nodes = walk(document())
    key_schemas = [n["propertyNames"] for n in nodes if "propertyNames" in n]
    assert key_schemas and all(k["type"] == "string" for k in key_schemas)
    assert {"type": "string", "enum": ["1", "2", "3"]} in key_schemas  # tier budgets
    assert not [n for n in nodes if n.get("format") in ("time", "duration")]
    assert any(n.get("pattern") == TIME_OF_DAY_PATTERN for n in nodes)
    assert any(n.get("pattern") == ISO_DURATION_PATTERN for n in nodes)


def test_a_create_retried_with_its_idempotency_key_documents_the_replayed_answer() -> None:
    responses = document()["paths"]["/issues"]["post"]["responses"]
    assert responses["200"]["content"] == responses["201"]["content"]
