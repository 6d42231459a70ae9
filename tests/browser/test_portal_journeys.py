"""Customer journeys through the portal in a real browser, engineers acting via the JSON API.

Each page met on the way is checked with axe-core (no serious or critical violation), and
the main pages are photographed at 1280 and 390 px wide in English and Chinese.
"""

import re
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Site, assert_accessible, screenshots
from tests.integration.conftest import eventually

ENGINEER = {"Authorization": "Bearer demo-engineer-alice"}


async def open_issue_in_the_portal(page: Page, title: str) -> str:
    await page.get_by_role("link", name="Open an issue").first.click()
    await page.locator("#title").fill(title)
    await page.locator("#product_id").select_option("edge-router")
    await page.locator("input[name=severity][value='2']").check()
    await page.locator("#description").fill("Since firmware 5.2 about 3% of packets are lost.")
    await page.get_by_role("button", name="Open the issue").click()
    await expect(page.get_by_role("status")).to_contain_text("Your issue is open")
    match = re.search(r"/portal/issues/(ITR-[A-Z0-9]+)", page.url)
    assert match, page.url
    return match.group(1)


async def engineer(api: httpx.AsyncClient, issue_id: str, command: str, **body: Any) -> None:
    response = await api.post(f"/issues/{issue_id}/{command}", json=body, headers=ENGINEER)
    assert response.status_code == 200, response.text


async def state_of(api: httpx.AsyncClient, issue_id: str) -> str:
    response = await api.get(f"/issues/{issue_id}", headers=ENGINEER)
    return str(response.json()["state"])


async def test_a_customer_opens_an_issue_answers_and_confirms_the_solution(site: Site) -> None:
    page = await site.signed_in("jane", "demo-jane-acme")
    assert page.url.endswith("/portal")
    await assert_accessible(page)
    assert await page.evaluate("typeof htmx.ajax") == "function"  # vendored, allowed by CSP

    # Opening: a too-short title is refused at the field (422), then the issue opens.
    await page.get_by_role("link", name="Open an issue").first.click()
    await screenshots(page, "portal-new-issue")
    await page.locator("#title").fill("x")
    await page.get_by_role("button", name="Open the issue").click()
    await expect(page.locator("#title-error")).to_be_visible()
    await expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    issue_id = await open_issue_in_the_portal(page, "Edge router drops packets")

    # Dispatch: the issue page shows the tier-1 owner by first name.
    async def assigned() -> bool | None:
        await page.goto(f"/portal/issues/{issue_id}")
        owner = (await page.locator("#issue-owner").inner_text()).strip()
        return True if owner == "Alice" else None

    await eventually(assigned, "the tier-1 owner on the issue page", within=30)
    await assert_accessible(page)

    # A log file goes along with it.
    log = {"name": "router.log", "mimeType": "text/plain", "buffer": b"kernel: qos drop 3%\n"}
    await page.locator("#attachment-file").set_input_files(files=[log])
    await page.get_by_role("button", name="Attach the file").click()
    await expect(page.get_by_role("status")).to_contain_text("The file was attached.")
    await expect(page.get_by_role("link", name="router.log")).to_be_visible()

    # The engineer asks; the customer replies in the portal.
    await engineer(site.api, issue_id, "acknowledge", message="We are looking at it.")
    await engineer(site.api, issue_id, "request-info", question="Which firmware exactly?")
    await page.reload()
    await expect(page.locator("#issue-state")).to_have_text("Waiting for you")
    await expect(page.get_by_text("Which firmware exactly?")).to_be_visible()
    await screenshots(page, "portal-issue-question")
    await page.goto("/portal")  # the list while the resolution clock waits for the customer
    await expect(page.get_by_text("paused while we wait for you")).to_be_visible()
    await screenshots(page, "portal-issues")
    await page.goto(f"/portal/issues/{issue_id}")
    await page.locator("#reply-body").fill("Firmware 5.2.0, build 1187.")
    await page.get_by_role("button", name="Send the answer").click()
    await expect(page.get_by_role("status")).to_contain_text("your answer was sent")
    assert await state_of(site.api, issue_id) == "in_progress"

    # A proposed solution: a rejection without a comment is refused with the reason (409),
    # a rejection with one sends it back, then the customer accepts and rates it.
    await engineer(site.api, issue_id, "resolution", summary="Upgrade to firmware 5.2.1.")
    await page.reload()
    await expect(page.locator("#issue-state")).to_have_text("Solution proposed")
    await page.get_by_role("button", name="It does not work").click()
    await expect(page.get_by_role("alert")).to_contain_text("a rejection needs a comment")
    await page.locator("#confirm-comment").fill("Still 1% loss after 5.2.1.")
    await page.get_by_role("button", name="It does not work").click()
    await expect(page.get_by_role("status")).to_contain_text("the engineer works on it again")
    assert await state_of(site.api, issue_id) == "in_progress"

    await engineer(site.api, issue_id, "resolution", summary="Disable QoS queue 3 as well.")
    await page.reload()
    await screenshots(page, "portal-issue-solution")
    await page.locator("input[name=satisfaction][value='5']").check()
    await page.locator("#confirm-comment").fill("Works now, thank you.")
    await page.get_by_role("button", name="It works: close the issue").click()
    await expect(page.get_by_role("status")).to_contain_text("the issue is closed")
    await expect(page.locator("#issue-state")).to_have_text("Closed")
    await expect(page.get_by_role("button", name="Reopen the issue")).to_be_visible()
    await assert_accessible(page)

    await page.goto("/portal")
    await expect(page.get_by_role("link", name="Edge router drops packets")).to_be_visible()
    await expect(page.locator("#issue-rows .state")).to_have_text("Closed")

    # A customer of another organisation cannot open the issue's page.
    other = await site.signed_in("john", "demo-john-globex")
    response = await other.goto(f"/portal/issues/{issue_id}")
    assert response is not None and response.status == 404
    await expect(other.get_by_role("heading", name="Not found")).to_be_visible()
    await assert_accessible(other)
    await other.context.close()
    await page.context.close()
    assert site.console_errors == []


