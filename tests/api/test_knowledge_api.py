"""The knowledge endpoints in process, on SQLite and PostgreSQL: KCS states and who may move
them, what customers may read, bilingual search and suggestions, drafts and links from
issues, similar cases, feedback and deflections."""

from typing import Any

from tests.api.conftest import Api

CUSTOMER = {"Authorization": "Bearer demo-customer-acme"}
ENGINEER = {"Authorization": "Bearer demo-engineer-alice"}
MANAGER = {"Authorization": "Bearer demo-manager-nina"}

VPN = {
    "title": "VPN tunnel drops every hour",
    "problem": "The IPsec tunnel to the branch office disconnects after 60 minutes.",
    "product_id": "edge-router",
    "kind": "known_error",
}


async def _article(api: Api, body: dict[str, Any], *, publish: bool = True) -> str:
    """An article, validated for customers unless publish is False."""
    created = await api.http.post("/knowledge/articles", json=body, headers=ENGINEER)
    assert created.status_code == 201, created.text
    article_id = str(created.json()["id"])
    if publish:
        moved = await api.http.post(
            f"/knowledge/articles/{article_id}/state", json={"state": "validated"}, headers=MANAGER
        )
        assert moved.status_code == 200, moved.text
    return article_id


async def test_an_article_moves_through_the_kcs_states_by_role_with_an_audit_trail(
    api: Api,
) -> None:
    article_id = await _article(api, VPN, publish=False)
    path = f"/knowledge/articles/{article_id}"
    assert (await api.http.get(path, headers=CUSTOMER)).status_code == 404
    published = await api.http.post(
        f"{path}/state", json={"state": "not_validated"}, headers=ENGINEER
    )
    assert published.json()["state"] == "not_validated"
    refused = await api.http.post(f"{path}/state", json={"state": "validated"}, headers=ENGINEER)
    assert refused.status_code == 403 and "manager" in refused.json()["detail"]
    empty = await api.http.post(f"{path}/state", json={"state": "validated"}, headers=MANAGER)
    assert empty.status_code == 409 and "resolution" in empty.json()["detail"]
    backwards = await api.http.post(
        f"{path}/state", json={"state": "not_validated"}, headers=MANAGER
    )
    assert backwards.status_code == 409

    edit = {"resolution": "Use the same lifetimes on both peers.", "audience": "customer"}
    assert (await api.http.patch(path, json=edit, headers=ENGINEER)).status_code == 200
    assert (await api.http.patch(path, json={"title": None}, headers=ENGINEER)).status_code == 422
    assert (await api.http.patch(path, json={"color": "red"}, headers=ENGINEER)).status_code == 422
    # null clears the fields that may be empty (found by the contract test: `tags: null`
    # was stored as NULL, and every later read of the article answered 500).
    cleared = await api.http.patch(
        path, json={"tags": None, "workaround": None, "cause": None}, headers=ENGINEER
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["tags"], cleared.json()["workaround"]) == ([], "")
    assert (await api.http.get("/knowledge/articles", headers=ENGINEER)).status_code == 200
    validated = await api.http.post(f"{path}/state", json={"state": "validated"}, headers=MANAGER)
    assert validated.json()["state"] == "validated"

    seen = (await api.http.get(path, headers=CUSTOMER)).json()
    assert seen["resolution"] == "Use the same lifetimes on both peers."
    assert seen["owner_id"] is None and seen["reuse_count"] is None
    trail = (await api.http.get(f"{path}/audit", headers=ENGINEER)).json()
    assert [(e["action"], e["to_state"]) for e in trail] == [
        ("created", "draft"),
        ("state_changed", "not_validated"),
        ("edited", None),
        ("state_changed", "validated"),
    ]
    assert trail[2]["changes"]["audience"] == {"from": "internal", "to": "customer"}
    assert (await api.http.get(f"{path}/audit", headers=CUSTOMER)).status_code == 403


async def test_customers_find_only_validated_customer_articles_in_english_and_chinese(
    api: Api,
) -> None:
    public = await _article(api, {**VPN, "audience": "customer", "resolution": "Align lifetimes."})
    draft = await _article(api, {**VPN, "audience": "customer"}, publish=False)
    chinese = await _article(
        api,
        {
            "title": "路由器升级固件后频繁丢包",
            "problem": "升级到5.2版本固件之后 高负载时路由器丢包。",
            "resolution": "升级到5.2.1版本。",
            "audience": "customer",
            "product_id": "edge-router",
        },
    )
    suggested = await api.http.get(
        "/knowledge/suggest", params={"title": "vpn disconnects hourly"}, headers=CUSTOMER
    )
    assert [i["article"]["id"] for i in suggested.json()["items"]] == [public]
    staff = await api.http.get("/knowledge/search", params={"q": "ipsec tunnel"}, headers=ENGINEER)
    assert {i["article"]["id"] for i in staff.json()["items"]} == {public, draft}
    typed = await api.http.get(
        "/knowledge/suggest",
        params={"title": "固件升级以后丢包", "product_id": "edge-router"},
        headers=CUSTOMER,
    )
    assert [i["article"]["id"] for i in typed.json()["items"]] == [chinese]
    other_product = await api.http.get(
        "/knowledge/search", params={"q": "丢包", "product_id": "storage-array"}, headers=CUSTOMER
    )
    assert other_product.json()["items"] == []
    assert (await api.http.get("/knowledge/search", headers=CUSTOMER)).status_code == 422


