"""Dispatch over HTTP on the demo organisation (SQLite and PostgreSQL): team, engineer and
routing-rule administration with 422s at field paths, presence rights, the dry run, and the
work views (my issues, team queue and workload, an engineer's issues, unowned issues)."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from db.models import IssueRow
from domain.enums import Tier
from domain.models import OwnerChoice
from tests.api.conftest import Api
from tests.api.test_bad_input import assert_unprocessable_at
from tests.db.builders import T0, add_issue, intake
from tests.integration.conftest import ADMIN, CUSTOMER, ENGINEER, MANAGER, auth

pytestmark = pytest.mark.timeout(120)

DISPATCHER = auth("demo-dispatcher")
OTHER_MANAGER = auth("demo-manager-paula")
FIELD_ENGINEER = auth("demo-field-engineer-felix")
WAREHOUSE = auth("demo-warehouse")

NEW_TEAM = {"id": "t1-chat", "name": "Chat Desk", "tier": 1, "product_ids": ["cloud-console"]}
NEW_ENGINEER = {
    "id": "zoe",
    "name": "Zoe Park",
    "email": "zoe.park@itr.example",
    "team_id": "t1-network",
    "team_ids": ["t1-storage"],
    "skills": {"edge-router": 3},
    "languages": ["en"],
    "capacity": 4,
}
NEW_RULE = {
    "id": "globex-routers",
    "name": "Globex routers",
    "position": 5,
    "criteria": {"organisations": ["globex"], "products": ["edge-router"]},
    "teams": {"1": "t1-field"},
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


# --- teams and engineers ------------------------------------------------------------------------


async def test_an_admin_creates_edits_and_deletes_a_team_with_its_routing_attributes(
    api: Api,
) -> None:
    body = {
        **NEW_TEAM,
        "regions": ["eu"],
        "languages": ["en", "de"],
        "calendar": "berlin-business-hours",
        "strategy": "round_robin",
        "offer_timeout_minutes": 15,
        "load_counts_running_only": False,
    }
    created = ok(await api.http.post("/teams", json=body, headers=ADMIN), 201)
    assert created["strategy"] == "round_robin" and created["offer_timeout_minutes"] == 15
    assert created["languages"] == ["de", "en"] and created["calendar"] == "berlin-business-hours"
    update = {"name": "Chat Desk EU", "product_ids": [], "manager_id": "nina"}
    edited = ok(await api.http.put("/teams/t1-chat", json=update, headers=ADMIN))
    assert (edited["name"], edited["strategy"], edited["manager_id"]) == (
        "Chat Desk EU",
        "least_loaded",
        "nina",
    )
    assert ok(await api.http.get("/teams/t1-chat", headers=DISPATCHER)) == edited
    ok(await api.http.delete("/teams/t1-chat", headers=ADMIN), 204)
    assert (await api.http.get("/teams/t1-chat", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"product_ids": ["nope"]}, "body.product_ids.0"),
        ({"calendar": "mars-time"}, "body.calendar"),
        ({"offer_timeout_minutes": 0}, "body.offer_timeout_minutes"),
        ({"strategy": "lottery"}, "body.strategy"),
        ({"languages": ["English!"]}, "body.languages.0"),
    ],
)
async def test_bad_team_fields_are_422s_at_their_path(
    api: Api, changes: dict[str, Any], loc: str
) -> None:
    response = await api.http.post("/teams", json={**NEW_TEAM, **changes}, headers=ADMIN)
    assert_unprocessable_at(response, loc)


async def test_a_team_still_in_use_cannot_be_deleted(api: Api) -> None:
    rule = {"id": "field-visits", "name": "Field visits", "position": 5, "teams": {"1": "t1-field"}}
    ok(await api.http.post("/routing/rules", json=rule, headers=ADMIN), 201)
    in_rules = await api.http.delete("/teams/t1-field", headers=ADMIN)
    assert in_rules.status_code == 409 and "field-visits" in in_rules.json()["detail"]
    as_default = await api.http.delete("/teams/t2-experts", headers=ADMIN)
    assert as_default.status_code == 409  # a rule's target, and the tier-2 default
    ok(await api.http.post("/teams", json=NEW_TEAM, headers=ADMIN), 201)
    ok(await api.http.put("/routing/defaults/1", json={"team_id": "t1-chat"}, headers=ADMIN))
    as_default = await api.http.delete("/teams/t1-chat", headers=ADMIN)
    assert as_default.status_code == 409 and "default team of tier 1" in as_default.json()["detail"]
    assert (await api.http.delete("/teams/nope", headers=ADMIN)).status_code == 404
    assert (await api.http.post("/teams", json=NEW_TEAM, headers=ENGINEER)).status_code == 403


async def test_an_admin_creates_an_engineer_in_several_teams_with_skills(api: Api) -> None:
    created = ok(await api.http.post("/engineers", json=NEW_ENGINEER, headers=ADMIN), 201)
    assert created["team_ids"] == ["t1-network", "t1-storage"]
    assert (created["skills"], created["capacity"], created["presence"]) == (
        {"edge-router": 3},
        4,
        "available",
    )
    members = ok(await api.http.get("/engineers?team_id=t1-storage", headers=ADMIN))
    assert "zoe" in [m["id"] for m in members]
    update = {
        "name": "Zoe Park",
        "email": "zoe@itr.example",
        "team_id": "t1-storage",
        "substitute_id": "dave",
        "presence": "away",
    }
    edited = ok(await api.http.put("/engineers/zoe", json=update, headers=ADMIN))
    assert (edited["team_ids"], edited["substitute_id"], edited["presence"]) == (
        ["t1-storage"],
        "dave",
        "away",
    )
    again = await api.http.post("/engineers", json=NEW_ENGINEER, headers=ADMIN)
    assert again.status_code == 409
    gone = ok(await api.http.delete("/engineers/zoe", headers=ADMIN))
    assert (gone["active"], gone["presence"]) == (False, "off_duty")


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"team_ids": ["nope"]}, "body.team_ids.0"),
        ({"team_ids": ["t2-experts"]}, "body.team_ids.0"),
        ({"team_id": "nope"}, "body.team_id"),
        ({"substitute_id": "zoe"}, "body.substitute_id"),
        ({"substitute_id": "nobody"}, "body.substitute_id"),
        ({"capacity": -1}, "body.capacity"),
        ({"skills": {"edge-router": 6}}, "body.skills.edge-router"),
        ({"presence": "asleep"}, "body.presence"),
    ],
)
async def test_bad_engineer_fields_are_422s_at_their_path(
    api: Api, changes: dict[str, Any], loc: str
) -> None:
    response = await api.http.post("/engineers", json={**NEW_ENGINEER, **changes}, headers=ADMIN)
    assert_unprocessable_at(response, loc)


async def test_an_unknown_engineer_is_a_404(api: Api) -> None:
    update = {"name": "No One", "email": "no@itr.example", "team_id": "t1-network"}
    assert (await api.http.put("/engineers/nobody", json=update, headers=ADMIN)).status_code == 404
    assert (await api.http.get("/engineers/nobody", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(
    ("headers", "engineer_id", "status"),
    [
        (ENGINEER, "alice", 200),  # themself
        (ENGINEER, "bob", 403),  # a colleague
        (MANAGER, "bob", 200),  # nina manages t1-network
        (OTHER_MANAGER, "bob", 403),  # paula does not
        (DISPATCHER, "bob", 200),
        (ADMIN, "bob", 200),
        (CUSTOMER, "bob", 403),
        (WAREHOUSE, "bob", 403),
        (ADMIN, "nobody", 404),
    ],
)
async def test_who_may_set_an_engineers_presence(
    api: Api, headers: dict[str, str], engineer_id: str, status: int
) -> None:
    response = await api.http.put(
        f"/engineers/{engineer_id}/presence", json={"presence": "away"}, headers=headers
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["presence"] == "away"


# --- routing rules ------------------------------------------------------------------------------


async def test_an_admin_manages_routing_rules_and_defaults(api: Api) -> None:
    created = ok(await api.http.post("/routing/rules", json=NEW_RULE, headers=ADMIN), 201)
    assert created["criteria"]["organisations"] == ["globex"] and created["teams"] == {
        "1": "t1-field"
    }
    rules = ok(await api.http.get("/routing/rules", headers=DISPATCHER))
    assert rules[0]["id"] == "globex-routers"  # position 5 comes before the seeded 10, 20...
    update = {**NEW_RULE, "position": 99, "team_id": "t2-experts", "teams": {}}
    del update["id"]
    edited = ok(await api.http.put("/routing/rules/globex-routers", json=update, headers=ADMIN))
    assert edited["teams"] == {"2": "t2-experts"}
    again = await api.http.post("/routing/rules", json=NEW_RULE, headers=ADMIN)
    assert again.status_code == 409
    ok(await api.http.delete("/routing/rules/globex-routers", headers=ADMIN), 204)
    assert (
        await api.http.delete("/routing/rules/globex-routers", headers=ADMIN)
    ).status_code == 404
    defaults = ok(await api.http.get("/routing/defaults", headers=ENGINEER))
    assert defaults[0] == {"tier": 1, "team_id": "t1-storage"}
    ok(await api.http.put("/routing/defaults/1", json={"team_id": "t1-network"}, headers=ADMIN))
    assert (
        await api.http.post("/routing/rules", json=NEW_RULE, headers=MANAGER)
    ).status_code == 403


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"teams": {"1": "t2-experts"}}, "body.teams.1"),
        ({"teams": {"2": "nope"}}, "body.teams.2"),
        ({"teams": {"4": "t1-field"}}, "body.teams.4.[key]"),
        ({"teams": {}}, "body.teams"),
        ({"team_id": "t1-field"}, "body.team_id"),
        ({"criteria": {"products": ["nope"]}}, "body.criteria.products.0"),
        ({"criteria": {"organisations": ["acme", "nope"]}}, "body.criteria.organisations.1"),
        ({"criteria": {"severities": ["2"]}}, "body.criteria.severities.0"),
        ({"criteria": {"colours": ["red"]}}, "body.criteria.colours"),
        ({"position": -1}, "body.position"),
    ],
)
async def test_bad_routing_rules_are_422s_at_their_path(
    api: Api, changes: dict[str, Any], loc: str
) -> None:
    response = await api.http.post("/routing/rules", json={**NEW_RULE, **changes}, headers=ADMIN)
    assert_unprocessable_at(response, loc)


async def test_a_default_team_must_be_at_its_tier(api: Api) -> None:
    response = await api.http.put(
        "/routing/defaults/2", json={"team_id": "t1-field"}, headers=ADMIN
    )
    assert_unprocessable_at(response, "body.team_id")


# --- dry run ------------------------------------------------------------------------------------


async def test_the_dry_run_explains_every_rule_the_team_and_each_engineer(api: Api) -> None:
    ok(await api.http.put("/engineers/bob/presence", json={"presence": "off_duty"}, headers=ADMIN))
    body = {"product_id": "edge-router", "organisation_id": "acme", "severity": 2}
    answer = ok(await api.http.post("/routing/dry-run", json=body, headers=DISPATCHER))
    assert (answer["owner_id"], answer["team"]["id"], answer["routing"]) == (
        "alice",
        "t1-network",
        "rule network-products",
    )
    rules = {r["rule_id"]: r for r in answer["rules"]}
    assert rules["storage-products"]["failed"] == "products: edge-router not in [storage-array]"
    assert rules["network-products"]["matched"] is True
    engineers = {e["engineer_id"]: e for e in answer["engineers"]}
    assert engineers["bob"] == {**engineers["bob"], "eligible": False, "why": "off duty"}
    assert engineers["alice"]["chosen"] is True and engineers["alice"]["skill_level"] == 4
    assert answer["strategy"].startswith("least loaded")
    assert answer["facts"]["contract_level"] == "premium" and answer["facts"]["region"] == "eu"


async def test_the_dry_run_of_an_issue_routes_it_as_it_stands_and_writes_nothing(api: Api) -> None:
    async with api.db.transaction() as session:
        await add_issue(session, intake("D1", product_id="storage-array"))
    for _ in range(2):
        answer = ok(await api.http.post("/routing/dry-run", json={"issue_id": "D1"}, headers=ADMIN))
        assert (answer["team"]["strategy"], answer["owner_id"]) == ("round_robin", "dave")
    expert = ok(
        await api.http.post("/routing/dry-run", json={"issue_id": "D1", "tier": 2}, headers=ADMIN)
    )
    assert expert["owner_id"] == "grace"


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({}, 422, "body.product_id"),
        ({"product_id": "nope"}, 422, "body.product_id"),
        ({"product_id": "edge-router", "team_id": "nope"}, 422, "body.team_id"),
        ({"issue_id": "ITR-NOPE"}, 404, None),
    ],
)
async def test_a_bad_dry_run_is_a_422_or_404(
    api: Api, body: dict[str, Any], status: int, loc: str | None
) -> None:
    response = await api.http.post("/routing/dry-run", json=body, headers=ADMIN)
    if loc is not None:
        assert_unprocessable_at(response, loc)
    assert response.status_code == status


# --- work views ---------------------------------------------------------------------------------


def owner(engineer_id: str, team_id: str = "t1-network") -> OwnerChoice:
    return OwnerChoice(
        engineer_id=engineer_id, engineer_name=engineer_id, tier=Tier.FRONTLINE, team_id=team_id
    )


async def some_issues(api: Api) -> None:
    """alice owns W1 (due later) and W2 (due sooner) and closed W3; W4 waits unowned in
    t1-network's queue."""
    async with api.db.transaction() as session:
        later, sooner = T0 + timedelta(hours=8), T0 + timedelta(hours=1)
        await add_issue(session, intake("W1"), owner=owner("alice"), state="assigned")
        await add_issue(session, intake("W2"), owner=owner("alice"), state="in_progress")
        await add_issue(session, intake("W3"), owner=owner("alice"), state="closed")
        await add_issue(session, intake("W4"), team_id="t1-network", state="accepted")
        await add_issue(session, intake("W5"), owner=owner("dave", "t1-storage"), state="assigned")
    # next_deadline is derived from the SLA snapshot: set it directly for ordering.
    async with api.db.transaction() as session:
        await session.execute(
            sa.update(IssueRow).where(IssueRow.id == "W1").values(next_deadline=later)
        )
        await session.execute(
            sa.update(IssueRow).where(IssueRow.id == "W2").values(next_deadline=sooner)
        )


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_my_issues_are_the_callers_open_ones_most_urgent_first(api: Api) -> None:
    await some_issues(api)
    mine = ok(await api.http.get("/me/issues", headers=ENGINEER))
    assert ids(mine) == ["W2", "W1"] and mine["items"][0]["team_id"] == "t1-network"
    paged = ok(await api.http.get("/me/issues?limit=1", headers=ENGINEER))
    assert ids(paged) == ["W2"] and paged["next_cursor"]
    rest = ok(
        await api.http.get(f"/me/issues?limit=1&cursor={paged['next_cursor']}", headers=ENGINEER)
    )
    assert ids(rest) == ["W1"]
    assert ids(ok(await api.http.get("/me/issues", headers=DISPATCHER))) == []
    assert (await api.http.get("/me/issues", headers=CUSTOMER)).status_code == 403


