"""An engineer's journey through the agent workspace in a real browser, the customer acting
via the JSON API: the issue in the queue, a question to the customer and a proposed solution
sent from the issue page, the page following the customer's answer on its own.

Each page is checked with axe-core; the queue and the issue page are photographed at 1280 and
390 px in English and Chinese.
"""

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Site, assert_accessible, screenshots
from tests.integration.conftest import NEW_ISSUE, eventually, unique

CUSTOMER = {"Authorization": "Bearer demo-customer-acme"}


async def customer_opens_an_issue(api: httpx.AsyncClient, title: str) -> str:
    response = await api.post(
        "/issues",
        json={**NEW_ISSUE, "title": title},
        headers={**CUSTOMER, "Idempotency-Key": unique("agent-journey")},
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


async def send(page: Page, command: str, field: str | None = None, text: str = "") -> None:
    """Open the command's form on the issue page, fill its text and send it."""
    form = page.locator(f"#form-{command}")
    if not await form.is_visible():
        await page.locator("details.command", has=form).locator("summary").click()
    if field is not None:
        await form.locator(f"[name={field}]").fill(text)
    await form.locator("button[type=submit]").click()


async def test_an_engineer_asks_the_customer_and_proposes_a_solution_from_the_page(
    site: Site,
) -> None:
    title = f"Edge router drops packets {unique('x')[-6:]}"
    issue_id = await customer_opens_an_issue(site.api, title)
    page = await site.signed_in("alice", "demo-alice-tier1")
    assert page.url.endswith("/workspace")

    async def queued() -> bool | None:
        await page.goto("/workspace?queue=mine")
        return True if await page.get_by_role("link", name=title).count() else None

    await eventually(queued, "the issue in Alice's queue", within=30)
    await expect(page.locator("[data-countdown]").first).to_contain_text("left")
    await assert_accessible(page)
    await screenshots(page, "agent-queue")

    await page.get_by_role("link", name=title).click()
    await expect(page.locator("#issue-state")).to_have_text("Assigned")
    await expect(page.locator("#issue-customer")).to_contain_text("Acme")
    await expect(page.locator("#issue-contract")).to_have_text("Premium contract · in warranty")
    await expect(page.locator(".diagram svg[role=img]")).to_be_visible()
    # Exactly what the workflow allows: no question before the first response.
    assert await page.locator("#form-request_info").count() == 0
    await assert_accessible(page)

    await send(page, "acknowledge", "message", "We are looking at it.")
    await expect(page.get_by_role("status")).to_contain_text("Acknowledge")
    await expect(page.locator("#issue-state")).to_have_text("In progress")

    # A blank question is refused at its field; then the question goes to the customer.
    await send(page, "request_info", "question", "   ")
    await expect(page.locator("#question-error")).to_be_visible()
    await expect(page.locator("#request_info-question")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    await send(page, "request_info", "question", "Which firmware build exactly?")
    await expect(page.locator("#issue-state")).to_have_text("Waiting for the customer")
    await expect(page.locator("#comments")).to_contain_text("Which firmware build exactly?")
    await expect(page.locator("#sla-clocks .badge").first).to_have_text("paused")
    await screenshots(page, "agent-issue-question")

    # The customer answers through the API: the open page follows within seconds.
    reply = await site.api.post(
        f"/issues/{issue_id}/reply", json={"body": "Build 1187."}, headers=CUSTOMER
    )
    assert reply.status_code == 200, reply.text
    await expect(page.locator("#issue-state")).to_have_text("In progress", timeout=15_000)
    await expect(page.locator("#comments")).to_contain_text("Build 1187.")

    await expect(page.locator("#issue-changed")).to_contain_text("In progress")
    await page.get_by_role("link", name="Reload the page").click()  # the forms follow
    await send(page, "propose_resolution", "summary", "Upgrade to firmware 5.2.1.")
    await expect(page.locator("#issue-state")).to_have_text("Awaiting confirmation")
    await expect(page.locator(".diagram svg")).to_contain_text("Awaiting")
    assert await page.locator("#form-propose_resolution").count() == 0
    await assert_accessible(page)
    await screenshots(page, "agent-issue-solution")

    # The knowledge prompt on the resolved issue: its resolution becomes a draft article.
    similar = page.locator("#similar")
    await expect(similar.get_by_role("heading", name="Similar cases")).to_be_visible()
    await similar.get_by_role("button", name="Turn the resolution into a draft article").click()
    result = page.locator("#knowledge-result")
    await expect(result).to_contain_text("Draft article created from the resolution.")
    await assert_accessible(page)
    await result.get_by_role("link").click()
    await expect(page.get_by_text("Possible next states")).to_be_visible()
    await assert_accessible(page)
    await page.context.close()
