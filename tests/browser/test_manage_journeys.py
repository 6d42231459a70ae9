"""The manager's and the admin's journeys in a real browser, the issue's lifecycle driven
through the JSON API: the dashboard's figures move once an issue is closed and lead to the
issues they count; an admin edits a routing rule and asks the dry run who would get an issue.

Each page is checked with axe-core; the dashboard and the admin page are photographed at
1280 and 390 px in English and Chinese.
"""

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Site, assert_accessible, screenshots
from tests.integration.conftest import NEW_ISSUE, eventually, unique

CUSTOMER = {"Authorization": "Bearer demo-customer-acme"}
ALICE = {"Authorization": "Bearer demo-engineer-alice"}


async def post(
    api: httpx.AsyncClient, path: str, body: dict[str, object], auth: dict[str, str]
) -> None:
    response = await api.post(path, json=body, headers={**auth, "Idempotency-Key": unique("m")})
    assert response.status_code in (200, 201, 202), response.text


async def closed_figure(page: Page) -> int:
    await page.goto("/manage")
    text = await page.locator('[data-metric="closed"]').first.inner_text()
    return int(text)


async def test_the_dashboard_follows_a_closed_issue_to_its_list(site: Site) -> None:
    title = f"Router reboots nightly {unique('x')[-6:]}"
    opened = await site.api.post(
        "/issues",
        json={**NEW_ISSUE, "title": title},
        headers={**CUSTOMER, "Idempotency-Key": unique("manage-journey")},
    )
    assert opened.status_code == 201, opened.text
    issue_id = opened.json()["id"]

    async def assigned() -> bool | None:
        issue = (await site.api.get(f"/issues/{issue_id}", headers=ALICE)).json()
        return True if issue.get("owner_id") == "alice" else None

    await eventually(assigned, "the issue dispatched to Alice", within=30)
    page = await site.signed_in("nina", "demo-nina-manager")
    before = await closed_figure(page)
    await expect(page.locator("#volume-chart")).to_be_visible()
    await assert_accessible(page)

    await post(site.api, f"/issues/{issue_id}/acknowledge", {}, ALICE)
    await post(site.api, f"/issues/{issue_id}/resolution", {"summary": "Firmware 5.2.1."}, ALICE)

    async def awaiting() -> bool | None:
        issue = (await site.api.get(f"/issues/{issue_id}", headers=ALICE)).json()
        return True if issue["state"] == "awaiting_confirmation" else None

    await eventually(awaiting, "the solution proposed", within=30)
    await post(
        site.api, f"/issues/{issue_id}/confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER
    )

    async def counted() -> int | None:
        now = await closed_figure(page)
        return now if now > before else None

    assert await eventually(counted, "the closed issue counted", within=30) == before + 1
    await screenshots(page, "manage-dashboard")
    await page.locator('a:has([data-metric="closed"])').first.click()
    await expect(page.get_by_role("link", name=title)).to_be_visible()
    await assert_accessible(page)
    await page.context.close()


async def test_an_admin_edits_a_routing_rule_and_runs_the_dry_run(site: Site) -> None:
    page = await site.signed_in("admin", "demo-admin-itr")
    await page.goto("/admin")
    await assert_accessible(page)
    await screenshots(page, "admin-overview")
    await page.get_by_role("link", name="Network products").click()
    await page.locator("#position").fill("-1")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#position-error")).to_be_visible()
    await expect(page.locator("#position")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    await page.locator("#position").fill("0")
    await page.locator("#name").fill("Network products (all tiers)")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    await expect(page.locator("#rules")).to_contain_text("Network products (all tiers)")

    await page.get_by_role("link", name="Dry run").click()
    await page.locator("#product_id").fill("edge-router")
    await page.locator("#tier").fill("1")
    await page.get_by_role("button", name="Run").click()
    result = page.locator("#dry-run-result")
    await expect(result).to_contain_text("Frontline Network")
    await expect(result).to_contain_text("network-products")
    await expect(result).to_contain_text("Alice Martin")
    await assert_accessible(page)
    await page.context.close()
