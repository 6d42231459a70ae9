"""Who may call what: every caller against every endpoint, on SQLite and PostgreSQL.

One table names, per endpoint, the roles it admits and what an admitted caller gets; the
matrix test checks every (endpoint, caller) cell against it: 401 (with
`WWW-Authenticate: Bearer`) without a token or with an unknown one, 403 naming the role
for a role the endpoint refuses, 404 for another organisation's issue or contracts, and
for an admitted caller one of the answers the endpoint gives when it works (a command may
be refused with 409 because of the issue's state: the shared issue moves as the matrix
runs). The stack is built once per backend for this module, so the matrix stays fast.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from db.session import Database
from tests.conftest import empty_all_tables
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    INTEGRATION,
    MANAGER,
    NEW_ISSUE,
    OTHER_CUSTOMER,
    Stack,
    auth,
    issue_detail,
    open_issue,
    running_stack,
    unique,
)

pytestmark = pytest.mark.timeout(120)

# --- callers ------------------------------------------------------------------------------

CALLERS: dict[str, dict[str, str]] = {
    "customer": CUSTOMER,
    "other-organisation customer": OTHER_CUSTOMER,
    "engineer": ENGINEER,
    "manager": MANAGER,
    "admin": ADMIN,
    "integration": INTEGRATION,
    "no token": {},
    "bad token": auth("not-a-real-token"),
}
# The role each authenticated caller's token carries (what a 403 must name).
ROLE_OF = {
    "customer": "customer",
    "other-organisation customer": "customer",
    "engineer": "engineer",
    "manager": "manager",
    "admin": "admin",
    "integration": "integration",
}
CUSTOMERS = frozenset({"customer", "other-organisation customer"})
STAFF = frozenset({"engineer", "manager", "admin"})
EVERYONE = frozenset(ROLE_OF)
CUSTOMER_OR_MANAGER = CUSTOMERS | {"integration", "manager", "admin"}
ADMIN_ONLY = frozenset({"admin"})
DISPATCHING = frozenset({"manager", "admin"})

# --- endpoints ----------------------------------------------------------------------------

OK = frozenset({200})
CREATED = frozenset({201})
# A command an admitted caller sends runs, is refused by the issue's state (409), or by the
# ownership rules (403 naming who may: the owner, the owning team's manager, a dispatcher;
# the matrix issue changes owner and team as the matrix runs).
COMMAND = frozenset({200, 403, 409})


def no_body(caller: str) -> None:
    return None


def fixed(body: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    return lambda caller: body


def new_issue(caller: str) -> dict[str, Any]:
    """Customers open for their own organisation; everyone else must name one."""
    return NEW_ISSUE if caller in CUSTOMERS else {**NEW_ISSUE, "organisation_id": "acme"}


def new_organisation(caller: str) -> dict[str, Any]:
    return {"id": unique("org"), "name": "Matrix Organisation"}


def new_contract(caller: str) -> dict[str, Any]:
    return {
        "id": unique("ctr"),
        "level": "standard",
        "starts_on": "2024-01-01",
        "warranty_end": "2030-12-31",
    }


def new_product(caller: str) -> dict[str, Any]:
    return {"id": unique("product"), "name": "Matrix Product", "current_version": "1.0"}


def new_team(caller: str) -> dict[str, Any]:
    return {"id": unique("team"), "name": "Matrix Team", "tier": 3, "product_ids": []}


def new_engineer(caller: str) -> dict[str, Any]:
    # Into the R&D team, so the new engineer never takes over the matrix issue's dispatch.
    engineer_id = unique("eng")
    return {
        "id": engineer_id,
        "name": "Matrix Engineer",
        "email": f"{engineer_id}@itr.example",
        "team_id": "t3-rnd",
    }


def new_token(caller: str) -> dict[str, Any]:
    return {"name": "Matrix integration token", "role": "integration"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {issue}: the matrix issue (Acme's); {org}: Acme
    admits: frozenset[str]
    answers: frozenset[int]  # what an admitted caller may get
    body: Callable[[str], dict[str, Any] | None] = no_body
    acme_only: bool = False  # another organisation's customer gets 404

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("POST", "/issues", EVERYONE, CREATED, new_issue),
    Endpoint("GET", "/issues", EVERYONE, OK),
    Endpoint("GET", "/issues/{issue}", EVERYONE, OK, acme_only=True),
    Endpoint(
        "POST",
        "/issues/{issue}/acknowledge",
        STAFF,
        COMMAND,
        fixed({"message": "On it."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/comments",
        EVERYONE,
        COMMAND,
        fixed({"body": "A public note."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/assign",
        STAFF,
        COMMAND,
        fixed({"engineer_id": "bob", "reason": "Balancing load"}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/escalate",
        STAFF,
        COMMAND,
        fixed(
            {"to_tier": 2, "reason": "Needs an expert", "summary": "Checked the logs and rebooted."}
        ),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/request-info",
        STAFF,
        COMMAND,
        fixed({"question": "Which firmware?"}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/reply",
        CUSTOMER_OR_MANAGER,
        COMMAND,
        fixed({"body": "Firmware 5.2."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/resolution",
        STAFF,
        COMMAND,
        fixed({"summary": "Upgrade to 5.2.1."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/confirmation",
        CUSTOMER_OR_MANAGER,
        COMMAND,
        # A rejection sends the issue back to work, so the matrix issue stays open.
        fixed({"accept": False, "comment": "Not fixed yet."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/reopen",
        CUSTOMER_OR_MANAGER,
        COMMAND,
        fixed({"reason": "It is back."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/severity",
        STAFF,
        COMMAND,
        fixed({"severity": 1, "reason": "Production is down"}),
        acme_only=True,
    ),
    Endpoint("GET", "/issues/{issue}/sla", EVERYONE, OK, acme_only=True),
    Endpoint(
        "POST",
        "/issues/{issue}/sla/reapply",
        ADMIN_ONLY,
        COMMAND,
        fixed({"reason": "Policy edited"}),
        acme_only=True,
    ),
    Endpoint("GET", "/sla/at-risk", EVERYONE, OK),
    Endpoint("POST", "/sla/reapply", ADMIN_ONLY, OK, fixed({"issue_ids": ["ITR-NONE"]})),
    Endpoint(
        "POST",
        "/issues/{issue}/cancel",
        CUSTOMER_OR_MANAGER,
        COMMAND,
        fixed({"reason": "No longer needed."}),
        acme_only=True,
    ),
    Endpoint("POST", "/issues/{issue}/claim", STAFF, COMMAND, acme_only=True),
    Endpoint("POST", "/issues/{issue}/offer/accept", STAFF, COMMAND, acme_only=True),
    Endpoint(
        "POST",
        "/issues/{issue}/offer/decline",
        STAFF,
        COMMAND,
        fixed({"reason": "Busy"}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/hand-back",
        STAFF,
        COMMAND,
        fixed({"guidance": "Raise the QoS buffer."}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/{issue}/hand-over",
        DISPATCHING,
        COMMAND,
        fixed({"engineer_id": "erin", "reason": "Off duty"}),
        acme_only=True,
    ),
    Endpoint(
        "POST",
        "/issues/bulk/assign",
        DISPATCHING,
        OK,
        fixed({"issue_ids": ["ITR-NONE"], "engineer_id": "bob"}),
    ),
    Endpoint("POST", "/engineers/erin/hand-over", DISPATCHING, OK, fixed({"reason": "Off duty"})),
    Endpoint("GET", "/organisations", EVERYONE, OK),
    Endpoint("POST", "/organisations", ADMIN_ONLY, CREATED, new_organisation),
    Endpoint("GET", "/organisations/{org}/contracts", EVERYONE, OK, acme_only=True),
    Endpoint("POST", "/organisations/{org}/contracts", ADMIN_ONLY, CREATED, new_contract),
    Endpoint("GET", "/products", EVERYONE, OK),
    Endpoint("POST", "/products", ADMIN_ONLY, CREATED, new_product),
    Endpoint("GET", "/teams", STAFF, OK),
    Endpoint("POST", "/teams", ADMIN_ONLY, CREATED, new_team),
    Endpoint("GET", "/engineers", STAFF, OK),
    Endpoint("POST", "/engineers", ADMIN_ONLY, CREATED, new_engineer),
    Endpoint("POST", "/tokens", ADMIN_ONLY, CREATED, new_token),
    Endpoint("GET", "/tokens", ADMIN_ONLY, OK),
]

# Endpoint-major, so the cancel cells (last) run after every other command cell.
CELLS = [(endpoint, caller) for endpoint in ENDPOINTS for caller in CALLERS]


@dataclass
class Matrix:
    stack: Stack
    api: httpx.AsyncClient
    issue_id: str


@pytest.fixture(scope="module")
async def matrix(shared_database: Database, temporal_client: Client) -> AsyncIterator[Matrix]:
    """One stack and one Acme issue per backend, shared by every test of this module."""
    await empty_all_tables(shared_database)
    async with running_stack(shared_database, temporal_client) as stack:
        api = stack.api()
        issue = await open_issue(api, key=unique("matrix"))
        yield Matrix(stack=stack, api=api, issue_id=str(issue["id"]))


async def call(
    matrix: Matrix, endpoint: Endpoint, caller: str, headers: dict[str, str]
) -> httpx.Response:
    path = endpoint.path.format(issue=matrix.issue_id, org="acme")
    body = endpoint.body(caller)
    extra = {"Idempotency-Key": unique("key")} if endpoint.method == "POST" else {}
    return await matrix.api.request(endpoint.method, path, json=body, headers={**headers, **extra})


def is_problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    return problem


@pytest.mark.parametrize(
    ("endpoint", "caller"), CELLS, ids=[f"{caller} -> {endpoint}" for endpoint, caller in CELLS]
)
async def test_each_caller_gets_exactly_the_access_the_endpoint_grants(
    matrix: Matrix, endpoint: Endpoint, caller: str
) -> None:
    response = await call(matrix, endpoint, caller, CALLERS[caller])
    cell = f"{caller} -> {endpoint}: {response.status_code} {response.text[:300]}"

    if caller not in ROLE_OF:
        assert response.status_code == 401, cell
        assert response.headers["WWW-Authenticate"] == "Bearer", cell
        is_problem(response)
    elif caller not in endpoint.admits:
        assert response.status_code == 403, cell
        assert f"role '{ROLE_OF[caller]}'" in is_problem(response)["detail"], cell
    elif caller == "other-organisation customer" and endpoint.acme_only:
        assert response.status_code == 404, cell
        assert "does not exist" in is_problem(response)["detail"], cell
    else:
        assert response.status_code in endpoint.answers, cell
        if response.status_code == 403:  # the domain's ownership rule, not the role's
            detail = is_problem(response)["detail"]
            assert "role '" not in detail and "cannot" in detail, cell


@pytest.mark.parametrize("caller", ["customer", "integration"])
async def test_the_customer_side_never_sees_internal_comments_or_internal_timeline_entries(
    matrix: Matrix, caller: str
) -> None:
    api = matrix.api
    issue = await open_issue(api, key=unique("internal"))
    issue_id = issue["id"]
    internal = await api.post(
        f"/issues/{issue_id}/comments",
        json={"body": "Customer runs an unsupported config.", "visibility": "internal"},
        headers=ENGINEER,
    )
    assert internal.status_code == 200, internal.text
    public = await api.post(
        f"/issues/{issue_id}/comments", json={"body": "We are on it."}, headers=ENGINEER
    )
    assert public.status_code == 200, public.text

    staff_view = await issue_detail(api, issue_id)
    assert {c["visibility"] for c in staff_view["comments"]} == {"internal", "public"}
    assert "internal" in {e["visibility"] for e in staff_view["timeline"]}

    response = await api.get(f"/issues/{issue_id}", headers=CALLERS[caller])
    assert response.status_code == 200, response.text
    outside_view = response.json()
    assert [c["body"] for c in outside_view["comments"]] == ["We are on it."]
    public = [e for e in staff_view["timeline"] if e["visibility"] == "public"]
    assert public, "the public timeline is shown"
    shown = outside_view["timeline"]
    assert [(e["kind"], e["at"]) for e in shown] == [(e["kind"], e["at"]) for e in public]
    # Numbered over what the caller sees, so the gaps do not count the internal entries.
    assert [e["seq"] for e in shown] == list(range(1, len(public) + 1))
    assert "unsupported config" not in response.text
    # Tier budgets (OLAs) and the SLA bookkeeping entries are internal too.
    assert "tier_1" in {c["clock"] for c in staff_view["sla"]["clocks"]}
    assert {c["clock"] for c in outside_view["sla"]["clocks"]} == {"first_response", "resolution"}
    history = await api.get(f"/issues/{issue_id}/sla", headers=CALLERS[caller])
    assert history.status_code == 200, history.text
    assert all(e["visibility"] == "public" for e in history.json()["history"])
    assert "tier_1" not in history.text


@pytest.mark.parametrize("caller", ["customer", "integration"])
async def test_the_customer_side_cannot_write_an_internal_comment(
    matrix: Matrix, caller: str
) -> None:
    api = matrix.api
    issue = await open_issue(api, key=unique("no-internal"))
    response = await api.post(
        f"/issues/{issue['id']}/comments",
        json={"body": "Psst.", "visibility": "internal"},
        headers=CALLERS[caller],
    )
    assert response.status_code == 409, response.text
    assert "customers cannot write internal comments" in is_problem(response)["detail"]
    comments = (await issue_detail(api, issue["id"]))["comments"]
    assert comments == []


async def test_a_customer_lists_only_its_own_organisation_even_when_asking_for_another(
    matrix: Matrix,
) -> None:
    api = matrix.api
    ours = await open_issue(api, key=unique("ours"))
    theirs = await open_issue(api, key=unique("theirs"), headers=OTHER_CUSTOMER)

    asked_for_globex = await api.get(
        "/issues", params={"organisation_id": "globex"}, headers=CUSTOMER
    )
    assert asked_for_globex.status_code == 200, asked_for_globex.text
    items = asked_for_globex.json()["items"]
    assert ours["id"] in [i["id"] for i in items]
    assert {i["organisation_id"] for i in items} == {"acme"}

    assert theirs["id"] not in [i["id"] for i in items]

    globex_view = (await api.get("/issues", headers=OTHER_CUSTOMER)).json()["items"]
    assert theirs["id"] in [i["id"] for i in globex_view]
    assert {i["organisation_id"] for i in globex_view} == {"globex"}

    staff_view = (
        await api.get("/issues", params={"organisation_id": "globex"}, headers=MANAGER)
    ).json()["items"]
    assert [i["id"] for i in staff_view] == [i["id"] for i in globex_view]

    organisations = (await api.get("/organisations", headers=CUSTOMER)).json()
    assert [o["id"] for o in organisations] == ["acme"]
