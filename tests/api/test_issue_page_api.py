"""GET /issues/{id}/diagram.svg and /issues/{id}/actions, in process on a real database:
who sees what, another organisation's issue is a 404, and the roles each command is offered
to are the roles its route takes."""

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from api.schemas import EscalateBody
from api.services.issue_actions import ENDPOINTS
from db.repositories import issues as issue_repo
from domain.allowed_commands import CATALOGUE
from domain.enums import IssueState
from domain.lifecycle import IssueCase
from domain.models import RecordBatch
from tests.api.conftest import Api
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    INTEGRATION,
    MANAGER,
    NEW_ISSUE,
    OTHER_CUSTOMER,
    unique,
)
from tests.support.journeys import long_journey

pytestmark = pytest.mark.timeout(120)
SVG = "{http://www.w3.org/2000/svg}"


async def opened_issue(api: Api) -> str:
    response = await api.http.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": unique("page")}
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


async def worked_issue(api: Api) -> str:
    """An issue whose timeline the state machine wrote: waits, tiers 2 and 3, and back."""
    issue_id = await opened_issue(api)
    started = api.temporal.running[issue_id]
    case = IssueCase.open(started.intake, started.config)
    journey = long_journey(case, started.intake.created_at)
    async with api.db.transaction() as session:
        batch = RecordBatch(status=case.status, events=tuple(journey.events))
        await issue_repo.apply_record_batch(session, batch, f"issue-{issue_id}")
    return issue_id


def stage_lanes(svg: str) -> list[str | None]:
    root = ET.fromstring(svg)
    return [g.get("data-lane") for g in root.iter(f"{SVG}g") if g.get("data-step")]


async def test_staff_get_the_full_diagram_and_customers_the_public_one(api: Api) -> None:
    issue_id = await worked_issue(api)
    staff = await api.http.get(f"/issues/{issue_id}/diagram.svg", headers=ENGINEER)
    assert staff.status_code == 200, staff.text
    assert staff.headers["content-type"].startswith("image/svg+xml")
    assert "tier_3" in stage_lanes(staff.text)
    assert "Frank Weber" in staff.text  # the owner's name from the reference data

    customer = await api.http.get(f"/issues/{issue_id}/diagram.svg", headers=CUSTOMER)
    assert customer.status_code == 200
    assert set(stage_lanes(customer.text)) == {"support", "customer"}
    for hidden in ("Frank", "Alice", "Tier 3", "R&amp;D", "rita"):
        assert hidden not in customer.text


async def test_another_organisations_issue_is_a_404_for_both_endpoints(api: Api) -> None:
    issue_id = await opened_issue(api)
    for path in ("diagram.svg", "actions"):
        response = await api.http.get(f"/issues/{issue_id}/{path}", headers=OTHER_CUSTOMER)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.http.get("/issues/ITR-NOPE/actions", headers=ENGINEER)).status_code == 404


async def test_customers_see_only_their_commands_and_staff_see_every_one(api: Api) -> None:
    issue_id = await opened_issue(api)
    staff = await api.http.get(f"/issues/{issue_id}/actions", headers=ENGINEER)
    assert staff.status_code == 200, staff.text
    body = staff.json()
    assert body["state"] == IssueState.NEW.value
    actions = {a["command"]: a for a in body["actions"]}
    assert list(actions) == [entry.name for entry in CATALOGUE]
    assert actions["acknowledge"]["allowed"] is False
    assert "state 'new'" in actions["acknowledge"]["reason"]
    assert actions["cancel"] == {
        "command": "cancel",
        "allowed": False,
        "reason": "role 'engineer' cannot send cancel",
        "path": f"/issues/{issue_id}/cancel",
    }
    domain = {c.command: c for c in api.temporal.answers[issue_id].commands}
    for name in ("comment", "internal_comment", "escalate", "assign", "change_severity"):
        assert (actions[name]["allowed"], actions[name]["reason"]) == (
            domain[name].allowed,
            domain[name].reason,
        ), name  # the workflow's own answer, whatever rules its checks hold

    customer = (await api.http.get(f"/issues/{issue_id}/actions", headers=CUSTOMER)).json()
    offered = {a["command"]: a["allowed"] for a in customer["actions"]}
    assert offered == {
        "comment": True,
        "customer_reply": False,
        "confirm_closure": False,
        "reopen": False,
        "cancel": True,
    }


async def test_an_issue_whose_workflow_ended_offers_nothing_with_the_reason(api: Api) -> None:
    issue_id = await opened_issue(api)
    api.temporal.ended.add(issue_id)
    body = (await api.http.get(f"/issues/{issue_id}/actions", headers=MANAGER)).json()
    assert body["actions"] and not any(a["allowed"] for a in body["actions"])
    assert "lifecycle has ended" in body["actions"][0]["reason"]


ASKS_SUMMARY = "summary" in EscalateBody.model_fields
BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "comment": {"body": "x"},
    "internal_comment": {"body": "x", "visibility": "internal"},
    "assign": {"engineer_id": "bob"},
    "escalate": {"to_tier": 2, "reason": "x", **({"summary": "x"} if ASKS_SUMMARY else {})},
    "request_info": {"question": "x"},
    "customer_reply": {"body": "x"},
    "propose_resolution": {"summary": "x"},
    "confirm_closure": {"accept": True},
    "reopen": {"reason": "x"},
    "cancel": {"reason": "x"},
    "change_severity": {"severity": 1, "reason": "x"},
    "reapply_sla": {},
    "link_defect": {"defect_key": "RND-1"},
    "retry_tracker_sync": {},
    "dispatch_visit": {
        "window_start": "2099-01-01T09:00:00+00:00",
        "window_end": "2099-01-01T11:00:00+00:00",
    },
    "request_part": {"part_number": "PSU-1", "warehouse": "central"},
    "claim": {},
    "accept_offer": {},
    "decline_offer": {"reason": "x"},
    "hand_back": {"guidance": "x"},
    "hand_over": {"engineer_id": "bob", "reason": "x"},
}
TOKENS = {"customer": CUSTOMER, "engineer": ENGINEER, "manager": MANAGER, "admin": ADMIN}
TOKENS["integration"] = INTEGRATION


@pytest.mark.parametrize("command", sorted(ENDPOINTS))
async def test_each_command_is_offered_to_the_roles_its_route_takes(api: Api, command: str) -> None:
    issue_id = await opened_issue(api)
    endpoint = ENDPOINTS[command]
    for role, headers in TOKENS.items():
        if command == "internal_comment":
            continue  # the route takes it from everyone; the domain refuses customers (409)
        response = await api.http.post(
            f"/issues/{issue_id}{endpoint.path}", json=BODIES[command], headers=headers
        )
        offered = role in {r.value for r in endpoint.roles}
        # The route's role refusal names the role; other 403s are the issue's own rules.
        refused_by_role = response.status_code == 403 and response.json()["detail"].startswith(
            f"role '{role}' cannot"
        )
        assert refused_by_role != offered, (role, response.text)
