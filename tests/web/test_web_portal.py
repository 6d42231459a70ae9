"""The portal's pages and forms in process (fake Temporal): opening an issue, attachments,
the list's refresh, and how a promise's clock reads."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from domain.enums import SlaClockKind
from domain.sla import ClockMode, ClockView
from tests.web.conftest import Web
from web.i18n import Formats, translations
from web.templating import environment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def open_issue(web: Web, key: str = "form-1", **changes: str) -> httpx.Response:
    token = await web.csrf("/portal/issues/new")
    form = {
        "title": "Edge router drops packets",
        "description": "Since firmware 5.2 about 3% of packets are lost.",
        "product_id": "edge-router",
        "severity": "2",
        "category": "incident",
        "service_mode": "remote",
        "idempotency_key": key,
        "csrf_token": token,
        **changes,
    }
    return await web.http.post("/portal/issues", data=form)


async def test_a_title_too_short_is_refused_at_its_field_and_nothing_starts(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    response = await open_issue(web, title="x")
    assert response.status_code == 422
    assert 'id="title-error"' in response.text
    assert "Please write at least 3 characters." in response.text
    assert 'value="x"' in response.text  # what was typed is kept
    assert web.temporal.starts == []


async def test_a_form_too_large_to_read_is_answered_with_a_page(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    response = await open_issue(web, title="x" * 2000)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "The form could not be read" in response.text


async def test_an_unknown_product_is_refused_at_its_field(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    response = await open_issue(web, product_id="toaster")
    assert response.status_code == 422
    assert 'id="product_id-error"' in response.text


async def test_a_resubmitted_form_opens_the_issue_once(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    first = await open_issue(web, key="double-click")
    second = await open_issue(web, key="double-click")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(web.temporal.starts) == 1
    intake = web.temporal.starts[0].intake
    assert (intake.organisation_id, intake.channel.value) == ("acme", "portal")
    page = await web.http.get(first.headers["location"])
    assert "Your issue is open" in page.text
    rows = await web.http.get("/portal/issues/rows")
    assert "Edge router drops packets" in rows.text
    assert "<html" not in rows.text  # the fragment htmx swaps in every minute


async def attach(web: Web, issue_path: str, name: str, data: bytes) -> httpx.Response:
    token = await web.csrf(issue_path)
    return await web.http.post(
        f"{issue_path}/attachments",
        data={"csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
    )


async def test_attachments_are_checked_by_size_and_content_then_downloaded(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    issue_path = (await open_issue(web)).headers["location"].split("?")[0]
    stored = await attach(web, issue_path, "../../screen shot.png", PNG)
    assert stored.status_code == 303
    page = await web.http.get(issue_path)
    link = re.search(r'href="(/portal/issues/[^"]+/attachments/ATT-[^"]+)"', page.text)
    assert link, page.text
    assert "screen shot.png" in page.text
    download = await web.http.get(link.group(1))
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")

    disguised = await attach(web, issue_path, "setup.png", b"MZ\x90\x00 not a picture")
    assert disguised.status_code == 422
    assert "cannot be attached" in disguised.text
    program = await attach(web, issue_path, "setup.exe", b"MZ\x90\x00")
    assert program.status_code == 422
    too_large = await attach(web, issue_path, "big.log", b"a" * (64 * 1024 + 1))
    assert too_large.status_code == 422
    assert "larger than" in too_large.text

    await web.sign_in("john", "demo-john-globex")
    assert (await web.http.get(link.group(1))).status_code == 404
    assert (await web.http.get(issue_path)).status_code == 404

    # Staff and API clients reach the same files through the JSON API.
    issue_id = issue_path.rsplit("/", 1)[1]
    engineer = {"Authorization": "Bearer demo-engineer-alice"}
    listed = await web.http.get(f"/issues/{issue_id}/attachments", headers=engineer)
    assert [a["filename"] for a in listed.json()] == ["screen shot.png"]
    file_id = listed.json()[0]["id"]
    raw = await web.http.get(f"/issues/{issue_id}/attachments/{file_id}", headers=engineer)
    assert raw.content == PNG
    assert raw.headers["x-itr-content-type"] == "image/png"
    globex = {"Authorization": "Bearer demo-customer-globex"}
    hidden = await web.http.get(f"/issues/{issue_id}/attachments/{file_id}", headers=globex)
    assert hidden.status_code == 404


def render_clock(view: ClockView, locale: str = "en") -> str:
    env = environment()
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    macro = env.from_string(
        '{% from "portal/_clock.html" import promise with context %}{{ promise(view, fmt) }}'
    )
    return " ".join(macro.render(view=view, fmt=Formats(locale, ZoneInfo("UTC"))).split())


def clock(**changes: object) -> ClockView:
    values: dict[str, object] = {
        "clock": SlaClockKind.RESOLUTION,
        "mode": ClockMode.RUNNING,
        "cycle": 1,
        "target": timedelta(hours=8),
        "elapsed": timedelta(hours=6),
        "remaining": timedelta(hours=2),
        "paused": timedelta(0),
        "deadline": datetime(2026, 12, 4, 15, 0, tzinfo=UTC),
        "next_threshold": None,
        "next_threshold_at": None,
        "warnings_fired": (),
        "breached": False,
        "stopped_at": None,
    }
    return ClockView.model_validate({**values, **changes})


def test_a_promise_counts_down_pauses_and_counts_up_once_broken() -> None:
    assert "Resolution: 2 business hours left" in render_clock(clock())
    paused = render_clock(clock(mode=ClockMode.PAUSED))
    assert "paused while we wait for you" in paused
    broken = clock(breached=True, elapsed=timedelta(hours=11), remaining=timedelta(0))
    assert "Resolution: overdue by 3 business hours" in render_clock(broken)
    assert "解决: 已超时 3 个工作小时" in render_clock(broken, "zh_Hans")
    met = clock(mode=ClockMode.STOPPED, stopped_at=datetime(2026, 12, 4, tzinfo=UTC))
    assert "Resolution: met" in render_clock(met)
