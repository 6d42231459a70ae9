"""The SLA as the API shows and drives it, on the real dev server, worker and database.

Clock views are computed at request time from the issue's recorded snapshot; severity
changes and re-applies go through the workflow (Temporal Updates); the list filters and
the at-risk view read the projection. The demo organisations' contracts are covered by
the seeded policies (Acme: premium, Globex: standard); the fallback test removes them so
the short configured targets apply.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter
from temporalio.client import Client

from db.session import Database
from domain.enums import Severity
from domain.models import SlaTargets
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    MANAGER,
    OTHER_CUSTOMER,
    Stack,
    eventually,
    issue_detail,
    open_issue,
    running_stack,
    unique,
)

pytestmark = pytest.mark.timeout(120)
DURATION = TypeAdapter(timedelta)


def at(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(iso: object) -> timedelta:
    """An ISO 8601 duration as the API writes it (PT1.5S, PT2H3M, P1DT2H)."""
    return DURATION.validate_python(iso)


def clock(sla: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in sla["clocks"] if c["clock"] == name)


async def post(
    api: httpx.AsyncClient, path: str, body: object, headers: dict[str, str], key: str = ""
) -> httpx.Response:
    return await api.post(
        path, json=body, headers={**headers, "Idempotency-Key": key or unique("key")}
    )


async def listed(
    api: httpx.AsyncClient, headers: dict[str, str] = MANAGER, **params: Any
) -> list[str]:
    response = await api.get("/issues", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [str(i["id"]) for i in response.json()["items"]]


async def test_waiting_for_the_customer_pauses_the_resolution_clock(stack: Stack) -> None:
    api = stack.api()
    issue_id = (await open_issue(api, key=unique("pause")))["id"]
    ack = await post(api, f"/issues/{issue_id}/acknowledge", {}, ENGINEER)
    assert ack.status_code == 200, ack.text

    detail = await issue_detail(api, issue_id)
    sla = detail["sla"]
    assert sla["policy"]["contract_level"] == "premium" and sla["policy"]["severity"] == 2
    assert sla["policy"]["fallback"] is False and sla["policy"]["version"] >= 1
    assert sla["policy"]["calendar"] == "berlin-business-hours"
    assert sla["policy"]["first_response"] == "PT1H" and sla["policy"]["resolution"] == "PT16H"
    assert clock(sla, "first_response")["mode"] == "stopped"
    assert clock(sla, "resolution")["mode"] == "running"
    assert clock(sla, "tier_1")["mode"] == "running"  # staff see the tier budget (OLA)
    assert issue_id not in await listed(api, sla="paused")

    asked = await post(api, f"/issues/{issue_id}/request-info", {"question": "Which?"}, ENGINEER)
    assert asked.status_code == 200, asked.text
    sla = (await issue_detail(api, issue_id))["sla"]
    assert clock(sla, "resolution")["mode"] == "paused" and sla["paused"] is True
    assert clock(sla, "resolution")["deadline"] is None  # no deadline while paused
    assert await listed(api, sla="paused") == [issue_id]
    customer = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()
    assert {c["clock"] for c in customer["sla"]["clocks"]} == {"first_response", "resolution"}
    assert await listed(api, headers=CUSTOMER, sla="paused") == [issue_id]

    replied = await post(api, f"/issues/{issue_id}/reply", {"body": "This one."}, CUSTOMER)
    assert replied.status_code == 200, replied.text
    sla = (await issue_detail(api, issue_id))["sla"]
    resolution = clock(sla, "resolution")
    assert resolution["mode"] == "running" and sla["paused"] is False
    assert resolution["deadline"] is not None
    assert timedelta(0) < duration(resolution["paused"])
    assert issue_id not in await listed(api, sla="paused")

    bad = await api.get("/issues", params={"sla": "late"}, headers=MANAGER)
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["errors"]] == ["query.sla"]


async def test_a_severity_change_retargets_the_clocks(stack: Stack) -> None:
    api = stack.api()
    issue_id = (await open_issue(api, key=unique("severity")))["id"]
    url = f"/issues/{issue_id}/severity"
    key = unique("severity-key")
    changed = await post(api, url, {"severity": 1, "reason": "Production is down"}, ENGINEER, key)
    assert changed.status_code == 200, changed.text
    assert changed.json()["issue"]["severity"] == 1
    replayed = await post(api, url, {"severity": 1, "reason": "Production is down"}, ENGINEER, key)
    assert replayed.status_code == 200, replayed.text  # the same command, applied once

    detail = await issue_detail(api, issue_id)
    policy = detail["sla"]["policy"]
    assert (policy["severity"], policy["calendar"]) == (1, "24x7")
    assert (policy["first_response"], policy["resolution"]) == ("PT30M", "PT8H")
    assert clock(detail["sla"], "first_response")["target"] == "PT30M"
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("severity_changed") == 1
    customer = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()
    assert "severity_changed" in [e["kind"] for e in customer["timeline"]]  # public

    same = await post(api, url, {"severity": 1, "reason": "Still down"}, MANAGER)
    assert same.status_code == 409, same.text
    refused = await post(api, url, {"severity": 3, "reason": "Not that bad"}, CUSTOMER)
    assert refused.status_code == 403, refused.text
    bad = await post(api, url, {"severity": 7, "reason": "Off the scale"}, ENGINEER)
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["errors"]] == ["body.severity"]
    missing = await post(api, url, {"severity": 3}, ENGINEER)
    assert [e["loc"] for e in missing.json()["errors"]] == ["body.reason"]
    unknown = await post(api, "/issues/ITR-NOPE/severity", {"severity": 3, "reason": "x"}, ADMIN)
    assert unknown.status_code == 404


async def test_a_policy_edit_reaches_a_running_issue_only_when_reapplied(stack: Stack) -> None:
    api = stack.api()
    issue_id = (await open_issue(api, key=unique("reapply")))["id"]
    closed = (await open_issue(api, key=unique("reapply-closed")))["id"]
    cancelled = await post(api, f"/issues/{closed}/cancel", {"reason": "Not needed"}, CUSTOMER)
    assert cancelled.status_code == 200, cancelled.text
    before = (await issue_detail(api, issue_id))["sla"]["policy"]

    url = "/sla/policies/premium/2"
    current = (await api.get(url, headers=ADMIN)).json()
    edited = {**current["policy"], "resolution": "PT20H"}
    put = await api.put(url, json=edited, headers=ADMIN)
    assert put.status_code == 200, put.text
    version = put.json()["version"]
    assert version == before["version"] + 1

    unchanged = (await issue_detail(api, issue_id))["sla"]["policy"]
    assert unchanged == before  # the snapshot the issue was promised

    refused = await post(api, "/sla/reapply", {"issue_ids": [issue_id]}, MANAGER)
    assert refused.status_code == 403
    response = await post(
        api,
        "/sla/reapply",
        {"issue_ids": [issue_id, closed, "ITR-NOPE"], "reason": "Contract renegotiated"},
        ADMIN,
    )
    assert response.status_code == 200, response.text
    results = {r["issue_id"]: r for r in response.json()["results"]}
    assert [r["issue_id"] for r in response.json()["results"]] == [issue_id, closed, "ITR-NOPE"]
    assert results[issue_id]["outcome"] == "reapplied" and results[issue_id]["issue"]
    assert results[closed]["outcome"] == "refused" and "cancelled" in results[closed]["detail"]
    assert results["ITR-NOPE"]["outcome"] == "not_found" and results["ITR-NOPE"]["issue"] is None

    after = (await issue_detail(api, issue_id))["sla"]
    assert after["policy"]["version"] == version and after["policy"]["resolution"] == "PT20H"
    assert clock(after, "resolution")["target"] == "PT20H"

    one = await post(api, f"/issues/{issue_id}/sla/reapply", {"reason": "again"}, ADMIN)
    assert one.status_code == 200, one.text
    assert (await post(api, f"/issues/{closed}/sla/reapply", None, ADMIN)).status_code == 409
    assert (await post(api, f"/issues/{issue_id}/sla/reapply", None, ENGINEER)).status_code == 403
    empty = await post(api, "/sla/reapply", {"issue_ids": []}, ADMIN)
    assert [e["loc"] for e in empty.json()["errors"]] == ["body.issue_ids"]


async def test_at_risk_lists_issues_breaching_inside_the_window_soonest_first(
    stack: Stack,
) -> None:
    api = stack.api()
    # Globex (standard) severity 1: first response within 1 h, around the clock; Acme
    # (premium) severity 1: within 30 min, so opened later it still breaches first.
    globex = (await open_issue(api, unique("risk"), OTHER_CUSTOMER, severity=1))["id"]
    acme = (await open_issue(api, unique("risk"), CUSTOMER, severity=1))["id"]
    # Severity 4 counts business hours: its first response is at least 8 h away.
    later = (await open_issue(api, unique("risk"), CUSTOMER, severity=4))["id"]

    async def ids(within: str, headers: dict[str, str] = MANAGER) -> list[str]:
        response = await api.get("/sla/at-risk", params={"within": within}, headers=headers)
        assert response.status_code == 200, response.text
        return [i["issue_id"] for i in response.json()["items"]]

    page = (await api.get("/sla/at-risk", params={"within": "PT2H"}, headers=MANAGER)).json()
    assert [i["issue_id"] for i in page["items"]] == [acme, globex]
    first = page["items"][0]
    assert first["clock"] == "first_response" and first["overdue"] is False
    assert timedelta(minutes=25) < duration(first["remaining"]) <= timedelta(minutes=30)
    assert at(first["next_deadline"]) > at(page["as_of"])
    assert page["within"] == "PT2H"
    assert await ids("2700") == [acme]  # 45 min, in seconds
    assert await ids("PT1M") == []
    assert later not in await ids("PT7H")
    assert await ids("PT2H", CUSTOMER) == [acme]  # only the customer's organisation

    for bad in ("soon", "-PT1H", "0"):
        response = await api.get("/sla/at-risk", params={"within": bad}, headers=MANAGER)
        assert response.status_code == 422, bad
        assert [e["loc"] for e in response.json()["errors"]] == ["query.within"]


async def test_the_sla_history_shows_policy_and_clock_changes(stack: Stack) -> None:
    api = stack.api()
    issue_id = (await open_issue(api, key=unique("history")))["id"]
    await post(api, f"/issues/{issue_id}/acknowledge", {}, ENGINEER)
    await post(api, f"/issues/{issue_id}/severity", {"severity": 3, "reason": "Minor"}, ENGINEER)

    response = await api.get(f"/issues/{issue_id}/sla", headers=MANAGER)
    assert response.status_code == 200, response.text
    body = response.json()
    kinds = [e["kind"] for e in body["history"]]
    assert "sla_clocks" in kinds and "severity_changed" in kinds
    assert kinds.count("sla_policy_applied") == 2  # at intake, then after the change
    seqs = [e["seq"] for e in body["history"]]
    assert seqs == sorted(seqs)
    assert body["sla"]["policy"]["severity"] == 3
    assert {c["clock"] for c in body["sla"]["clocks"]} >= {"first_response", "tier_1"}

    customer = (await api.get(f"/issues/{issue_id}/sla", headers=CUSTOMER)).json()
    assert [e["kind"] for e in customer["history"]] == ["severity_changed"]
    assert {c["clock"] for c in customer["sla"]["clocks"]} == {"first_response", "resolution"}
    other = await api.get(f"/issues/{issue_id}/sla", headers=OTHER_CUSTOMER)
    assert other.status_code == 404


# --- short fallback targets, on the real clock ----------------------------------------------


@pytest.fixture
async def fallback_stack(database: Database, temporal_client: Client) -> AsyncIterator[Stack]:
    """No SLA policies, so the configured targets apply: severity 1 breaches its first
    response after 2 s; severity 3 warns at 4 s (50 %) and breaches at 8 s; severity 4
    has an hour."""
    hour = timedelta(hours=1)
    targets = {
        Severity.CRITICAL: SlaTargets(first_response=timedelta(seconds=2), resolution=hour),
        Severity.MAJOR: SlaTargets(first_response=hour, resolution=2 * hour),
        Severity.MINOR: SlaTargets(first_response=timedelta(seconds=8), resolution=hour),
        Severity.LOW: SlaTargets(first_response=hour, resolution=2 * hour),
    }
    async with running_stack(
        database, temporal_client, sla_policies=False, sla_targets=targets
    ) as running:
        yield running


async def test_breached_and_at_risk_filters_follow_the_clocks(fallback_stack: Stack) -> None:
    api = fallback_stack.api()
    breaching = (await open_issue(api, unique("breach"), severity=1))["id"]
    risky = (await open_issue(api, unique("risky"), severity=3))["id"]
    calm = (await open_issue(api, unique("calm"), severity=4))["id"]
    detail = await issue_detail(api, breaching)
    assert detail["sla"]["policy"]["fallback"] is True
    assert detail["sla"]["policy"]["contract_level"] is None
    assert detail["sla"]["policy"]["version"] == 0

    async def at_risk() -> list[str] | None:
        ids = await listed(api, sla="at_risk")
        return ids if risky in ids else None

    assert await eventually(at_risk, "the 50 % warning", within=10, every=0.2) == [risky]
    warned = (await api.get(f"/issues/{risky}/sla", headers=MANAGER)).json()
    assert "sla_warning" in [e["kind"] for e in warned["history"]]

    async def breached() -> list[str] | None:
        ids = await listed(api, sla="breached")
        return ids if breaching in ids else None

    found = await eventually(breached, "the severity-1 breach", within=10, every=0.2)
    assert calm not in found and breaching in found
    assert calm not in await listed(api, sla="at_risk")
    assert breaching not in await listed(api, sla="at_risk")  # breached is not "at risk"
    history = (await api.get(f"/issues/{breaching}/sla", headers=MANAGER)).json()["history"]
    assert [e["kind"] for e in history].count("sla_breached") == 1


@pytest.fixture
async def pause_stack(database: Database, temporal_client: Client) -> AsyncIterator[Stack]:
    """No SLA policies; severity 2 must be resolved within 6 s of counted time."""
    hour = timedelta(hours=1)
    targets = {
        s: SlaTargets(first_response=hour, resolution=timedelta(seconds=6)) for s in Severity
    }
    async with running_stack(
        database, temporal_client, sla_policies=False, sla_targets=targets
    ) as running:
        yield running


async def test_a_pause_moves_the_breach_by_exactly_its_length_on_the_dev_server(
    pause_stack: Stack,
) -> None:
    """The instant is exact (computed from the recorded pause and resume); the timer that
    acts on it fires at or after it, never before."""
    api = pause_stack.api()
    issue = await open_issue(api, unique("exact"))
    issue_id = str(issue["id"])
    assert (await post(api, f"/issues/{issue_id}/acknowledge", {}, ENGINEER)).status_code == 200
    asked = await post(api, f"/issues/{issue_id}/request-info", {"question": "Logs?"}, ENGINEER)
    assert asked.status_code == 200, asked.text
    detail = await issue_detail(api, issue_id)
    assert clock(detail["sla"], "resolution")["mode"] == "paused"
    assert clock(detail["sla"], "resolution")["deadline"] is None
    await asyncio.sleep(2)  # the customer takes a while; the clock must not count it
    replied = await post(api, f"/issues/{issue_id}/reply", {"body": "Here."}, CUSTOMER)
    assert replied.status_code == 200, replied.text

    async def breach() -> dict[str, Any] | None:
        history = (await api.get(f"/issues/{issue_id}/sla", headers=MANAGER)).json()["history"]
        found = [e for e in history if e["kind"] == "sla_breached"]
        return found[0] if found else None

    breached = await eventually(breach, "the resolution breach", within=20, every=0.2)
    timeline = (await issue_detail(api, issue_id))["timeline"]
    paused_at = at(next(e["at"] for e in timeline if e["kind"] == "info_requested"))
    resumed_at = at(next(e["at"] for e in timeline if e["kind"] == "customer_replied"))
    created_at = at(detail["created_at"])
    expected = created_at + timedelta(seconds=6) + (resumed_at - paused_at)
    assert breached["data"]["clock"] == "resolution"
    assert at(breached["data"]["due_at"]) == expected
    assert at(breached["at"]) >= expected
    detail = await issue_detail(api, issue_id)
    resolution = clock(detail["sla"], "resolution")
    assert resolution["breached"] and at(resolution["deadline"]) == expected
    assert duration(resolution["paused"]) == resumed_at - paused_at
