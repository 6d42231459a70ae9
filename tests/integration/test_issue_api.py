"""The issue lifecycle through the API, on the real dev server, on SQLite and PostgreSQL."""

import uuid
from collections import Counter
from datetime import datetime, timedelta

from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    EXPERT,
    MANAGER,
    OTHER_CUSTOMER,
    Stack,
    open_issue,
)


async def test_customer_opens_engineer_resolves_customer_confirms(stack: Stack) -> None:
    api = stack.api()
    issue = await open_issue(api, key=f"walkthrough-{uuid.uuid4()}")
    issue_id = issue["id"]
    assert issue["state"] == "assigned"
    assert issue["owner_id"] in {"alice", "bob", "carol"}  # Frontline Network (tier 1)
    assert issue["contract_level"] == "premium"

    ack = await api.post(
        f"/issues/{issue_id}/acknowledge", json={"message": "Looking into it."}, headers=ENGINEER
    )
    assert ack.status_code == 200, ack.text
    assert ack.json()["issue"]["state"] == "in_progress"

    note = await api.post(
        f"/issues/{issue_id}/comments",
        json={"body": "Suspect the QoS rewrite.", "visibility": "internal"},
        headers=ENGINEER,
    )
    assert note.status_code == 200, note.text

    proposal = await api.post(
        f"/issues/{issue_id}/resolution",
        json={"summary": "Upgrade to firmware 5.2.1, which fixes the QoS queue."},
        headers=ENGINEER,
    )
    assert proposal.json()["issue"]["state"] == "awaiting_confirmation"

    closed = await api.post(
        f"/issues/{issue_id}/confirmation",
        json={"accept": True, "satisfaction": 5, "comment": "Works, thanks."},
        headers=CUSTOMER,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["issue"]["state"] == "closed"
    assert closed.json()["issue"]["satisfaction"] == 5

    staff_view = (await api.get(f"/issues/{issue_id}", headers=MANAGER)).json()
    kinds = [e["kind"] for e in staff_view["timeline"] if not e["kind"].startswith("sla_")]
    assert kinds == [
        "created",
        "accepted",
        "assigned",
        "acknowledged",
        "commented",
        "resolution_proposed",
        "confirmation_requested",
        "closed",
    ]
    seqs = [e["seq"] for e in staff_view["timeline"]]
    assert seqs == sorted(set(seqs))
    assert any(c["visibility"] == "internal" for c in staff_view["comments"])
    assert {d["clock"] for d in staff_view["deadlines"]} == {"first_response", "resolution"}
    assert all(d["met_at"] and not d["breached"] for d in staff_view["deadlines"])
    assert all(d["due_at"] is None for d in staff_view["deadlines"])  # stopped: nothing due
    sla_kinds = {e["kind"] for e in staff_view["timeline"]} - set(kinds)
    assert {"sla_policy_applied", "sla_clocks"} <= sla_kinds
    assert {c["mode"] for c in staff_view["sla"]["clocks"]} == {"stopped"}

    customer_view = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()
    assert all(c["visibility"] == "public" for c in customer_view["comments"])
    assert all(e["visibility"] == "public" for e in customer_view["timeline"])

    # The worker's recording wrote the statistics too: the team's manager counts the issue.
    created = datetime.fromisoformat(issue["created_at"])
    since = {"from": created.isoformat(), "to": (created + timedelta(days=1)).isoformat()}
    summary = (await api.get("/stats/summary", params=since, headers=MANAGER)).json()
    assert summary["figures"]["closed"] >= 1 and summary["figures"]["satisfaction"]["rated"] >= 1
    listed = await api.get("/stats/issues", params={**since, "metric": "closed"}, headers=MANAGER)
    assert issue_id in [i["id"] for i in listed.json()["items"]]


async def test_a_retried_create_returns_the_same_issue_and_starts_one_workflow(
    stack: Stack,
) -> None:
    api = stack.api()
    key = f"retry-me-{uuid.uuid4()}"
    first = await open_issue(api, key=key)
    again = await api.post(
        "/issues",
        json={
            "title": "Edge router drops packets after upgrade",
            "description": "Since firmware 5.2 the router drops about 3% of packets under load.",
            "product_id": "edge-router",
            "severity": 2,
            "category": "incident",
        },
        headers={**CUSTOMER, "Idempotency-Key": key},
    )
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first["id"]
    runs = [w async for w in stack.client.list_workflows(f"WorkflowId = 'issue-{first['id']}'")]
    assert len(runs) == 1
    reused = await api.post(
        "/issues",
        json={
            "title": "Something else",
            "description": "x",
            "product_id": "edge-router",
            "severity": 3,
        },
        headers={**CUSTOMER, "Idempotency-Key": key},
    )
    assert reused.status_code == 422
    listing = (await api.get("/issues", headers=CUSTOMER)).json()
    assert [i["id"] for i in listing["items"]] == [first["id"]]


async def test_a_command_the_state_forbids_is_a_409_with_the_reason(stack: Stack) -> None:
    api = stack.api()
    issue = await open_issue(api)
    response = await api.post(
        f"/issues/{issue['id']}/confirmation", json={"accept": True}, headers=CUSTOMER
    )
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "assigned" in problem["detail"]
    timeline = (await api.get(f"/issues/{issue['id']}", headers=MANAGER)).json()["timeline"]
    assert "closed" not in [e["kind"] for e in timeline]


async def test_invalid_bodies_are_422_with_field_paths(stack: Stack) -> None:
    api = stack.api()
    response = await api.post(
        "/issues",
        json={"title": "", "description": "x", "product_id": "edge-router", "severity": 9},
        headers=CUSTOMER,
    )
    assert response.status_code == 422
    locations = {e["loc"] for e in response.json()["errors"]}
    assert {"body.title", "body.severity"} <= locations
    unknown = await api.post(
        "/issues",
        json={"title": "Bad product", "description": "x", "product_id": "toaster", "severity": 2},
        headers=CUSTOMER,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == "body.product_id"
    typo = await api.post(
        "/issues",
        json={
            "title": "Typo",
            "description": "x",
            "product_id": "edge-router",
            "severity": 2,
            "sevrity": 1,
        },
        headers=CUSTOMER,
    )
    assert typo.status_code == 422
    assert not (await api.get("/issues", headers=CUSTOMER)).json()["items"]


async def test_another_organisations_issue_is_a_404(stack: Stack) -> None:
    api = stack.api()
    issue = await open_issue(api)
    assert (await api.get(f"/issues/{issue['id']}", headers=OTHER_CUSTOMER)).status_code == 404
    comment = await api.post(
        f"/issues/{issue['id']}/comments", json={"body": "peek"}, headers=OTHER_CUSTOMER
    )
    assert comment.status_code == 404
    others = (await api.get("/issues", headers=OTHER_CUSTOMER)).json()["items"]
    assert others == []


async def test_escalation_waiting_and_rejection_through_the_api(stack: Stack) -> None:
    api = stack.api()
    issue = await open_issue(api)
    issue_id = issue["id"]
    await api.post(f"/issues/{issue_id}/acknowledge", json={}, headers=ENGINEER)
    escalated = await api.post(
        f"/issues/{issue_id}/escalate",
        json={
            "to_tier": 2,
            "reason": "Needs a QoS expert",
            "summary": "Checked the logs and rebooted.",
            "engineer_id": "frank",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    body = escalated.json()["issue"]
    assert body["state"] == "escalated" and body["tier"] == 2 and body["owner_id"] == "frank"
    # Frank owns it at tier 2 now: alice, its tier-1 owner, is told so (403 with the reason).
    refused = await api.post(
        f"/issues/{issue_id}/request-info", json={"question": "Which?"}, headers=ENGINEER
    )
    assert refused.status_code == 403 and "only its owner (Frank Weber)" in refused.text
    asked = await api.post(
        f"/issues/{issue_id}/request-info",
        json={"question": "Which QoS profile?"},
        headers=EXPERT,
    )
    assert asked.json()["issue"]["state"] == "waiting_customer"
    replied = await api.post(f"/issues/{issue_id}/reply", json={"body": "gold"}, headers=CUSTOMER)
    assert replied.json()["issue"]["state"] == "escalated"
    await api.post(f"/issues/{issue_id}/resolution", json={"summary": "Use silver"}, headers=EXPERT)
    rejected = await api.post(
        f"/issues/{issue_id}/confirmation",
        json={"accept": False, "comment": "Silver is not allowed here."},
        headers=CUSTOMER,
    )
    assert rejected.json()["issue"]["state"] == "in_progress"
    listing = (
        await api.get("/issues", params={"state": "in_progress", "tier": 2}, headers=MANAGER)
    ).json()
    assert [i["id"] for i in listing["items"]] == [issue_id]
    cancelled = await api.post(
        f"/issues/{issue_id}/cancel",
        json={"reason": "Customer replaced the device"},
        headers=CUSTOMER,
    )
    assert cancelled.json()["issue"]["state"] == "cancelled"
    after = await api.post(
        f"/issues/{issue_id}/comments", json={"body": "hello?"}, headers=CUSTOMER
    )
    assert after.status_code == 409
    kinds = Counter(
        e["kind"]
        for e in (await api.get(f"/issues/{issue_id}", headers=MANAGER)).json()["timeline"]
    )
    assert kinds["escalated"] == 1 and kinds["cancelled"] == 1


async def test_intake_answers_in_one_round_trip_with_the_owner_named(stack: Stack) -> None:
    """POST /issues starts the workflow with its `intake_dispatched` Update: the answer is
    the dispatched issue, and the history shows that Update (not a polled read model)."""
    from temporalio.api.enums.v1 import EventType

    from domain.ids import workflow_id_for

    api = stack.api()
    issue = await open_issue(api, key=f"one-trip-{uuid.uuid4()}")
    assert issue["state"] == "assigned" and issue["owner_name"]
    handle = stack.client.get_workflow_handle(workflow_id_for(issue["id"]))
    history = await handle.fetch_history()
    updates = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert updates == ["intake_dispatched"]
    completed = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
    ]
    assert len(completed) == 1
