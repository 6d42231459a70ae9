"""The manager dashboard, the assign page and the admin pages in process (real database, the
API tests' fake Temporal): who may open which page, figures that link to their issues,
forms with errors at the field, the dry run, presence and tokens."""

import re
from datetime import UTC, datetime, timedelta

from db.repositories import issues as issue_repo
from domain.enums import ActorKind, ContractLevel, Tier, WarrantyStatus
from domain.lifecycle import IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    ConfirmClosureCommand,
    Entitlement,
    OwnerChoice,
    ProposeResolutionCommand,
    RecordBatch,
)
from tests.db.builders import CONFIG, intake
from tests.db.builders import CUSTOMER as CUSTOMER_ACTOR
from tests.integration.conftest import CUSTOMER, NEW_ISSUE, unique
from tests.web.conftest import CSRF, Web

PREMIUM = Entitlement(
    contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)


async def opened_issue(web: Web) -> str:
    response = await web.http.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": unique("manage")}
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


async def recorded_issue(
    web: Web,
    issue_id: str,
    *,
    closed: bool,
    ago: timedelta = timedelta(minutes=10),
    owner: tuple[str, str, str] = ("alice", "Alice Martin", "t1-network"),
) -> None:
    """An issue Alice answered today, as the worker records it (the statistics read the
    recorded facts); closed with a rating of 4 when `closed`."""
    now = datetime.now(UTC).replace(microsecond=0) - ago
    issue = intake(issue_id, organisation_id="acme", product_id="edge-router", created_at=now)
    case = IssueCase.open(issue, CONFIG)
    engineer, name, team = owner
    choice = OwnerChoice(
        engineer_id=engineer, engineer_name=name, tier=Tier.FRONTLINE, team_id=team
    )
    actor = Actor(kind=ActorKind.ENGINEER, id=engineer, name=name)
    steps = [
        case.register(now, CUSTOMER_ACTOR),
        case.accept(PREMIUM, now),
        case.assign_initial(choice, now),
        case.acknowledge(AcknowledgeCommand(actor=actor), now + timedelta(minutes=1)),
    ]
    if closed:
        summary = ProposeResolutionCommand(actor=actor, summary="fixed")
        steps.append(case.propose_resolution(summary, now + timedelta(minutes=2)))
        accept = ConfirmClosureCommand(actor=CUSTOMER_ACTOR, accept=True, satisfaction=4)
        steps.append(case.confirm_closure(accept, now + timedelta(minutes=3)))
    async with web.db.transaction() as session:
        for index, effects in enumerate(steps):
            batch = RecordBatch(
                status=case.status,
                events=tuple(effects.events),
                comment=effects.comment,
                intake=issue if index == 0 else None,
            )
            await issue_repo.apply_record_batch(session, batch, f"issue-{issue_id}")


async def test_customers_and_engineers_may_not_open_the_dashboard_or_the_admin_pages(
    web: Web,
) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    for path in ("/manage", "/manage/assign", "/admin", "/admin/rules/new", "/admin/tokens"):
        assert (await web.http.get(path)).status_code == 403, path
    await web.sign_in("alice", "demo-alice-tier1")
    for path in ("/manage", "/admin", "/admin/dry-run", "/manage/issues?metric=created"):
        assert (await web.http.get(path)).status_code == 403, path
    assert (await web.http.get("/workspace/me")).status_code == 200


async def test_a_manager_sees_the_workload_of_their_teams_only(web: Web) -> None:
    await web.sign_in("nina", "demo-nina-manager")
    page = await web.http.get("/manage")
    assert page.status_code == 200, page.text
    assert "Frontline Network" in page.text and "Alice Martin" in page.text
    assert "Domain Experts" not in page.text and "Frank Weber" not in page.text
    assert 'type="application/json" id="chart-data"' in page.text
    assert "/static/vendor/chart.js-4.4.7/chart.umd.js" in page.text
    await web.sign_in("admin", "demo-admin-itr")
    assert "Domain Experts" in (await web.http.get("/manage?period=month")).text


async def test_every_figure_links_to_the_issues_it_counts(web: Web) -> None:
    await recorded_issue(web, "D-OPEN", closed=False)
    await recorded_issue(web, "D-DONE", closed=True)
    await web.sign_in("nina", "demo-nina-manager")
    page = await web.http.get("/manage")
    links = [  # in page order: each figure's own link comes before its previous period's
        link.replace("&amp;", "&")
        for link in re.findall(r'href="(/manage/issues\?[^"]+)"', page.text)
    ]
    created = next(link for link in links if "metric=created" in link)
    closed = next(link for link in links if "metric=closed" in link)
    opened_list = (await web.http.get(created)).text
    assert "D-OPEN" in opened_list and "D-DONE" in opened_list
    closed_list = (await web.http.get(closed)).text
    assert "D-DONE" in closed_list and "D-OPEN" not in closed_list
    assert (await web.http.get("/manage/issues?metric=nonsense")).status_code == 422


