"""Signing in to the web workspace: sessions, lock-out, CSRF, and one Principal per person."""

from datetime import UTC, datetime

from fastapi.routing import APIRoute

from api.deps import _principal
from api.services import accounts
from tests.web.conftest import Web
from web.deps import verify_csrf
from web.routes import account, admin, agent, manage, portal


async def test_a_customer_signs_in_and_lands_on_the_portal_with_a_safe_cookie(web: Web) -> None:
    response = await web.sign_in("jane", "demo-jane-acme")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal"
    cookie = response.headers["set-cookie"]
    assert "itr_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    portal = await web.http.get("/portal")
    assert portal.status_code == 200
    assert "Jane Doe" in portal.text
    assert "default-src 'none'" in portal.headers["content-security-policy"]


async def test_a_page_without_a_session_redirects_to_sign_in_and_back(web: Web) -> None:
    response = await web.http.get("/portal/issues/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fportal%2Fissues%2Fnew"
    token = await web.csrf()
    signed_in = await web.http.post(
        "/signin",
        data={
            "username": "JANE",
            "password": "demo-jane-acme",
            "next": "/portal/issues/new",
            "csrf_token": token,
        },
    )
    assert signed_in.headers["location"] == "/portal/issues/new"


async def test_a_sign_in_link_never_sends_anyone_to_another_site(web: Web) -> None:
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        token = await web.csrf()  # each sign-in starts a new session, with a new token
        response = await web.http.post(
            "/signin",
            data={
                "username": "jane",
                "password": "demo-jane-acme",
                "next": target,
                "csrf_token": token,
            },
        )
        assert response.headers["location"] == "/portal"


async def test_a_wrong_password_reads_like_an_unknown_user(web: Web) -> None:
    wrong = await web.sign_in("jane", "not-her-password")
    unknown = await web.sign_in("nobody", "not-her-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The username or the password is wrong." in wrong.text
    assert "The username or the password is wrong." in unknown.text


async def test_failed_sign_ins_lock_the_account_even_for_the_right_password(web: Web) -> None:
    for _ in range(web.settings.signin_lockout_attempts - 1):
        assert (await web.sign_in("jane", "guess")).status_code == 401
    locked = await web.sign_in("jane", "guess")
    assert locked.status_code == 423
    assert "locked" in locked.text
    right = await web.sign_in("jane", "demo-jane-acme")
    assert right.status_code == 423
    assert "itr_session" not in right.headers.get("set-cookie", "")
    other = await web.sign_in("john", "demo-john-globex")
    assert other.status_code == 303


async def test_a_form_post_without_the_csrf_token_is_refused(web: Web) -> None:
    await web.csrf()  # the visitor has a CSRF cookie, but the form does not carry it
    response = await web.http.post(
        "/signin", data={"username": "jane", "password": "demo-jane-acme"}
    )
    assert response.status_code == 403
    assert "itr_session" not in response.headers.get("set-cookie", "")
    await web.sign_in("jane", "demo-jane-acme")
    forged = await web.http.post(
        "/portal/issues",
        data={"title": "Forged", "description": "x", "product_id": "edge-router", "severity": "2"},
    )
    assert forged.status_code == 403
    wrong = await web.http.post("/signout", data={"csrf_token": "another-token-of-enough-length"})
    assert wrong.status_code == 403
    assert web.temporal.starts == []
    assert (await web.http.get("/portal")).status_code == 200  # still signed in


async def test_htmx_requests_send_the_token_as_a_header(web: Web) -> None:
    await web.sign_in("jane", "demo-jane-acme")
    token = await web.csrf("/portal")
    response = await web.http.post("/signout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    assert (await web.http.get("/portal")).status_code == 303  # signed out: the session ended


async def test_every_state_changing_web_route_checks_the_csrf_token() -> None:
    web_routes = [
        r
        for module in (account, portal, agent, manage, admin)
        for r in module.router.routes
        if isinstance(r, APIRoute)
    ]
    unsafe = [r for r in web_routes if set(r.methods) - {"GET", "HEAD"}]
    assert len(unsafe) >= 6
    for route in unsafe:
        calls = {d.call for d in route.dependant.dependencies}
        assert verify_csrf in calls, route.path


async def test_staff_sign_in_to_the_workspace_not_the_portal(web: Web) -> None:
    response = await web.sign_in("alice", "demo-alice-tier1")
    assert response.headers["location"] == "/workspace"
    assert (await web.http.get("/portal")).status_code == 403


async def test_a_session_and_a_token_resolve_to_the_same_principal(web: Web) -> None:
    """Jane's sign-in and Acme's customer token are the same caller to every service."""
    response = await web.sign_in("jane", "demo-jane-acme")
    raw = response.cookies["itr_session"]
    async with web.db.session() as session:
        signed_in = await accounts.resolve_session(session, raw, datetime.now(UTC))
        token = await _principal(session, "Bearer demo-customer-acme")
    assert signed_in is not None
    by_session = signed_in.principal
    assert (by_session.role, by_session.organisation_id, by_session.engineer_id) == (
        token.role,
        token.organisation_id,
        token.engineer_id,
    )
    assert by_session.name == token.name == "Jane Doe"
    assert by_session.actor.kind == token.actor.kind
