"""The Jira test server's own contract: auth, JQL subset, paging, remote links, faults."""

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from jira_test_server import INTEGRATION_USER, JiraTestServer, ServerSpec
from jira_test_server.jql import JqlError, parse_jql, parse_jql_datetime

AUTH = (INTEGRATION_USER.email, INTEGRATION_USER.api_token)


@pytest.fixture
def server() -> Iterator[JiraTestServer]:
    with JiraTestServer() as running:
        yield running


@pytest.fixture
def http(server: JiraTestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/rest/api/2", auth=AUTH, timeout=5) as client:
        yield client


def create(http: httpx.Client, summary: str, labels: list[str]) -> str:
    fields = {"project": {"key": "RND"}, "issuetype": {"name": "Bug"}}
    response = http.post(
        "/issue", json={"fields": {**fields, "summary": summary, "labels": labels}}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_jql_subset_parses_and_refuses_the_rest() -> None:
    query = parse_jql('labels = "itr-a" AND key in (RND-1, "RND-2") ORDER BY updated DESC')
    assert [(c.field, c.op, c.values) for c in query.clauses] == [
        ("labels", "=", ("itr-a",)),
        ("key", "in", ("RND-1", "RND-2")),
    ]
    assert query.order_by == (("updated", True),)
    for bad in ("labels = a OR labels = b", "(project = RND)", "nosuch = 1", "labels ~ x"):
        with pytest.raises(JqlError):
            parse_jql(bad)
    moment = parse_jql_datetime("2025-03-10 02:11", UTC, datetime.now(UTC))
    assert moment == datetime(2025, 3, 10, 2, 11, tzinfo=UTC)


def test_auth_is_required_except_for_server_info(server: JiraTestServer) -> None:
    base = f"{server.url}/rest/api/2"
    assert httpx.get(f"{base}/serverInfo").json()["deploymentType"] == "Server"
    assert httpx.get(f"{base}/myself").status_code == 401
    assert httpx.get(f"{base}/myself", auth=(INTEGRATION_USER.email, "wrong")).status_code == 401
    bearer = {"Authorization": f"Bearer {INTEGRATION_USER.pat}"}
    assert httpx.get(f"{base}/myself", headers=bearer).json()["name"] == INTEGRATION_USER.name


def test_search_validates_keys_unless_asked_not_to_and_pages(http: httpx.Client) -> None:
    keys = [create(http, f"bug {n}", ["itr-x"]) for n in range(3)]
    jql = f"key in ({', '.join(keys)}, RND-99) ORDER BY key ASC"
    assert http.get("/search", params={"jql": jql}).status_code == 400
    page = http.get(
        "/search", params={"jql": jql, "validateQuery": "false", "maxResults": 2, "startAt": 1}
    ).json()
    assert page["total"] == 3 and [i["key"] for i in page["issues"]] == keys[1:]
    posted = http.post("/search", json={"jql": 'labels = "itr-x"', "fields": ["labels"]}).json()
    assert posted["total"] == 3 and set(posted["issues"][0]["fields"]) == {"labels"}


def test_remote_link_with_known_global_id_updates(http: httpx.Client) -> None:
    key = create(http, "bug", [])
    link = {"globalId": "itr:issue:1", "object": {"url": "https://x/1", "title": "one"}}
    first = http.post(f"/issue/{key}/remotelink", json=link)
    link["object"] = {"url": "https://x/1", "title": "renamed"}
    second = http.post(f"/issue/{key}/remotelink", json=link)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert [lk["object"]["title"] for lk in http.get(f"/issue/{key}/remotelink").json()] == [
        "renamed"
    ]


def test_create_validation_errors_look_like_jira(http: httpx.Client) -> None:
    response = http.post(
        "/issue",
        json={"fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Bug"}, "summary": "s"}},
    )
    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [],
        "errors": {"project": "valid project is required"},
    }


def test_faults_are_scoped_and_dropped_requests_are_applied(
    server: JiraTestServer, http: httpx.Client
) -> None:
    server.faults.fail_next(1, status=502, method="GET", path=r"/priority$")
    assert http.get("/status").status_code == 200
    assert http.get("/priority").status_code == 502
    assert http.get("/priority").status_code == 200

    server.faults.accept_then_drop_next(1, method="POST", path=r"/issue$")
    with pytest.raises(httpx.RemoteProtocolError):
        create(http, "lost answer", [])
    assert [i.summary for i in server.issues()] == ["lost answer"]
    assert server.faults.pending() == 0
    assert server.requests[-1].fault == "drop" and server.requests[-1].status is None


def test_cloud_flavour_serves_search_jql_only() -> None:
    with JiraTestServer(ServerSpec(deployment_type="Cloud")) as server:
        base = f"{server.url}/rest/api/2"
        with httpx.Client(base_url=base, auth=AUTH, timeout=5) as http:
            for n in range(3):
                create(http, f"bug {n}", [])
            assert http.get("/search", params={"jql": "project = RND"}).status_code == 410
            first = http.get("/search/jql", params={"jql": "project = RND", "maxResults": 2})
            token = first.json()["nextPageToken"]
            rest = http.get("/search/jql", params={"jql": "project = RND", "nextPageToken": token})
            assert len(first.json()["issues"]) == 2 and rest.json()["isLast"] is True


def test_a_moved_issue_gets_a_new_key_keeps_its_id_and_answers_to_its_old_key(
    server: JiraTestServer, http: httpx.Client
) -> None:
    old_key = create(http, "moves to operations", ["itr-m"])
    issue_id = http.get(f"/issue/{old_key}").json()["id"]

    event = server.move_issue(old_key, "OPS")

    new_key = event.body["issue"]["key"]
    assert new_key == "OPS-1" and event.body["issue"]["id"] == issue_id
    assert event.body["issue_event_type_name"] == "issue_moved"
    items = event.body["changelog"]["items"]
    assert (items[0]["field"], items[0]["fromString"], items[0]["toString"]) == (
        "Key",
        old_key,
        new_key,
    )
    assert http.get(f"/issue/{old_key}").json()["key"] == new_key
    assert http.get(f"/issue/{issue_id}").json()["key"] == new_key
    found = http.get("/search", params={"jql": f"key in ({old_key})"}).json()["issues"]
    assert [(i["key"], i["id"]) for i in found] == [(new_key, issue_id)]
    by_id = http.get("/search", params={"jql": f"id = {issue_id}"}).json()["issues"]
    assert [i["key"] for i in by_id] == [new_key]


def test_a_rebuilt_server_gives_the_same_keys_to_new_issues_with_new_ids(
    server: JiraTestServer, http: httpx.Client
) -> None:
    key = create(http, "before the rebuild", [])
    old_id = http.get(f"/issue/{key}").json()["id"]

    server.rebuild()

    assert http.get(f"/issue/{old_id}").status_code == 404
    assert create(http, "after the rebuild", []) == key
    new = http.get(f"/issue/{key}").json()
    assert new["id"] != old_id and new["fields"]["summary"] == "after the rebuild"
