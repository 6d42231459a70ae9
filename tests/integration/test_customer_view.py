"""What customers read: staff's reasons stay internal, the timeline numbering counts only
what the customer can see; staff read the record as written. Real workflow, both databases.
"""

from typing import Any

import httpx
import pytest

from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    MANAGER,
    Stack,
    eventually,
    issue_detail,
    open_issue,
    unique,
)

pytestmark = pytest.mark.timeout(120)

ASSIGN_REASON = "Alice is drowning in tickets from this account"
SEVERITY_REASON = "Their own change broke it, but the CEO is shouting"
ESCALATE_REASON = "Frontline suspects the customer's QoS config is the culprit"
SECRETS = ("drowning", "CEO is shouting", "QoS config is the culprit")


async def command(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str] = ENGINEER
) -> dict[str, Any]:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def escalated_issue(stack: Stack) -> tuple[httpx.AsyncClient, str]:
    """An issue reassigned, re-rated and escalated, each with a reason for staff only, and
    with internal entries (SLA bookkeeping, an internal comment) between the public ones."""
    api = stack.api()
    issue_id = str((await open_issue(api, key=unique("view")))["id"])

    async def assigned() -> bool | None:
        return True if (await issue_detail(api, issue_id))["state"] == "assigned" else None

    await eventually(assigned, "the tier-1 assignment")
    base = f"/issues/{issue_id}"
    await command(api, f"{base}/assign", {"engineer_id": "bob", "reason": ASSIGN_REASON})
    await command(api, f"{base}/comments", {"body": "Check QoS first", "visibility": "internal"})
    # Bob owns it now: his team's manager re-rates and escalates it.
    await command(
        api, f"{base}/severity", {"severity": 1, "reason": SEVERITY_REASON}, headers=MANAGER
    )
    await command(
        api,
        f"{base}/escalate",
        {
            "to_tier": 2,
            "reason": ESCALATE_REASON,
            "summary": "Checked the logs and rebooted.",
            "engineer_id": "frank",
        },
        headers=MANAGER,
    )
    return api, issue_id


async def test_a_customer_reads_neutral_lines_and_consecutive_numbers_staff_read_reasons(
    stack: Stack,
) -> None:
    api, issue_id = await escalated_issue(stack)

    detail = await api.get(f"/issues/{issue_id}", headers=CUSTOMER)
    history = await api.get(f"/issues/{issue_id}/sla", headers=CUSTOMER)
    listing = await api.get("/issues", headers=CUSTOMER)
    for response in (detail, history, listing):
        assert response.status_code == 200, response.text
        for secret in SECRETS:
            assert secret not in response.text, (secret, response.request.url)

    timeline = detail.json()["timeline"]
    assert [e["seq"] for e in timeline] == list(range(1, len(timeline) + 1))
    lines = {e["kind"]: e["summary"] for e in timeline}
    assert lines["escalated"] == "Escalated to our expert team"
    assert lines["reassigned"] == "Handed over to another engineer"
    assert lines["assigned"] == "Assigned to an engineer"
    assert lines["severity_changed"] == "Severity changed from 2 to 1"
    (change,) = history.json()["history"]
    assert change["kind"] == "severity_changed"
    assert change["data"] == {"from": 2, "to": 1}
    assert change["summary"] == "Severity changed from 2 to 1"
    # The same entry carries the same number in the timeline and in the SLA history.
    assert change["seq"] == next(e["seq"] for e in timeline if e["kind"] == "severity_changed")

    staff = await api.get(f"/issues/{issue_id}", headers=ENGINEER)
    staff_history = await api.get(f"/issues/{issue_id}/sla", headers=ENGINEER)
    for secret in SECRETS:
        assert secret in staff.text + staff_history.text, secret
    staff_change = next(
        e for e in staff_history.json()["history"] if e["kind"] == "severity_changed"
    )
    assert staff_change["data"]["reason"] == SEVERITY_REASON
    assert len(staff.json()["timeline"]) > len(timeline)


async def test_a_customer_comment_id_does_not_count_the_internal_entries(stack: Stack) -> None:
    api, issue_id = await escalated_issue(stack)
    posted = await api.post(
        f"/issues/{issue_id}/comments",
        json={"body": "Any news?"},
        headers={**CUSTOMER, "Idempotency-Key": unique("comment")},
    )
    assert posted.status_code == 200, posted.text
    comment_id = posted.json()["comment_id"]
    assert ":c" not in comment_id
    shown = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()["comments"]
    assert [c["id"] for c in shown if c["body"] == "Any news?"] == [comment_id]
    assert all(":c" not in c["id"] for c in shown)