async def test_a_team_queue_lists_unassigned_and_assigned_issues_by_urgency(api: Api) -> None:
    await some_issues(api)
    queue = ok(await api.http.get("/teams/t1-network/queue", headers=DISPATCHER))
    assert ids(queue) == ["W2", "W1", "W4"]
    assert queue["items"][0]["next_deadline"] is not None
    waiting = ok(await api.http.get("/teams/t1-network/queue?assigned=false", headers=MANAGER))
    assert ids(waiting) == ["W4"]
    assert (await api.http.get("/teams/nope/queue", headers=ADMIN)).status_code == 404
    assert (await api.http.get("/teams/t1-network/queue", headers=CUSTOMER)).status_code == 403


async def test_a_team_workload_counts_open_issues_against_capacity(api: Api) -> None:
    await some_issues(api)
    ok(await api.http.put("/engineers/carol/presence", json={"presence": "away"}, headers=ADMIN))
    workload = ok(await api.http.get("/teams/t1-network/workload", headers=FIELD_ENGINEER))
    rows = {e["engineer_id"]: e for e in workload["engineers"]}
    assert set(rows) == {"alice", "bob", "carol"}  # nina manages, takes no issues
    assert (rows["alice"]["open_issues"], rows["alice"]["capacity"], rows["alice"]["free"]) == (
        2,
        100,
        98,
    )
    assert rows["carol"]["presence"] == "away"
    assert (await api.http.get("/teams/t1-network/workload", headers=CUSTOMER)).status_code == 403


