"""On-site service through the API on the real dev server (SQLite and PostgreSQL): a visit
dispatched, reminded, checked in and out, a spare part from request to installation, the
issue resolved and confirmed, every step on the timeline."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    MANAGER,
    Stack,
    auth,
    eventually,
    issue_detail,
    open_issue,
)

FIELD = auth("demo-field-engineer-felix")
WAREHOUSE = auth("demo-warehouse-berlin")


async def post(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


async def test_an_on_site_issue_is_visited_repaired_with_a_part_and_closed(stack: Stack) -> None:
    api = stack.api()
    issue = await open_issue(api, key=f"onsite-{uuid.uuid4()}", service_mode="on_site")
    issue_id = issue["id"]
    await post(api, f"/issues/{issue_id}/acknowledge", {}, ENGINEER)

    start = datetime.now(UTC) + timedelta(seconds=3)
    window = {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(minutes=30)).isoformat(),
        "engineer_id": "felix",
    }
    key = {"Idempotency-Key": f"visit-{uuid.uuid4()}"}
    dispatched = await post(api, f"/issues/{issue_id}/visits", window, {**MANAGER, **key})
    again = await post(api, f"/issues/{issue_id}/visits", window, {**MANAGER, **key})
    visit_id = dispatched["visit_id"]
    assert visit_id == again["visit_id"] == f"visit-{issue_id}-1"  # the retry started nothing
    second = await api.post(f"/issues/{issue_id}/visits", json=window, headers=MANAGER)
    assert second.status_code == 409 and "one visit at a time" in second.json()["detail"]

    async def reminded() -> dict[str, Any] | None:
        view = (await api.get(f"/issues/{issue_id}/onsite", headers=MANAGER)).json()
        visits = view["visits"]
        return view if visits and visits[0]["reminded_at"] else None

    await eventually(reminded, "the visit reminder (the window is nearer than its lead)")
    checked_in = await post(api, f"/visits/{visit_id}/check-in", {}, FIELD)
    assert checked_in["visit"]["state"] == "checked_in"
    twice = await api.post(f"/visits/{visit_id}/check-in", json={}, headers=FIELD)
    assert twice.status_code == 409 and "checked_in" in twice.json()["detail"]

    requested = await post(
        api,
        f"/issues/{issue_id}/parts",
        {"part_number": "PSU-500W", "quantity": 1, "warehouse": "wh-berlin"},
        FIELD,
    )
    part_id = requested["part_id"]

    async def projected() -> dict[str, Any] | None:
        view = (await api.get(f"/issues/{issue_id}/onsite", headers=MANAGER)).json()
        return view if view["parts"] else None

    await eventually(projected, "the part request in the read model")
    early = await api.post(f"/parts/{part_id}/install", json={}, headers=FIELD)
    assert early.status_code == 409 and "cannot install a part that is requested" in early.text
    for action, who, state in [
        ("pick", WAREHOUSE, "picked"),
        ("ship", WAREHOUSE, "shipped"),
        ("deliver", FIELD, "delivered"),
        ("install", FIELD, "installed"),
    ]:
        moved = await post(api, f"/parts/{part_id}/{action}", {}, who)
        assert moved["part"]["state"] == state
    done = await post(
        api, f"/visits/{visit_id}/check-out", {"report": "PSU replaced, router up."}, FIELD
    )
    assert done["visit"]["state"] == "completed" and done["visit"]["time_on_site"] is not None

    await post(
        api, f"/issues/{issue_id}/resolution", {"summary": "PSU replaced on site."}, ENGINEER
    )
    await post(api, f"/issues/{issue_id}/confirmation", {"accept": True}, CUSTOMER)

    wanted = [
        "visit_dispatched",
        "visit_reminded",
        "visit_checked_in",
        "part_requested",
        "part_picked",
        "part_shipped",
        "part_delivered",
        "part_installed",
        "visit_checked_out",
    ]

    async def on_timeline() -> list[str] | None:
        kinds = [e["kind"] for e in (await issue_detail(api, issue_id))["timeline"]]
        onsite = [k for k in kinds if k.startswith(("visit_", "part_"))]
        return onsite if sorted(onsite) == sorted(wanted) else None

    assert sorted(await eventually(on_timeline, "every on-site step")) == sorted(wanted)
    customer = (await api.get(f"/issues/{issue_id}/onsite", headers=CUSTOMER)).json()
    assert customer["visits"][0]["engineer_first_name"] == "Felix"
    assert customer["visits"][0]["engineer_name"] is None
    assert customer["parts"][0]["warehouse"] is None
    assert customer["parts"][0]["state"] == "installed"