async def test_a_form_post_without_the_csrf_token_is_refused_and_staff_land_elsewhere(
    site: Site,
) -> None:
    page = await site.signed_in("jane", "demo-jane-acme")
    before = await page.request.get("/portal")
    assert before.status == 200
    forged = await page.request.post(
        "/portal/issues",
        form={"title": "Forged issue", "description": "x", "product_id": "edge-router"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "security token" in await forged.text()
    await page.context.close()

    staff = await site.signed_in("alice", "demo-alice-tier1")
    assert staff.url.endswith("/workspace")
    await assert_accessible(staff)
    await staff.context.close()


async def test_failed_sign_ins_lock_the_account(site: Site) -> None:
    context = await site.context()
    page = await context.new_page()
    await page.goto("/signin")
    await screenshots(page, "signin")
    for _ in range(site.stack.settings.signin_lockout_attempts):
        await page.locator("#username").fill("nina")
        await page.locator("#password").fill("not-the-password")
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("this account is locked")
    await page.locator("#username").fill("nina")
    await page.locator("#password").fill("demo-nina-manager")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("this account is locked")
    assert "/signin" in page.url
    await assert_accessible(page)
    await context.close()


async def test_a_customer_typing_a_title_is_suggested_a_validated_article(site: Site) -> None:
    created = await site.api.post(
        "/knowledge/articles",
        json={
            "title": "Wireless bridge loses its link every night",
            "problem": "The wireless bridge link drops every night and comes back at dawn.",
            "resolution": "Turn off the nightly channel scan in the radio settings.",
            "audience": "customer",
        },
        headers=ENGINEER,
    )
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    validated = await site.api.post(
        f"/knowledge/articles/{article_id}/state",
        json={"state": "validated"},
        headers={"Authorization": "Bearer demo-manager-nina"},
    )
    assert validated.status_code == 200, validated.text
    page = await site.signed_in("jane", "demo-jane-acme")
    await page.get_by_role("link", name="Open an issue").first.click()
    await page.locator("#title").press_sequentially("bridge loses link at night")
    suggestion = page.locator("#suggestions").get_by_role(
        "link", name=re.compile("Wireless bridge")
    )
    await expect(suggestion).to_be_visible()
    await assert_accessible(page)
    async with page.expect_response(lambda r: r.url.endswith("/viewed")) as viewed:
        await suggestion.click()  # the article page records the tab's view once loaded
    assert (await viewed.value).status == 204
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Wireless bridge loses its link every night"
    )
    await assert_accessible(page)
    assert site.console_errors == []
