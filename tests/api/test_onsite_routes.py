"""The on-site routes' errors, decided by the API before (or around) Temporal: 401/403 with
the reason, 404, 422 at the field, 409 once a visit's workflow has ended; and what a
customer may read of visits and parts. On SQLite and PostgreSQL, with a fake Temporal."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.temporal_gateway import WorkflowEnded
from db.repositories import onsite as onsite_repo
from domain.enums import ActorKind
from domain.onsite import PartAction, PartRequest, Visit
from tests.api.conftest import Api
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    MANAGER,
    NEW_ISSUE,
    OTHER_CUSTOMER,
    auth,
    unique,
)

pytestmark = pytest.mark.timeout(120)

FIELD = auth("demo-field-engineer-felix")
OTHER_FIELD = auth("demo-field-engineer-fiona")
WAREHOUSE = auth("demo-warehouse-berlin")
NOW = datetime.now(UTC)


class EndedChildren:
    """A gateway stand-in for finished child workflows: every step is too late."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def update_child(
        self, workflow_id: str, issue_id: str, update: Any, command: Any, update_id: str | None
    ) -> Any:
        self.sent.append((workflow_id, update.__name__))
        raise WorkflowEnded(issue_id)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def locs(response: httpx.Response) -> list[str]:
    return [e["loc"] for e in problem(response, 422)["errors"]]


async def onsite_issue(api: Api) -> str:
    response = await api.http.post(
        "/issues",
        json={**NEW_ISSUE, "service_mode": "on_site"},
        headers={**CUSTOMER, "Idempotency-Key": unique("onsite")},
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


def window(start_in: timedelta = timedelta(days=1), hours: int = 4) -> dict[str, str]:
    start = datetime.now(UTC) + start_in
    return {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=hours)).isoformat(),
    }


async def projected(api: Api, issue_id: str) -> tuple[str, str]:
    """A visit and a shipped part of the issue in the read model, as their workflows write."""
    visit = Visit.schedule(
        visit_id=f"visit-{issue_id}-1",
        issue_id=issue_id,
        number=1,
        engineer_id="felix",
        engineer_name="Felix Wagner",
        window_start=NOW + timedelta(days=1),
        window_end=NOW + timedelta(days=1, hours=4),
        reminder_before=timedelta(hours=24),
        now=NOW,
    )
    part = PartRequest.request(
        part_id=f"part-{issue_id}-1",
        issue_id=issue_id,
        number=1,
        part_number="PSU-500W",
        quantity=2,
        warehouse="wh-berlin",
        actor_name="Alice Martin",
        now=NOW - timedelta(hours=5),
    )
    for action in (PartAction.PICK, PartAction.SHIP):
        part = part.moved(action, ActorKind.WAREHOUSE, "Walter", NOW - timedelta(hours=3))
    async with api.db.transaction() as session:
        await onsite_repo.record_visit(session, visit, "acme", 1, "Alice Martin")
        await onsite_repo.record_part(session, part, "acme", 3, "Alice Martin")
        # An older step arriving late (a retried activity) changes nothing.
        assert not await onsite_repo.record_visit(session, visit, "acme", 1, "Someone Else")
    return visit.visit_id, part.part_id


async def test_every_on_site_command_needs_a_token_and_a_role_that_may_send_it(api: Api) -> None:
    issue = await onsite_issue(api)
    visit_id, part_id = await projected(api, issue)
    problem(await api.http.post(f"/issues/{issue}/visits", json=window()), 401)
    refused = [
        (f"/issues/{issue}/visits", window(), CUSTOMER, "cannot dispatch visits"),
        (f"/issues/{issue}/visits", window(), FIELD, "cannot dispatch visits"),
        (f"/issues/{issue}/visits", window(), ENGINEER, "only the issue's owner"),
        (f"/issues/{issue}/parts", {"part_number": "X1", "warehouse": "wh"}, CUSTOMER, "cannot"),
        (f"/visits/{visit_id}/check-in", {}, WAREHOUSE, "cannot check in"),
        (f"/visits/{visit_id}/check-in", {}, OTHER_FIELD, "only they check in"),
        (f"/visits/{visit_id}/check-out", {}, ENGINEER, "cannot check out"),
        (f"/parts/{part_id}/pick", {}, FIELD, "cannot pick parts"),
        (f"/parts/{part_id}/install", {}, WAREHOUSE, "cannot install parts"),
        (f"/parts/{part_id}/deliver", {}, CUSTOMER, "cannot deliver parts"),
    ]
    for path, body, headers, reason in refused:
        answer = problem(await api.http.post(path, json=body, headers=headers), 403)
        assert reason in answer["detail"], (path, answer)
    assert api.temporal.updates == []  # nothing reached a workflow


