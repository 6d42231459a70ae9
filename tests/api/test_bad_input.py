"""Bad input is a clear 4xx at the field it is about, and nothing is half-written.

Each case was found by probing the running stack (issue 8): text the database refuses,
values coerced into meaning something else, keys reused for other requests, ids created
twice at once, a blank reason the domain refuses, a cursor nested to exhaust the decoder.
On SQLite and PostgreSQL, with a fake Temporal that records what was started.
"""

import asyncio
import base64
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from db.models import IdempotencyKeyRow, IssueRow
from db.session import Database
from tests.api.conftest import Api
from tests.integration.conftest import ADMIN, CUSTOMER, ENGINEER, NEW_ISSUE, unique

pytestmark = pytest.mark.timeout(120)


def assert_unprocessable_at(response: httpx.Response, loc: str) -> dict[str, Any]:
    """A 422 problem naming `loc` among its errors."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert loc in [error["loc"] for error in problem["errors"]], problem
    return problem


async def count_rows(db: Database, model: type[Any]) -> int:
    async with db.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def created_issue(api: Api, **changes: object) -> str:
    response = await api.http.post(
        "/issues",
        json={**NEW_ISSUE, **changes},
        headers={**CUSTOMER, "Idempotency-Key": unique("setup")},
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


# --- text the database would refuse -------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Router \x00 drops packets"),
        ("description", "Since firmware 5.2\x00"),
        ("description", "bell \x07 in the text"),
        ("description", "escape \x1b[31m red"),
        ("title", "C1 control \x85 here"),
    ],
)
async def test_a_control_character_in_a_create_is_a_422_at_its_field_and_starts_nothing(
    api: Api, field: str, value: str
) -> None:
    response = await api.http.post(
        "/issues",
        json={**NEW_ISSUE, field: value},
        headers={**CUSTOMER, "Idempotency-Key": unique("nul")},
    )
    problem = assert_unprocessable_at(response, f"body.{field}")
    assert "control characters" in problem["detail"]
    assert api.temporal.starts == []
    assert await count_rows(api.db, IssueRow) == 0
    assert await count_rows(api.db, IdempotencyKeyRow) == 0


async def test_tab_newline_and_return_are_ordinary_text(api: Api) -> None:
    issue_id = await created_issue(api, description="Line one\r\n\tindented line two")
    assert [i.description for i in api.temporal.intakes()] == ["Line one\r\n\tindented line two"]
    assert issue_id


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("comments", {"body": "a\x00b"}, "body"),
        (
            "escalate",
            {
                "to_tier": 2,
                "reason": "needs \x00 experts",
                "summary": "Checked the logs and rebooted.",
            },
            "reason",
        ),
        ("assign", {"engineer_id": "bob", "reason": "\x00"}, "reason"),
        ("severity", {"severity": 1, "reason": "all \x00 sites"}, "reason"),
        ("request-info", {"question": "which \x08 version?"}, "question"),
        ("resolution", {"summary": "upgrade\x00"}, "summary"),
        ("cancel", {"reason": "x\x00"}, "reason"),
    ],
)
async def test_a_control_character_in_a_command_is_a_422_and_sends_nothing(
    api: Api, command: str, body: dict[str, Any], field: str
) -> None:
    issue_id = await created_issue(api)
    response = await api.http.post(f"/issues/{issue_id}/{command}", json=body, headers=ENGINEER)
    assert_unprocessable_at(response, f"body.{field}")
    assert api.temporal.updates == []


async def test_a_control_character_in_a_path_or_query_parameter_is_a_422(api: Api) -> None:
    assert_unprocessable_at(
        await api.http.get("/issues/ITR-%00", headers=CUSTOMER), "path.issue_id"
    )
    assert_unprocessable_at(await api.http.get("/issues?q=router%00", headers=ENGINEER), "query.q")
    assert_unprocessable_at(
        await api.http.get("/issues?owner_id=%00", headers=ENGINEER), "query.owner_id"
    )
    assert_unprocessable_at(
        await api.http.get("/organisations/acme%00/contracts", headers=ADMIN),
        "path.organisation_id",
    )
    assert_unprocessable_at(await api.http.get("/sla/calendars/x%00", headers=ADMIN), "path.name")


async def test_a_control_character_in_an_sla_document_is_a_422_at_its_path(api: Api) -> None:
    """The policy names its calendar, which is looked up: on PostgreSQL a NUL there was a 500."""
    policy = (await api.http.get("/sla/policies", headers=ADMIN)).json()[0]["policy"]
    level, severity = policy["contract_level"], policy["severity"]
    response = await api.http.put(
        f"/sla/policies/{level}/{severity}",
        json={**policy, "calendar": policy["calendar"] + "\x00"},
        headers=ADMIN,
    )
    problem = assert_unprocessable_at(response, "body.calendar")
    assert "control characters" in problem["detail"]


async def test_a_create_whose_row_the_database_refuses_starts_no_workflow(api: Api) -> None:
    """Belt and braces behind validation: the row is tried before the workflow starts."""
    async with api.db.transaction() as session:
        if api.db.dialect_name == "postgresql":
            await session.execute(
                sa.text(
                    "CREATE FUNCTION refuse_issues() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
                )
            )
            await session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_issues BEFORE INSERT ON issues "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_issues()"
                )
            )
        else:
            await session.execute(
                sa.text(
                    "CREATE TRIGGER refuse_issues BEFORE INSERT ON issues "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
    try:
        key = unique("refused-row")
        response = await api.http.post(
            "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": key}
        )
        assert response.status_code >= 400, response.text
        assert "Traceback" not in response.text
        assert api.temporal.starts == []
        assert await count_rows(api.db, IssueRow) == 0
    finally:
        async with api.db.transaction() as session:
            if api.db.dialect_name == "postgresql":
                await session.execute(sa.text("DROP TRIGGER refuse_issues ON issues"))
                await session.execute(sa.text("DROP FUNCTION refuse_issues()"))
            else:
                await session.execute(sa.text("DROP TRIGGER refuse_issues"))
    # The key was not spent on the refused attempt: the same request now goes through.
    retried = await api.http.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": key}
    )
    assert retried.status_code == 201, retried.text


# --- numbers, enums and booleans take their JSON type only --------------------------------


@pytest.mark.parametrize("severity", [True, False, "2", 2.0, "MAJOR"])
async def test_a_severity_that_is_not_a_json_integer_is_a_422(api: Api, severity: object) -> None:
    response = await api.http.post(
        "/issues",
        json={**NEW_ISSUE, "severity": severity},
        headers={**CUSTOMER, "Idempotency-Key": unique("strict")},
    )
    assert_unprocessable_at(response, "body.severity")
    assert api.temporal.starts == []


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("severity", {"severity": True, "reason": "all sites"}, "severity"),
        (
            "escalate",
            {
                "to_tier": True,
                "reason": "needs experts",
                "summary": "Checked the logs and rebooted.",
            },
            "to_tier",
        ),
        (
            "escalate",
            {
                "to_tier": "2",
                "reason": "needs experts",
                "summary": "Checked the logs and rebooted.",
            },
            "to_tier",
        ),
        ("confirmation", {"accept": "yes"}, "accept"),
        ("confirmation", {"accept": 1}, "accept"),
        ("confirmation", {"accept": True, "satisfaction": True}, "satisfaction"),
        ("confirmation", {"accept": True, "satisfaction": "5"}, "satisfaction"),
        ("confirmation", {"accept": True, "satisfaction": 4.0}, "satisfaction"),
    ],
)
async def test_a_command_value_that_is_not_its_json_type_is_a_422(
    api: Api, command: str, body: dict[str, Any], field: str
) -> None:
    issue_id = await created_issue(api)
    headers = CUSTOMER if command == "confirmation" else ENGINEER
    response = await api.http.post(f"/issues/{issue_id}/{command}", json=body, headers=headers)
    assert_unprocessable_at(response, f"body.{field}")
    assert api.temporal.updates == []


async def test_reference_data_takes_json_types_only(api: Api) -> None:
    team = {"id": unique("team"), "name": "Strict team", "tier": True, "product_ids": []}
    assert_unprocessable_at(await api.http.post("/teams", json=team, headers=ADMIN), "body.tier")
    engineer = {
        "id": unique("eng"),
        "name": "Strict Engineer",
        "email": "strict@itr.example",
        "team_id": "t1-network",
        "is_manager": "false",
    }
    assert_unprocessable_at(
        await api.http.post("/engineers", json=engineer, headers=ADMIN), "body.is_manager"
    )
    contract = {"id": unique("ctr"), "level": "basic", "starts_on": 0, "warranty_end": 86400}
    assert_unprocessable_at(
        await api.http.post("/organisations/acme/contracts", json=contract, headers=ADMIN),
        "body.starts_on",
    )


# --- Idempotency-Key: one request per key -------------------------------------------------


async def test_a_create_retried_with_another_body_under_the_same_key_is_a_422(api: Api) -> None:
    key = unique("create-reuse")
    headers = {**CUSTOMER, "Idempotency-Key": key}
    first = await api.http.post("/issues", json=NEW_ISSUE, headers=headers)
    assert first.status_code == 201, first.text
    other = await api.http.post("/issues", json={**NEW_ISSUE, "severity": 1}, headers=headers)
    assert_unprocessable_at(other, "header.Idempotency-Key")
    assert "id" not in other.json()
    same = await api.http.post("/issues", json=NEW_ISSUE, headers=headers)
    assert same.status_code == 200 and same.headers["Idempotent-Replayed"] == "true"
    assert same.json()["id"] == first.json()["id"]


async def test_a_command_retried_with_another_body_under_the_same_key_is_a_422(
    api: Api,
) -> None:
    issue_id = await created_issue(api)
    headers = {**CUSTOMER, "Idempotency-Key": unique("comment-reuse")}
    path = f"/issues/{issue_id}/comments"
    first = await api.http.post(path, json={"body": "The router rebooted."}, headers=headers)
    assert first.status_code == 200, first.text

    other = await api.http.post(path, json={"body": "Something else."}, headers=headers)
    assert_unprocessable_at(other, "header.Idempotency-Key")
    # The same request, trimmed or not, is a retry: the first answer, applied once.
    again = await api.http.post(path, json={"body": "  The router rebooted. "}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["comment_id"] == first.json()["comment_id"]
    assert [name for _, name, _ in api.temporal.updates] == ["comment"]
    # The key is the caller's, per command and issue: elsewhere it is a new request.
    other_issue = await created_issue(api)
    elsewhere = await api.http.post(
        f"/issues/{other_issue}/comments", json={"body": "Something else."}, headers=headers
    )
    assert elsewhere.status_code == 200, elsewhere.text


async def test_concurrent_commands_with_one_key_and_two_bodies_apply_one_and_refuse_the_other(
    api: Api,
) -> None:
    issue_id = await created_issue(api)
    headers = {**CUSTOMER, "Idempotency-Key": unique("comment-race")}
    bodies = [f"Variant {'AB'[i % 2]}: the router rebooted" for i in range(10)]
    responses = await asyncio.gather(
        *(
            api.http.post(f"/issues/{issue_id}/comments", json={"body": b}, headers=headers)
            for b in bodies
        )
    )
    applied = {b for b, r in zip(bodies, responses, strict=True) if r.status_code == 200}
    assert len(applied) == 1, [r.text for r in responses]
    assert [r.status_code for r in responses].count(422) == 5
    assert [command.body for _, _, command in api.temporal.updates] == list(applied)


async def test_a_bulk_reapply_retried_with_other_issues_under_the_same_key_is_a_422(
    api: Api,
) -> None:
    issue_id = await created_issue(api)
    headers = {**ADMIN, "Idempotency-Key": unique("bulk")}
    first = await api.http.post("/sla/reapply", json={"issue_ids": [issue_id]}, headers=headers)
    assert first.status_code == 200, first.text
    other = await api.http.post(
        "/sla/reapply", json={"issue_ids": [issue_id, "ITR-OTHER"]}, headers=headers
    )
    assert_unprocessable_at(other, "header.Idempotency-Key")


async def test_twenty_concurrent_creates_with_one_key_answer_one_201_and_nineteen_replays(
    api: Api,
) -> None:
    headers = {**CUSTOMER, "Idempotency-Key": unique("stampede")}
    responses = await asyncio.gather(
        *(api.http.post("/issues", json=NEW_ISSUE, headers=headers) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    assert all(
        r.headers["Idempotent-Replayed"] == "true" for r in responses if r.status_code == 200
    )
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_rows(api.db, IssueRow) == 1
    # Every attempt asked for the same workflow input (the key's intake instant), so whichever
    # start reached Temporal first, the issue is the same.
    assert len({started.model_dump_json() for started in api.temporal.starts}) == 1


async def test_concurrent_creates_with_one_key_and_two_bodies_never_answer_the_other_body(
    api: Api,
) -> None:
    headers = {**CUSTOMER, "Idempotency-Key": unique("race")}
    bodies = [
        {**NEW_ISSUE, "title": f"Variant {'AB'[i % 2]} of the router problem"} for i in range(20)
    ]
    responses = await asyncio.gather(
        *(api.http.post("/issues", json=body, headers=headers) for body in bodies)
    )
    answered: set[str] = set()
    for body, response in zip(bodies, responses, strict=True):
        if response.status_code == 422:
            assert_unprocessable_at(response, "header.Idempotency-Key")
            continue
        assert response.status_code in (200, 201), response.text
        assert response.json()["title"] == body["title"]
        answered.add(body["title"])
    assert len(answered) == 1
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert {i.title for i in api.temporal.intakes()} == answered


# --- 500s that are 409s or 422s -----------------------------------------------------------


async def test_a_duplicate_contract_id_is_a_409_in_any_organisation(api: Api) -> None:
    contract = {
        "id": unique("ctr"),
        "level": "basic",
        "starts_on": "2026-01-01",
        "warranty_end": "2027-01-01",
    }
    first = await api.http.post("/organisations/acme/contracts", json=contract, headers=ADMIN)
    assert first.status_code == 201, first.text
    for organisation in ("acme", "globex"):
        again = await api.http.post(
            f"/organisations/{organisation}/contracts", json=contract, headers=ADMIN
        )
        assert again.status_code == 409, again.text
        assert contract["id"] in again.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/organisations", {"name": "Initech GmbH"}),
        ("/products", {"name": "Core Switch CS-9"}),
        ("/teams", {"name": "Night shift", "tier": 1, "product_ids": ["edge-router"]}),
    ],
)
async def test_concurrent_creates_of_one_id_answer_one_201_and_409s(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    document = {**body, "id": unique("same")}
    responses = await asyncio.gather(
        *(api.http.post(path, json=document, headers=ADMIN) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 5, [r.text for r in responses]
    for response in responses:
        assert response.headers["content-type"].startswith(
            "application/json" if response.status_code == 201 else "application/problem+json"
        )


async def test_a_team_listing_a_product_twice_is_a_422_at_the_second_mention(api: Api) -> None:
    team = {
        "id": unique("team"),
        "name": "Twice team",
        "tier": 1,
        "product_ids": ["edge-router", "cloud-console", "edge-router"],
    }
    response = await api.http.post("/teams", json=team, headers=ADMIN)
    problem = assert_unprocessable_at(response, "body.product_ids.2")
    assert "twice" in problem["detail"]
    assert (await api.http.get("/teams", headers=ADMIN)).status_code == 200


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
async def test_an_assign_with_a_blank_reason_is_a_422_like_the_domain_says(
    api: Api, reason: str
) -> None:
    issue_id = await created_issue(api)
    response = await api.http.post(
        f"/issues/{issue_id}/assign",
        json={"engineer_id": "bob", "reason": reason},
        headers=ENGINEER,
    )
    assert_unprocessable_at(response, "body.reason")
    assert api.temporal.updates == []


async def test_an_assign_without_a_reason_is_sent(api: Api) -> None:
    issue_id = await created_issue(api)
    response = await api.http.post(
        f"/issues/{issue_id}/assign", json={"engineer_id": "bob"}, headers=ENGINEER
    )
    assert response.status_code == 200, response.text
    assert [name for _, name, _ in api.temporal.updates] == ["assign"]


@pytest.mark.parametrize("depth", [200, 5_000, 20_000])
async def test_a_deeply_nested_cursor_is_a_422_at_query_cursor(api: Api, depth: int) -> None:
    nested = base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode().rstrip("=")
    response = await api.http.get(f"/issues?cursor={nested}", headers=ENGINEER)
    assert_unprocessable_at(response, "query.cursor")