async def test_an_engineers_issues_and_the_unowned_issues(api: Api) -> None:
    await some_issues(api)
    assert ids(ok(await api.http.get("/engineers/alice/issues", headers=MANAGER))) == ["W2", "W1"]
    everything = ok(
        await api.http.get("/engineers/alice/issues?include_closed=true", headers=MANAGER)
    )
    assert set(ids(everything)) == {"W1", "W2", "W3"}
    assert (await api.http.get("/engineers/nobody/issues", headers=ADMIN)).status_code == 404
    unowned = ok(await api.http.get("/issues?owner_id=none", headers=ENGINEER))
    assert ids(unowned) == ["W4"]


async def test_a_team_may_have_several_managers_and_each_sets_presence(api: Api) -> None:
    team = ok(await api.http.get("/teams/t1-network", headers=ADMIN))
    assert (team["manager_id"], team["manager_ids"]) == ("nina", ["nina"])
    assert (
        await api.http.put(
            "/engineers/bob/presence", json={"presence": "away"}, headers=OTHER_MANAGER
        )
    ).status_code == 403
    update = {
        "name": team["name"],
        "product_ids": team["product_ids"],
        "manager_id": "nina",
        "manager_ids": ["paula"],
    }
    edited = ok(await api.http.put("/teams/t1-network", json=update, headers=ADMIN))
    assert edited["manager_ids"] == ["nina", "paula"]
    ok(
        await api.http.put(
            "/engineers/bob/presence", json={"presence": "away"}, headers=OTHER_MANAGER
        )
    )
    not_a_manager = {**update, "manager_ids": ["bob"]}
    response = await api.http.put("/teams/t1-network", json=not_a_manager, headers=ADMIN)
    assert_unprocessable_at(response, "body.manager_ids.0")