async def test_unknown_or_foreign_issues_visits_and_parts_are_not_found(api: Api) -> None:
    issue = await onsite_issue(api)
    problem(await api.http.post("/issues/ITR-NOPE/visits", json=window(), headers=MANAGER), 404)
    problem(await api.http.post("/visits/visit-nope-1/check-in", json={}, headers=FIELD), 404)
    problem(await api.http.post("/parts/part-nope-1/ship", json={}, headers=WAREHOUSE), 404)
    problem(await api.http.get("/issues/ITR-NOPE/onsite", headers=MANAGER), 404)
    problem(await api.http.get(f"/issues/{issue}/onsite", headers=OTHER_CUSTOMER), 404)


async def test_bad_windows_parts_and_engineers_are_422_at_their_field(api: Api) -> None:
    issue = await onsite_issue(api)
    path = f"/issues/{issue}/visits"
    backwards = window()
    backwards["window_end"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert "body.window_end" in locs(await api.http.post(path, json=backwards, headers=MANAGER))
    past = window(start_in=-timedelta(hours=2))
    assert "body.window_start" in locs(await api.http.post(path, json=past, headers=MANAGER))
    naive = {"window_start": "2030-01-01T09:00:00", "window_end": "2030-01-01T12:00:00"}
    assert "body.window_start" in locs(await api.http.post(path, json=naive, headers=MANAGER))
    not_field = {**window(), "engineer_id": "alice"}
    assert "body.engineer_id" in locs(await api.http.post(path, json=not_field, headers=MANAGER))
    parts = f"/issues/{issue}/parts"
    for body, loc in [
        ({"part_number": "PSU", "warehouse": "wh", "quantity": 0}, "body.quantity"),
        ({"part_number": "PSU", "warehouse": "wh", "quantity": "2"}, "body.quantity"),
        ({"part_number": "no spaces", "warehouse": "wh"}, "body.part_number"),
        ({"part_number": "PSU"}, "body.warehouse"),
    ]:
        assert loc in locs(await api.http.post(parts, json=body, headers=ENGINEER)), body
    assert "path.action" in locs(
        await api.http.post("/parts/part-x-1/explode", json={}, headers=ADMIN)
    )
    assert api.temporal.updates == []


async def test_a_step_on_a_finished_visit_or_part_is_409_with_the_reason(api: Api) -> None:
    issue = await onsite_issue(api)
    visit_id, part_id = await projected(api, issue)
    ended = EndedChildren()
    api.temporal.update_child = ended.update_child  # type: ignore[method-assign]
    answer = problem(
        await api.http.post(f"/visits/{visit_id}/check-in", json={}, headers=FIELD), 409
    )
    assert f"visit {visit_id} is scheduled; its workflow has ended" in answer["detail"]
    answer = problem(await api.http.post(f"/parts/{part_id}/deliver", json={}, headers=FIELD), 409)
    assert f"part request {part_id} is shipped" in answer["detail"]
    assert ended.sent == [(visit_id, "check_in"), (part_id, "deliver")]


async def test_customers_see_the_appointment_and_first_name_but_no_warehouse_internals(
    api: Api,
) -> None:
    issue = await onsite_issue(api)
    await projected(api, issue)
    staff = (await api.http.get(f"/issues/{issue}/onsite", headers=MANAGER)).json()
    (visit,) = staff["visits"]
    assert visit["engineer_name"] == "Felix Wagner" and visit["engineer_first_name"] == "Felix"
    (part,) = staff["parts"]
    assert part["state"] == "shipped" and part["warehouse"] == "wh-berlin"
    assert [s["state"] for s in part["steps"]] == ["requested", "picked", "shipped"]
    assert set(part["time_in_states"]) == {"requested", "picked", "shipped"}
    assert staff["waiting_for_parts"] and not staff["redispatch_needed"]

    customer = await api.http.get(f"/issues/{issue}/onsite", headers=CUSTOMER)
    assert customer.status_code == 200, customer.text
    (visit,) = customer.json()["visits"]
    assert visit["engineer_first_name"] == "Felix"
    assert visit["engineer_name"] is None and visit["engineer_id"] is None
    assert visit["window_start"] and visit["window_end"]
    (part,) = customer.json()["parts"]
    assert part["state"] == "shipped" and part["since_requested"]
    for internal in ("warehouse", "steps", "time_in_states"):
        assert part[internal] is None, internal
