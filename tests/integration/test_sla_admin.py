"""The SLA admin API: domain validation as 422s at exact field paths, conflicts, roles."""

from typing import Any

import httpx
import pytest

from tests.integration.conftest import ADMIN, CUSTOMER, ENGINEER, INTEGRATION, MANAGER, Stack

pytestmark = pytest.mark.timeout(60)

WEEKDAYS = [[["09:00", "12:00"], ["13:00", "18:00"]]] * 5 + [[], []]
CALENDAR: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "weekly": WEEKDAYS,
    "holidays": ["2031-12-25"],
}
POLICY: dict[str, Any] = {
    "first_response": "PT2H",
    "resolution": "PT20H",
    "calendar": "office",
    "tier_budgets": {"1": {"share": 0.3}, "2": {"share": 0.4}, "3": {"share": 0.3}},
    "warnings": [50, 75, 90],
}


def _error_paths(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["loc"] for error in response.json()["errors"]]


async def test_calendar_crud_and_validation_paths(stack: Stack) -> None:
    api = stack.api()
    created = await api.put("/sla/calendars/office", json=CALENDAR, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["calendar"]["name"] == "office"
    fetched = await api.get("/sla/calendars/office", headers=ENGINEER)
    assert fetched.status_code == 200
    replaced = await api.put("/sla/calendars/office", json=fetched.json(), headers=ADMIN)
    assert replaced.status_code == 200, replaced.text
    names = [
        c["calendar"]["name"] for c in (await api.get("/sla/calendars", headers=MANAGER)).json()
    ]
    assert "office" in names and "24x7" in names

    overlapping = [[["09:00", "12:00"], ["11:00", "13:00"]], *WEEKDAYS[1:]]
    response = await api.put(
        "/sla/calendars/office", json={**CALENDAR, "weekly": overlapping}, headers=ADMIN
    )
    assert _error_paths(response) == ["body.weekly.0.1"]
    response = await api.put(
        "/sla/calendars/office", json={**CALENDAR, "timezone": "Mars/Olympus"}, headers=ADMIN
    )
    assert _error_paths(response) == ["body.timezone"]
    response = await api.put(
        "/sla/calendars/office", json={**CALENDAR, "name": "elsewhere"}, headers=ADMIN
    )
    assert _error_paths(response) == ["body.name"]

    assert (await api.delete("/sla/calendars/office", headers=ADMIN)).status_code == 204
    assert (await api.get("/sla/calendars/office", headers=ADMIN)).status_code == 404
    assert (await api.delete("/sla/calendars/office", headers=ADMIN)).status_code == 404


async def test_policy_put_validates_and_versions(stack: Stack) -> None:
    api = stack.api()
    await api.put("/sla/calendars/office", json=CALENDAR, headers=ADMIN)
    url = "/sla/policies/premium/2"
    first = await api.put(url, json=POLICY, headers=ADMIN)
    assert first.status_code == 200, first.text  # the seed already had premium/2
    version = first.json()["version"]
    assert first.json()["policy"]["resolution"] == "PT20H"
    second = await api.put(url, json={**POLICY, "resolution": "PT30H"}, headers=ADMIN)
    assert second.json()["version"] == version + 1
    fetched = await api.get(url, headers=ENGINEER)
    assert fetched.json()["policy"]["resolution"] == "P1DT6H"
    assert fetched.json()["version"] == version + 1

    over = {**POLICY, "tier_budgets": {"1": {"share": 0.6}, "2": {"share": 0.6}}}
    assert _error_paths(await api.put(url, json=over, headers=ADMIN)) == ["body.tier_budgets"]
    zero = {**POLICY, "warnings": [0, 50]}
    assert _error_paths(await api.put(url, json=zero, headers=ADMIN)) == ["body.warnings"]
    hundred = {**POLICY, "warnings": [50, 100]}
    assert _error_paths(await api.put(url, json=hundred, headers=ADMIN)) == ["body.warnings"]
    unknown = {**POLICY, "calendar": "nowhere"}
    assert _error_paths(await api.put(url, json=unknown, headers=ADMIN)) == ["body.calendar"]
    other_key = {**POLICY, "severity": 3}
    assert _error_paths(await api.put(url, json=other_key, headers=ADMIN)) == ["body.severity"]
    assert (await api.put("/sla/policies/gold/2", json=POLICY, headers=ADMIN)).status_code == 422

    in_use = await api.delete("/sla/calendars/office", headers=ADMIN)
    assert in_use.status_code == 409
    assert "premium/2" in in_use.json()["detail"]


async def test_the_check_reports_every_combination_the_seed_covers(stack: Stack) -> None:
    api = stack.api()
    check = await api.get("/sla/policies/check", headers=MANAGER)
    assert check.status_code == 200
    assert check.json() == {"complete": True, "missing": []}
    policies = (await api.get("/sla/policies", headers=ENGINEER)).json()
    assert len(policies) == 12


async def test_contract_overrides_are_validated(stack: Stack) -> None:
    api = stack.api()
    url = "/sla/contracts/ctr-acme-premium/overrides"
    good = {"targets": {"2": {"resolution": "PT10H"}}}
    response = await api.put(url, json=good, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["overrides"]["targets"]["2"]["resolution"] == "PT10H"
    unknown_field = {"targets": {"2": {"calendar": "24x7"}}}
    assert _error_paths(await api.put(url, json=unknown_field, headers=ADMIN)) == [
        "body.targets.2.calendar"
    ]
    negative = {"targets": {"1": {"first_response": "-PT1H"}}}
    assert _error_paths(await api.put(url, json=negative, headers=ADMIN)) == [
        "body.targets.1.first_response"
    ]
    missing = await api.put("/sla/contracts/nope/overrides", json=good, headers=ADMIN)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("headers", "read", "write"),
    [
        (ADMIN, 200, 200),
        (MANAGER, 200, 403),
        (ENGINEER, 200, 403),
        (CUSTOMER, 403, 403),
        (INTEGRATION, 403, 403),
        ({}, 401, 401),
    ],
)
async def test_admins_write_staff_read_customers_are_refused(
    stack: Stack, headers: dict[str, str], read: int, write: int
) -> None:
    api = stack.api()
    for url in (
        "/sla/calendars",
        "/sla/calendars/24x7",
        "/sla/policies",
        "/sla/policies/check",
        "/sla/policies/basic/1",
    ):
        assert (await api.get(url, headers=headers)).status_code == read, url
    calendar = (await api.get("/sla/calendars/24x7", headers=ADMIN)).json()
    policy = (await api.get("/sla/policies/basic/1", headers=ADMIN)).json()
    writes = [
        await api.put("/sla/calendars/24x7", json=calendar, headers=headers),
        await api.put("/sla/policies/basic/1", json=policy, headers=headers),
        await api.put(
            "/sla/contracts/ctr-acme-premium/overrides", json={"targets": {}}, headers=headers
        ),
    ]
    assert [w.status_code for w in writes] == [write] * 3
    delete = await api.delete("/sla/calendars/24x7", headers=headers)
    assert delete.status_code == (409 if write == 200 else write)
