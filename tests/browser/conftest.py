"""Browser tests: Debian's Chromium, driven by Playwright, against the whole stack over HTTP.

One stack for the module: the Temporal dev server, a worker, a migrated SQLite database
with the demo data, and the API (JSON and web pages) served by uvicorn on a free port of
127.0.0.1, as `itr dev` serves it. Without Chromium the tests skip with how to install it,
except under CI, where they fail instead (CI installs it: `.ci/run`).
"""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
)
from temporalio.client import Client

from api.main import create_app
from api.server import uvicorn_options
from api.state import AppState
from api.temporal_gateway import TemporalGateway
from db.migrate import upgrade_to_head
from db.session import Database
from tests.integration.conftest import Stack, running_stack, temporal_client
from tests.support.devserver import free_port

__all__ = ["temporal_client"]  # the dev server fixture, shared with the integration tests

CHROMIUM = Path(os.environ.get("ITR_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}
SERIOUS = frozenset({"serious", "critical"})


def chromium_or_skip() -> Path:
    """Chromium's path; a skip that says how to install it, or under CI a failure."""
    if CHROMIUM.exists() or shutil.which(str(CHROMIUM)):
        return CHROMIUM
    message = (
        f"Chromium not found at {CHROMIUM}: install Debian's (`apt-get install -y chromium`) "
        "or point ITR_CHROMIUM at one"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Site:
    """The running stack as a browser and an API client reach it."""

    base_url: str
    stack: Stack
    browser: Browser
    api: httpx.AsyncClient
    console_errors: list[str] = field(default_factory=list)
    """Errors any page logged (a script the CSP refused, a script error), failed loads aside."""

    async def context(self, locale: str = "en-GB", width: int = 1280) -> BrowserContext:
        context = await self.browser.new_context(
            base_url=self.base_url,
            locale=locale,
            timezone_id="Europe/Berlin",
            viewport={"width": width, "height": 900},
        )
        context.set_default_timeout(20_000)
        context.on("console", self._console)
        return context

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    async def signed_in(self, username: str, password: str, locale: str = "en-GB") -> Page:
        """A fresh browser (own cookies) signed in as `username`, on its home page."""
        page = await (await self.context(locale)).new_page()
        await page.goto("/signin")
        await page.locator("#username").fill(username)
        await page.locator("#password").fill(password)
        await page.locator("form.stack button[type=submit]").click()
        await page.wait_for_load_state()
        return page


async def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    results = await Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert serious == [], results.generate_report()


async def screenshots(page: Page, name: str) -> None:
    """The page at each width, in English and Simplified Chinese, into docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = page.url
    # Path "/" like the site's own switch: a cookie set for the page's URL would get that
    # URL's directory as its path and lose to the site-wide one on deeper pages.
    host = urlsplit(url).hostname or "127.0.0.1"
    for locale in ("en", "zh_Hans"):
        await page.context.add_cookies(
            [{"name": "itr_locale", "value": locale, "domain": host, "path": "/"}]
        )
        for label, width in WIDTHS.items():
            await page.set_viewport_size({"width": width, "height": 900})
            await page.goto(url)
            await assert_accessible(page)
            await page.screenshot(
                path=str(SCREENSHOTS / f"{name}-{locale}-{label}.png"), full_page=True
            )
    await page.context.add_cookies(
        [{"name": "itr_locale", "value": "en", "domain": host, "path": "/"}]
    )
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(url)


@pytest.fixture(scope="module")
async def site(
    tmp_path_factory: pytest.TempPathFactory, temporal_client: Client
) -> AsyncIterator[Site]:
    chromium = chromium_or_skip()
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'itr.db'}"
    await upgrade_to_head(url)
    database = Database(url)
    try:
        attachments = tmp_path_factory.mktemp("attachments")
        async with (
            running_stack(database, temporal_client, attachment_dir=attachments) as stack,
            async_playwright() as pw,
        ):
            state = AppState(
                settings=stack.settings,
                db=database,
                temporal=TemporalGateway(stack.settings, stack.client),
            )
            port = free_port()
            options: dict[str, Any] = {**uvicorn_options(stack.settings), "log_level": "warning"}
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(stack.settings, state), host="127.0.0.1", port=port, **options
                )
            )
            serving = asyncio.create_task(server.serve())
            while not server.started:
                assert not serving.done(), "the API server did not start"
                await asyncio.sleep(0.05)
            browser = await pw.chromium.launch(
                executable_path=str(chromium), headless=True, args=["--no-sandbox"]
            )
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
                try:
                    yield Site(base_url=base_url, stack=stack, browser=browser, api=api)
                finally:
                    await browser.close()
                    server.should_exit = True
                    await serving
    finally:
        await database.dispose()