async def test_a_manager_assigns_several_issues_and_reads_a_result_per_issue(web: Web) -> None:
    first, second = await opened_issue(web), await opened_issue(web)
    await web.sign_in("nina", "demo-nina-manager")
    page = await web.http.get("/manage/assign")
    assert page.status_code == 200
    token = CSRF.search(page.text)
    assert token
    missing = await web.http.post(
        "/manage/assign", data={"csrf_token": token.group(1), "engineer_id": "alice"}
    )
    assert missing.status_code == 422
    assert 'id="issue_ids-error"' in missing.text
    answer = await web.http.post(
        "/manage/assign",
        data={
            "csrf_token": token.group(1),
            "issue_id": [first, second, "ISS-NOPE"],
            "engineer_id": "alice",
        },
    )
    assert answer.status_code == 200, answer.text
    results = answer.text[answer.text.index('id="results-head"') :]
    assert first in results and second in results and "ISS-NOPE" in results
    assert "not found" in results


async def test_a_routing_rule_form_shows_each_error_at_its_field(web: Web) -> None:
    await web.sign_in("admin", "demo-admin-itr")
    token = await web.csrf("/admin/rules/new")
    bad = await web.http.post(
        "/admin/rules",
        data={
            "csrf_token": token,
            "id": "vip-routers",
            "name": "VIP routers",
            "position": "-3",
            "criteria.severities": "9",
        },
    )
    assert bad.status_code == 422
    assert 'id="position-error"' in bad.text and 'id="criteria.severities-error"' in bad.text
    unknown = await web.http.post(
        "/admin/rules",
        data={"csrf_token": token, "id": "vip", "name": "VIP", "position": "5", "teams.1": "nope"},
    )
    assert unknown.status_code == 422
    assert 'id="teams.1-error"' in unknown.text, re.findall(r"field-error[^<]*<", unknown.text)
    created = await web.http.post(
        "/admin/rules",
        data={
            "csrf_token": token,
            "id": "vip-routers",
            "name": "VIP routers",
            "position": "0",
            "criteria.products": "edge-router",
            "criteria.contract_levels": "premium",
            "teams.1": "t1-storage",
        },
    )
    assert created.status_code == 303
    again = await web.http.post(
        "/admin/rules",
        data={"csrf_token": token, "id": "vip-routers", "name": "Twice", "position": "1"},
    )
    assert again.status_code == 409 and "already exists" in again.text
    edit = await web.http.get("/admin/rules/vip-routers")
    assert 'value="edge-router"' in edit.text
    assert (await web.http.post("/admin/rules/vip-routers/delete", data={})).status_code == 403
    deleted = await web.http.post("/admin/rules/vip-routers/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert "vip-routers" not in (await web.http.get("/admin")).text


async def test_a_manager_reads_the_rules_and_runs_the_dry_run_but_may_not_edit(web: Web) -> None:
    await web.sign_in("nina", "demo-nina-manager")
    overview = await web.http.get("/admin")
    assert overview.status_code == 200 and "network-products" in overview.text
    assert (await web.http.get("/admin/rules/network-products")).status_code == 403
    token = await web.csrf("/admin/dry-run")
    answer = await web.http.post(
        "/admin/dry-run", data={"csrf_token": token, "product_id": "edge-router", "tier": "1"}
    )
    assert answer.status_code == 200, answer.text
    result = answer.text[answer.text.index('id="dry-run-result"') :]
    assert "Frontline Network" in result and "network-products" in result
    assert "Alice Martin" in result and "Bob Chen" in result
    wrong = await web.http.post(
        "/admin/dry-run", data={"csrf_token": token, "product_id": "no-such-product"}
    )
    assert wrong.status_code == 422 and 'id="product_id-error"' in wrong.text


async def test_presence_is_set_by_the_engineer_and_by_their_manager_only(web: Web) -> None:
    await web.sign_in("alice", "demo-alice-tier1")
    token = await web.csrf("/workspace/me")
    mine = await web.http.post(
        "/workspace/me/presence", data={"csrf_token": token, "presence": "away"}
    )
    assert mine.status_code == 303
    assert 'value="away" checked' in (await web.http.get("/workspace/me")).text
    await web.sign_in("nina", "demo-nina-manager")
    token = await web.csrf("/admin")
    bob = await web.http.post(
        "/admin/engineers/bob/presence", data={"csrf_token": token, "presence": "off_duty"}
    )
    assert bob.status_code == 303
    frank = await web.http.post(
        "/admin/engineers/frank/presence", data={"csrf_token": token, "presence": "away"}
    )
    assert frank.status_code == 403


async def test_an_admin_creates_a_token_and_sees_it_once(web: Web) -> None:
    await web.sign_in("admin", "demo-admin-itr")
    token = await web.csrf("/admin/tokens")
    bad = await web.http.post(
        "/admin/tokens", data={"csrf_token": token, "name": "CI", "role": "wizard"}
    )
    assert bad.status_code == 422 and 'id="role-error"' in bad.text
    made = await web.http.post(
        "/admin/tokens", data={"csrf_token": token, "name": "Monitoring", "role": "admin"}
    )
    assert made.status_code == 201, made.text
    shown = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
    assert shown
    rules = await web.http.get(
        "/routing/rules", headers={"Authorization": f"Bearer {shown.group(1)}"}
    )
    assert rules.status_code == 200  # the token works once shown
    listing = (await web.http.get("/admin/tokens")).text
    assert shown.group(1) not in listing and "Monitoring" in listing
    revoke = re.search(
        r'action="(/admin/tokens/[^"]+/revoke)"[^>]*>\s*<input[^>]*>\s*'
        r'<button[^>]*"Revoke Monitoring"',
        listing,
    )
    assert revoke
    assert (await web.http.post(revoke.group(1), data={"csrf_token": token})).status_code == 303
    assert (await web.http.post(revoke.group(1), data={"csrf_token": token})).status_code == 409
    refused = await web.http.get(
        "/routing/rules", headers={"Authorization": f"Bearer {shown.group(1)}"}
    )
    assert refused.status_code == 401


async def test_an_admin_edits_an_sla_policy_and_reads_each_error_at_its_field(web: Web) -> None:
    await web.sign_in("admin", "demo-admin-itr")
    overview = await web.http.get("/admin")
    link = re.search(r'href="(/admin/sla/policies/[a-z]+/\d)"', overview.text)
    assert link
    form = await web.http.get(link.group(1))
    assert form.status_code == 200
    token = CSRF.search(form.text)
    assert token
    calendar = re.search(r'<option value="([^"]+)" selected', form.text)
    assert calendar
    fields = {"csrf_token": token.group(1), "calendar": calendar.group(1)}
    bad = await web.http.post(
        link.group(1),
        data={**fields, "first_response": "soon", "resolution": "8", "warnings": "50, 150"},
    )
    assert bad.status_code == 422
    assert 'id="first_response-error"' in bad.text and 'id="warnings-error"' in bad.text
    saved = await web.http.post(
        link.group(1),
        data={**fields, "first_response": "1.5", "resolution": "400", "warnings": "50, 80"},
    )
    assert saved.status_code == 303, saved.text
    assert 'value="1.5"' in (await web.http.get(link.group(1))).text
    await web.sign_in("nina", "demo-nina-manager")
    assert (await web.http.get(link.group(1))).status_code == 403


async def test_the_queues_read_mine_my_team_and_unowned_from_the_dispatch_filters(
    web: Web,
) -> None:
    await recorded_issue(web, "Q-TEAM", closed=False)  # Alice's, in Frontline Network
    unowned = await opened_issue(web)  # no worker here: nobody owns it
    await web.sign_in("alice", "demo-alice-tier1")
    mine = (await web.http.get("/workspace/rows?queue=mine")).text
    assert "Q-TEAM" in mine and unowned not in mine
    team = (await web.http.get("/workspace?queue=team")).text
    assert "Q-TEAM" in team and 'aria-current="page">My team' in team
    nobody = (await web.http.get("/workspace/rows?queue=unowned")).text
    assert unowned in nobody and "Q-TEAM" not in nobody
    await web.sign_in("frank", "demo-frank-tier2")
    assert "Q-TEAM" not in (await web.http.get("/workspace/rows?queue=team")).text
    other = (await web.http.get("/workspace/rows?queue=team&team=t1-network")).text
    assert "Q-TEAM" in other


async def test_a_manager_sees_the_overdue_issues_of_their_teams_only(web: Web) -> None:
    month = timedelta(days=30)
    await recorded_issue(web, "R-NINA", closed=False, ago=month)
    await recorded_issue(
        web, "R-OSCAR", closed=False, ago=month, owner=("dave", "Dave Okafor", "t1-storage")
    )
    await web.sign_in("nina", "demo-nina-manager")
    risk = (await web.http.get("/manage")).text
    risk = risk[risk.index('id="risk-head"') : risk.index('id="workload-head"')]
    assert "R-NINA" in risk and "R-OSCAR" not in risk
    await web.sign_in("admin", "demo-admin-itr")
    everything = (await web.http.get("/manage")).text
    assert "R-NINA" in everything and "R-OSCAR" in everything
