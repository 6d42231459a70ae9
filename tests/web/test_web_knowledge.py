"""Knowledge in the web workspace (real database, fake Temporal): suggestions while a
customer types a title, the article page and its recorded view, and the staff issue page's
similar cases with the knowledge prompt's actions."""

import re
from typing import Any

from tests.integration.conftest import CUSTOMER, NEW_ISSUE, unique
from tests.web.conftest import CSRF, Web

ENGINEER = {"Authorization": "Bearer demo-engineer-alice"}
MANAGER = {"Authorization": "Bearer demo-manager-nina"}
PACKETS = {
    "title": "Edge router drops packets after firmware upgrade",
    "problem": "After the upgrade to firmware 5.2 the edge router drops packets under load.",
    "resolution": "Disable hardware offload, then reboot the router.",
    "product_id": "edge-router",
}


async def article(web: Web, body: dict[str, Any], *, validated: bool = True) -> str:
    """An article written through the JSON API, validated by a manager unless told not."""
    created = await web.http.post("/knowledge/articles", json=body, headers=ENGINEER)
    assert created.status_code == 201, created.text
    article_id = str(created.json()["id"])
    if validated:
        moved = await web.http.post(
            f"/knowledge/articles/{article_id}/state", json={"state": "validated"}, headers=MANAGER
        )
        assert moved.status_code == 200, moved.text
    return article_id


async def test_a_customer_is_suggested_validated_customer_articles_only(web: Web) -> None:
    public = await article(web, {**PACKETS, "audience": "customer"})
    internal = await article(web, {**PACKETS, "title": "Edge router drops packets internally"})
    draft = await article(
        web,
        {**PACKETS, "audience": "customer", "title": "Edge router drops packets draft"},
        validated=False,
    )
    await web.sign_in("jane", "demo-jane-acme")
    page = await web.http.get("/portal/issues/new")
    assert 'hx-get="/portal/suggestions"' in page.text
    found = await web.http.get(
        "/portal/suggestions",
        params={
            "title": "router drops packets",
            "product_id": "edge-router",
            "tab": "tab-12345678",
        },
    )
    assert found.status_code == 200
    assert f"/portal/articles/{public}?tab=tab-12345678" in found.text
    assert internal not in found.text and draft not in found.text
    other_product = await web.http.get(
        "/portal/suggestions", params={"title": "router drops packets", "product_id": "nas-box"}
    )
    assert public not in other_product.text
    assert (
        "/portal/articles/"
        not in (await web.http.get("/portal/suggestions", params={"title": "ro"})).text
    )


async def test_a_customer_reads_a_validated_article_and_its_view_is_recorded(web: Web) -> None:
    public = await article(web, {**PACKETS, "audience": "customer"})
    internal = await article(web, {**PACKETS, "title": "Internal notes on packets"})
    await web.sign_in("john", "demo-john-globex")
    page = await web.http.get(f"/portal/articles/{public}", params={"tab": "tab-12345678"})
    assert page.status_code == 200 and "Disable hardware offload" in page.text
    assert f'hx-post="/portal/articles/{public}/viewed"' in page.text
    assert (await web.http.get(f"/portal/articles/{internal}")).status_code == 404
    token = CSRF.search(page.text)
    assert token
    refused = await web.http.post(f"/portal/articles/{public}/viewed", data={"tab": "tab-1234"})
    assert refused.status_code == 403
    recorded = await web.http.post(
        f"/portal/articles/{public}/viewed",
        data={"tab": "tab-12345678"},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert recorded.status_code == 204
    malformed = await web.http.post(
        f"/portal/articles/{public}/viewed",
        data={"tab": "not a tab!"},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert malformed.status_code == 422
    hidden = await web.http.post(
        f"/portal/articles/{internal}/viewed",
        data={"tab": "tab-12345678"},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert hidden.status_code == 404


async def opened_issue(web: Web) -> str:
    response = await web.http.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": unique("knowledge")}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_staff_see_similar_cases_and_link_or_draft_from_a_resolved_issue(web: Web) -> None:
    internal = await article(web, {**PACKETS, "title": "Edge router drops packets (internal)"})
    issue_id = await opened_issue(web)
    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    assert f'hx-get="/workspace/issues/{issue_id}/similar' in page.text
    panel = await web.http.get(f"/workspace/issues/{issue_id}/similar", params={"resolved": True})
    assert panel.status_code == 200
    assert f"/workspace/articles/{internal}" in panel.text
    assert "Solved with this article" in panel.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', panel.text)
    assert token
    without = await web.http.post(
        f"/workspace/issues/{issue_id}/solved-with", data={"article_id": internal}
    )
    assert without.status_code == 403
    linked = await web.http.post(
        f"/workspace/issues/{issue_id}/solved-with",
        data={"article_id": internal, "csrf_token": token.group(1)},
    )
    assert linked.status_code == 200 and "Linked: the issue was solved with" in linked.text
    unknown = await web.http.post(
        f"/workspace/issues/{issue_id}/solved-with",
        data={"article_id": "nope", "csrf_token": token.group(1)},
    )
    assert "Not done:" in unknown.text
    drafted = await web.http.post(
        f"/workspace/issues/{issue_id}/draft-article", data={"csrf_token": token.group(1)}
    )
    assert drafted.status_code == 200 and "Draft article created" in drafted.text
    again = await web.http.post(
        f"/workspace/issues/{issue_id}/draft-article", data={"csrf_token": token.group(1)}
    )
    assert "already has its draft article" in again.text
    staff_page = await web.http.get(f"/workspace/articles/{internal}")
    assert staff_page.status_code == 200 and "Validated" in staff_page.text


async def test_a_customer_cannot_use_the_staff_knowledge_pages(web: Web) -> None:
    internal = await article(web, {**PACKETS, "title": "Internal notes on packets"})
    issue_id = await opened_issue(web)
    await web.sign_in("john", "demo-john-globex")
    assert (await web.http.get(f"/workspace/issues/{issue_id}/similar")).status_code == 403
    assert (await web.http.get(f"/workspace/articles/{internal}")).status_code == 403
    assert (await web.http.get(f"/portal/articles/{internal}")).status_code == 404