async def _issue(api: Api, title: str, description: str) -> str:
    body = {
        "title": title,
        "description": description,
        "product_id": "edge-router",
        "severity": 3,
    }
    created = await api.http.post("/issues", json=body, headers=CUSTOMER)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_an_issue_becomes_a_redacted_draft_its_solution_counts_reuse_and_similar_cases_show(
    api: Api,
) -> None:
    first = await _issue(
        api,
        "VPN tunnel to Hamburg drops hourly",
        "Jane Doe here (jane.doe@acme.example, +49 40 1234567): the branch tunnel goes down "
        "every hour.",
    )
    drafted = await api.http.post(f"/issues/{first}/articles/draft", headers=ENGINEER)
    assert drafted.status_code == 201, drafted.text
    article = drafted.json()
    assert article["state"] == "draft" and article["source_issue_id"] == first
    for personal in ("Jane", "Doe", "jane.doe@", "1234567"):
        assert personal not in article["problem"]
    again = await api.http.post(f"/issues/{first}/articles/draft", headers=ENGINEER)
    assert again.status_code == 200 and again.json()["id"] == article["id"]
    refused = await api.http.post(f"/issues/{first}/articles/draft", headers=CUSTOMER)
    assert refused.status_code == 403

    known = await _article(api, {**VPN, "audience": "customer", "resolution": "Align lifetimes."})
    second = await _issue(api, "Branch VPN disconnects every hour", "The IPsec tunnel drops.")
    linked = await api.http.post(
        f"/issues/{second}/articles", json={"article_id": known}, headers=ENGINEER
    )
    assert linked.status_code == 201 and linked.json()["reuse_count"] == 1
    repeated = await api.http.post(
        f"/issues/{second}/articles", json={"article_id": known}, headers=ENGINEER
    )
    assert repeated.status_code == 200 and repeated.json()["reuse_count"] == 1
    unknown = await api.http.post(
        f"/issues/{second}/articles", json={"article_id": "kb-nope"}, headers=ENGINEER
    )
    assert unknown.status_code == 422

    third = await _issue(api, "Hourly VPN outage to the branch", "Tunnel down every 60 minutes.")
    similar = (await api.http.get(f"/issues/{third}/similar", headers=ENGINEER)).json()
    assert known in [a["article"]["id"] for a in similar["articles"]]
    assert {i["issue_id"] for i in similar["issues"]} >= {second}
    customer_view = (await api.http.get(f"/issues/{third}/similar", headers=CUSTOMER)).json()
    assert [a["article"]["id"] for a in customer_view["articles"]] == [known]
    assert customer_view["issues"] == []


async def test_feedback_counts_and_an_opened_article_without_an_issue_is_a_deflection(
    api: Api,
) -> None:
    article_id = await _article(api, {**VPN, "audience": "customer", "resolution": "Align."})
    path = f"/knowledge/articles/{article_id}"
    helped = await api.http.post(f"{path}/feedback", json={"helpful": True}, headers=CUSTOMER)
    assert helped.status_code == 200
    await api.http.post(f"{path}/feedback", json={"outdated": True}, headers=ENGINEER)
    assert (await api.http.post(f"{path}/feedback", json={}, headers=CUSTOMER)).status_code == 422
    counts = (await api.http.get(path, headers=ENGINEER)).json()
    assert (counts["helpful_count"], counts["outdated_count"]) == (1, 1)

    viewed = await api.http.post(
        f"{path}/viewed", json={"session_id": "tab-0001"}, headers=CUSTOMER
    )
    assert viewed.status_code == 204
    bad = await api.http.post(f"{path}/viewed", json={"session_id": "x"}, headers=CUSTOMER)
    assert bad.status_code == 422
    answer = await api.http.get(
        "/knowledge/deflections",
        params={"since": "2020-01-01T00:00:00Z", "window": "PT0S"},
        headers=MANAGER,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["sessions_with_views"], answer.json()["deflected"]) == (1, 1)
    forbidden = await api.http.get(
        "/knowledge/deflections", params={"since": "2020-01-01T00:00:00Z"}, headers=CUSTOMER
    )
    assert forbidden.status_code == 403
