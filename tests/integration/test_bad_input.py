"""Bad input against the whole stack: refused before anything starts, and a key used by
many concurrent creates yields one issue, one workflow and one 201, on SQLite and PostgreSQL.
"""

import asyncio

import pytest

from api.services.issues import issue_id_for
from tests.integration.conftest import CUSTOMER, NEW_ISSUE, Stack, unique
from tests.integration.test_failures import CUSTOMER_TOKEN_ID, issue_rows, runs_of

pytestmark = pytest.mark.timeout(120)


async def test_a_nul_in_a_title_is_a_422_and_leaves_no_workflow_and_no_row(stack: Stack) -> None:
    api = stack.api()
    key = unique("nul-title")
    headers = {**CUSTOMER, "Idempotency-Key": key}
    refused = await api.post(
        "/issues", json={**NEW_ISSUE, "title": "Router\x00 drops packets"}, headers=headers
    )
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["errors"]] == ["body.title"]
    assert await runs_of(stack, issue_id_for(CUSTOMER_TOKEN_ID, key)) == 0
    assert await issue_rows(stack.db) == 0

    # Nothing was spent on the refused request: the corrected one goes through.
    created = await api.post("/issues", json=NEW_ISSUE, headers=headers)
    assert created.status_code == 201, created.text
    assert await runs_of(stack, created.json()["id"]) == 1


async def test_twenty_concurrent_creates_with_one_key_open_one_issue_and_answer_one_201(
    stack: Stack,
) -> None:
    api = stack.api()
    headers = {**CUSTOMER, "Idempotency-Key": unique("stampede")}
    responses = await asyncio.gather(
        *(api.post("/issues", json=NEW_ISSUE, headers=headers) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    replays = [r for r in responses if r.status_code == 200]
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replays)
    (issue_id,) = {r.json()["id"] for r in responses}
    assert await runs_of(stack, issue_id) == 1
    assert await issue_rows(stack.db) == 1


async def test_concurrent_creates_with_one_key_and_two_bodies_get_their_own_issue_or_a_422(
    stack: Stack,
) -> None:
    api = stack.api()
    headers = {**CUSTOMER, "Idempotency-Key": unique("race")}
    bodies = [{**NEW_ISSUE, "title": f"Variant {'AB'[i % 2]} of the problem"} for i in range(20)]
    responses = await asyncio.gather(
        *(api.post("/issues", json=body, headers=headers) for body in bodies)
    )
    answered = set()
    for body, response in zip(bodies, responses, strict=True):
        if response.status_code == 422:
            assert response.json()["errors"][0]["loc"] == "header.Idempotency-Key"
            continue
        assert response.status_code in (200, 201), response.text
        assert response.json()["title"] == body["title"]
        answered.add(body["title"])
    assert len(answered) == 1
    assert [r.status_code for r in responses].count(201) == 1
    assert [r.status_code for r in responses].count(422) == 10
    assert await issue_rows(stack.db) == 1
