"""JiraTracker against the Jira test server, over real HTTP with the real `jira` library."""

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from domain.enums import Severity
from integrations.jira import (
    BasicAuth,
    BearerAuth,
    JiraConfig,
    JiraTracker,
    ProductRoute,
    TransitionNames,
    WebhookRejectedError,
    build_client,
    check_config,
    load_jira_config,
    parse_jira_config,
    parse_webhook,
    read_webhook,
    sign_body,
    verify_signature,
)
from integrations.jira.adapter import remote_link_global_id
from integrations.jira.errors import parse_retry_after
from integrations.tracker import (
    DefectDraft,
    DefectMeaning,
    DefectNotFoundError,
    DefectTracker,
    TrackerEventKind,
    TrackerPermanentError,
    TrackerTransientError,
    dedupe_key_for,
    find_marker,
    with_marker,
)
from jira_test_server import (
    INTEGRATION_USER,
    CustomFieldSpec,
    ProjectSpec,
    ServerSpec,
    StatusSpec,
    TransitionSpec,
    UserSpec,
    webhook_request,
)
from jira_test_server import JiraTestServer as Server

SECRET = "s3cret-webhook-key"
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def basic_auth(user: UserSpec = INTEGRATION_USER) -> BasicAuth:
    return BasicAuth(email=user.email, api_token=SecretStr(user.api_token))


def make_config(server: Server, **overrides: object) -> JiraConfig:
    values: dict[str, object] = {
        "url": server.url,
        "auth": basic_auth(),
        "timeout_seconds": 5,
        "webhook_secret": SECRET,
        "products": {"router": ProductRoute(project_key="RND", components=("Backend",))},
    }
    values.update(overrides)
    return JiraConfig.model_validate(values)


def make_draft(issue_id: str = "ISS-1042", **overrides: object) -> DefectDraft:
    values: dict[str, object] = {
        "issue_id": issue_id,
        "dedupe_key": dedupe_key_for(issue_id),
        "issue_url": f"https://itr.example.com/issues/{issue_id}",
        "product": "router",
        "product_version": "4.2.1",
        "title": "Router reboots when VPN tunnel flaps",
        "environment": "HW rev C, firmware 4.2.1, 3 IPsec tunnels",
        "steps_to_reproduce": "1. Bring tunnel up\n2. Pull WAN cable\n3. Mail ops@customer.example",
        "expected_behaviour": "Tunnel renegotiates",
        "actual_behaviour": "Device reboots",
        "severity": Severity.MAJOR,
        "affected_customers": 3,
    }
    values.update(overrides)
    return DefectDraft.model_validate(values)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


@pytest.fixture
def tracker(server: Server) -> Iterator[JiraTracker]:
    jira_tracker = JiraTracker(make_config(server))
    yield jira_tracker
    jira_tracker.close()


# --- exactly-once creation --------------------------------------------------------------


def test_tracker_satisfies_the_port(tracker: JiraTracker) -> None:
    assert isinstance(tracker, DefectTracker)


def test_lost_create_response_is_transient_and_the_retry_finds_the_defect(
    server: Server, tracker: JiraTracker
) -> None:
    draft = make_draft()
    server.faults.accept_then_drop_next(1, method="POST", path=r"/rest/api/2/issue$")

    with pytest.raises(TrackerTransientError):
        tracker.create_defect(draft)
    assert len(server.issues()) == 1, "Jira applied the create even though the answer was lost"

    ref = tracker.create_defect(draft)

    assert ref.created is False
    assert [i.key for i in server.issues()] == [ref.key]
    assert len(server.requests_to("POST", "/rest/api/2/issue")) == 1
    links = server.issue(ref.key).links
    assert [link.global_id for link in links] == [remote_link_global_id(draft.issue_id)]


def test_create_puts_label_link_and_safe_description(server: Server, tracker: JiraTracker) -> None:
    draft = make_draft()

    first = tracker.create_defect(draft)
    again = tracker.create_defect(draft)

    assert first.created is True and again.created is False
    assert first.key == again.key and first.url.endswith(f"/browse/{first.key}")
    issue = server.issue(first.key)
    assert f"itr-{draft.dedupe_key}" in issue.labels
    assert issue.priority == "High" and issue.components == ["Backend"]
    text = issue.description or ""
    for needed in ("4.2.1", "HW rev C", "Pull WAN cable", "2 (major)", "Affected customers:* 3"):
        assert needed in text
    assert draft.issue_url in text
    assert "ops@customer.example" not in text
    assert len(issue.links) == 1 and issue.links[0].object["url"] == draft.issue_url


def test_draft_carries_no_personal_data_fields() -> None:
    with pytest.raises(ValidationError):
        make_draft(customer_email="jane@customer.example")
    assert not {"email", "name", "phone", "customer_name"} & set(DefectDraft.model_fields)


def test_dedupe_key_is_deterministic_and_label_safe() -> None:
    assert dedupe_key_for("ISS-1042") == dedupe_key_for("ISS-1042")
    assert dedupe_key_for("ISS-1042") != dedupe_key_for("iss-1042")
    assert dedupe_key_for("iss-7") == "iss-7"
    assert " " not in dedupe_key_for("Ticket 12 / Ä")


def test_remote_link_is_idempotent_and_many_issues_share_a_defect(
    server: Server, tracker: JiraTracker
) -> None:
    ref = tracker.create_defect(make_draft("ISS-1"))

    tracker.link_issue(ref.key, "ISS-1", "https://itr.example.com/issues/ISS-1", "renamed")
    tracker.link_issue(ref.key, "ISS-2", "https://itr.example.com/issues/ISS-2", "same bug")
    tracker.link_issue(ref.key, "ISS-2", "https://itr.example.com/issues/ISS-2", "same bug")

    links = {link.global_id: link for link in server.issue(ref.key).links}
    assert set(links) == {"itr:issue:ISS-1", "itr:issue:ISS-2"}
    assert links["itr:issue:ISS-1"].object["title"] == "ISS-1: renamed"


# --- comments ---------------------------------------------------------------------------


def test_own_comments_carry_a_marker_and_are_recognised(
    server: Server, tracker: JiraTracker
) -> None:
    ref = tracker.create_defect(make_draft())
    since = datetime.now(UTC) - timedelta(minutes=1)

    comment_id = tracker.add_comment(ref.key, "Customer confirms on 4.2.2 too.", "evt-17")
    server.act_comment(ref.key, "Looking into it.")

    comments = tracker.get_defect(ref.key, comments_since=since).comments
    assert [(c.body, c.own, c.marker) for c in comments] == [
        ("Customer confirms on 4.2.2 too.", True, "evt-17"),
        ("Looking into it.", False, None),
    ]
    assert comments[0].id == comment_id
    assert tracker.is_own_comment(comments[0]) and not tracker.is_own_comment(comments[1])


def test_comment_retry_after_lost_response_posts_once(server: Server, tracker: JiraTracker) -> None:
    ref = tracker.create_defect(make_draft())
    server.faults.accept_then_drop_next(1, method="POST", path=r"/comment$")

    with pytest.raises(TrackerTransientError):
        tracker.add_comment(ref.key, "Escalation note", "evt-1")
    comment_id = tracker.add_comment(ref.key, "Escalation note", "evt-1")

    comments = server.issue(ref.key).comments
    assert [str(c.id) for c in comments] == [comment_id]


def test_marker_round_trip_and_validation(tracker: JiraTracker) -> None:
    body = with_marker("Fixed?", "evt:42")
    assert find_marker(body) == "evt:42"
    assert find_marker(body.replace("\\", "")) == "evt:42", "rich-text round trips drop escapes"
    assert find_marker("quoting [itr:evt:42] mid-text\nand more") is None
    with pytest.raises(TrackerPermanentError):
        tracker.add_comment("RND-1", "x", "bad marker with spaces")


def test_paged_comments_are_all_read() -> None:
    with Server(ServerSpec(embedded_comment_limit=1)) as server:
        tracker = JiraTracker(make_config(server))
        ref = tracker.create_defect(make_draft())
        server.act_comment(ref.key, "one")
        server.act_comment(ref.key, "two")
        since = datetime.now(UTC) - timedelta(minutes=1)
        assert [c.body for c in tracker.get_defect(ref.key, since).comments] == ["one", "two"]
        tracker.close()


# --- workflow ---------------------------------------------------------------------------


def test_status_meanings_follow_rnd_actions(server: Server, tracker: JiraTracker) -> None:
    key = tracker.create_defect(make_draft()).key
    assert tracker.get_defect(key).meaning is DefectMeaning.OPEN

    server.act_transition(key, "Start Progress")
    assert tracker.get_defect(key).meaning is DefectMeaning.IN_PROGRESS

    server.act_transition(key, "Resolve Issue", resolution="Fixed")
    server.act_update(key, {"fixVersions": [{"name": "4.2.2"}]})
    snapshot = tracker.get_defect(key)
    assert (snapshot.status, snapshot.resolution, snapshot.meaning) == (
        "Resolved",
        "Fixed",
        DefectMeaning.FIXED,
    )
    assert snapshot.fix_versions == ("4.2.2",)

    server.act_transition(key, "Reopen Issue")
    assert tracker.get_defect(key).meaning is DefectMeaning.REOPENED

    server.act_transition(key, "Close Issue", resolution="Cannot Reproduce")
    assert tracker.get_defect(key).meaning is DefectMeaning.WONT_FIX


def test_meaning_mapping_precedence(server: Server) -> None:
    config = make_config(
        server,
        status_meanings={"QA Verified": "fixed", "Reopened": "reopened"},
        status_category_meanings={"new": "open", "indeterminate": "in_progress", "done": "fixed"},
    )
    assert config.meaning_of("qa verified", "indeterminate") is DefectMeaning.FIXED
    assert config.meaning_of("Reopened", "new") is DefectMeaning.REOPENED
    assert config.meaning_of("Closed", "done", "Won't Fix") is DefectMeaning.WONT_FIX
    assert config.meaning_of("Closed", "done", "Fixed") is DefectMeaning.FIXED
    assert config.meaning_of("Triage", "new", "Duplicate") is DefectMeaning.OPEN
    assert config.meaning_of("Weird", None) is DefectMeaning.OPEN


def test_transitions_by_configured_names_are_idempotent(
    server: Server, tracker: JiraTracker
) -> None:
    key = tracker.create_defect(make_draft()).key

    tracker.transition(key, DefectMeaning.WONT_FIX)
    tracker.transition(key, DefectMeaning.WONT_FIX)  # a retry after a lost answer: no-op
    issue = server.issue(key)
    assert (issue.status.name, issue.resolution) == ("Closed", "Won't Fix")

    tracker.transition(key, DefectMeaning.REOPENED)
    assert tracker.get_defect(key).meaning is DefectMeaning.REOPENED
    posts = server.requests_to("POST", f"/issue/{key}/transitions")
    assert len(posts) == 2


CUSTOM_SPEC = ServerSpec(
    version="10.3.0",
    users=(
        UserSpec(
            account_id="jira-svc",
            name="svc-itr",
            display_name="ITR service",
            email="svc@example.org",
            pat="pat-123",
        ),
        UserSpec(account_id="dev-1", name="dev", display_name="Dev", email="dev@example.org"),
    ),
    projects=(ProjectSpec(id="20000", key="FW", name="Firmware", issue_types=("Defect",)),),
    priorities=("P1", "P2", "P3", "P4"),
    resolutions=("Done", "Rejected"),
    statuses=(
        StatusSpec(id="10", name="Backlog", category="new"),
        StatusSpec(id="11", name="Doing", category="indeterminate"),
        StatusSpec(id="12", name="Shipped", category="done"),
        StatusSpec(id="13", name="Rejected", category="done"),
    ),
    initial_status="Backlog",
    transitions=(
        TransitionSpec(id="21", name="Begin work", to="Doing", sources=("Backlog",)),
        TransitionSpec(id="22", name="Ship it", to="Shipped", sources=("Doing", "Backlog")),
        TransitionSpec(
            id="23",
            name="Decline",
            to="Rejected",
            sources=("Backlog", "Doing"),
            screen_fields=("resolution",),
        ),
        TransitionSpec(id="24", name="Revive", to="Backlog", sources=("Shipped", "Rejected")),
    ),
    custom_fields=(
        CustomFieldSpec(id="customfield_10100", name="Customer Count", type="number"),
        CustomFieldSpec(id="customfield_10042", name="Found in Build"),
        CustomFieldSpec(id="customfield_10077", name="Impact", type="option", custom_type="select"),
    ),
)


def custom_config(server: Server) -> JiraConfig:
    return make_config(
        server,
        auth=BearerAuth(token=SecretStr("pat-123")),
        deployment="server",
        products={"router": ProductRoute(project_key="FW", issue_type="Defect")},
        priorities={1: "P1", 2: "P2", 3: "P3", 4: "P4"},
        fields={
            "affected_customers": "Customer Count",
            "product_version": "customfield_10042",
            "impact": "impact",
        },
        status_meanings={"Rejected": "wont_fix"},
        transitions=TransitionNames(
            close=("Decline",), resolve=("Ship it",), reopen=("Revive",), start=("Begin work",)
        ),
        transition_resolutions={"wont_fix": "Rejected"},
    )


def test_second_config_with_other_names_and_custom_fields() -> None:
    with Server(CUSTOM_SPEC) as server:
        tracker = JiraTracker(custom_config(server))
        ref = tracker.create_defect(make_draft(extra_fields={"impact": "Outage"}))

        issue = server.issue(ref.key)
        assert ref.key == "FW-1" and issue.priority == "P2"
        assert issue.custom == {
            "customfield_10100": 3,
            "customfield_10042": "4.2.1",
            "customfield_10077": {"value": "Outage"},
        }

        tracker.transition(ref.key, DefectMeaning.IN_PROGRESS)
        assert server.issue(ref.key).status.name == "Doing"
        tracker.transition(ref.key, DefectMeaning.WONT_FIX)
        snapshot = tracker.get_defect(ref.key)
        assert (snapshot.status, snapshot.resolution) == ("Rejected", "Rejected")
        assert snapshot.meaning is DefectMeaning.WONT_FIX
        tracker.transition(ref.key, DefectMeaning.REOPENED)
        assert tracker.get_defect(ref.key).status == "Backlog"
        tracker.transition(ref.key, DefectMeaning.FIXED)
        assert tracker.get_defect(ref.key).meaning is DefectMeaning.FIXED
        tracker.close()


def test_config_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "jira.yaml"
    path.write_text(
        """
jira:
  url: https://rnd.example.org/jira/
  auth: {kind: bearer, token: pat-abc}
  deployment: server
  timeout_seconds: 4
  webhook_secret: whsec
  products:
    router: {project_key: FW, issue_type: Defect, components: [Core]}
  priorities: {1: P1, 2: P2, 3: P3, 4: P4}
  fields: {affected_customers: Customer Count, product_version: customfield_10042}
  status_meanings: {Rejected: wont_fix}
  status_category_meanings: {new: open, indeterminate: in_progress, done: fixed}
  transitions: {close: [Decline], reopen: [Revive]}
  poll_interval: 120
""",
        encoding="utf-8",
    )
    config = load_jira_config(path)
    assert config.url == "https://rnd.example.org/jira"
    assert isinstance(config.auth, BearerAuth) and config.auth.token.get_secret_value() == "pat-abc"
    assert config.priorities[Severity.CRITICAL] == "P1"
    assert config.transitions.close == ("Decline",) and config.transitions.start  # default kept
    assert config.poll_interval == timedelta(minutes=2)
    assert "pat-abc" not in repr(config)


# --- polling ----------------------------------------------------------------------------


def test_search_updated_since_uses_the_users_time_zone() -> None:
    west = INTEGRATION_USER.model_copy(update={"time_zone": "America/Los_Angeles"})
    spec = ServerSpec(users=(west, *ServerSpec().users[1:]))
    with Server(spec) as server:
        tracker = JiraTracker(make_config(server))
        server.freeze_time(T0)
        changed = tracker.create_defect(make_draft("ISS-1")).key
        quiet = tracker.create_defect(make_draft("ISS-2")).key
        server.advance_time(timedelta(minutes=10))
        server.act_comment(changed, "Root cause found")
        server.act_transition(changed, "Start Progress")

        since = T0 + timedelta(minutes=5)
        found = tracker.search_updated_since(since, [changed, quiet, "RND-999"])

        assert [s.key for s in found] == [changed]
        assert found[0].meaning is DefectMeaning.IN_PROGRESS
        assert [(c.body, c.own) for c in found[0].comments] == [("Root cause found", False)]
        assert tracker.search_updated_since(T0 + timedelta(minutes=11), [changed]) == []
        query = server.requests_to("GET", "/rest/api/2/search")[-1].query
        assert "2025-03-10+02%3A11" in query, "09:11 UTC is 02:11 in Los Angeles"
        tracker.close()


def test_search_finds_a_moved_defect_by_its_id_and_never_a_reused_key_by_it() -> None:
    with Server() as server:
        tracker = JiraTracker(make_config(server))
        server.freeze_time(T0)
        ref = tracker.create_defect(make_draft("ISS-1"))
        legacy = tracker.create_defect(make_draft("ISS-2"))
        server.advance_time(timedelta(minutes=10))
        moved = server.move_issue(ref.key, "OPS")
        new_key = moved.body["issue"]["key"]
        server.act_transition(new_key, "Resolve Issue", resolution="Fixed")
        server.act_transition(legacy.key, "Start Progress")
        since = T0 + timedelta(minutes=5)

        found = tracker.search_updated_since(since, [legacy.key], [ref.id])

        assert {(s.key, s.id) for s in found} == {(new_key, ref.id), (legacy.key, legacy.id)}
        assert new_key.startswith("OPS-") and tracker.get_defect(ref.key).key == new_key

        server.rebuild()
        reused = tracker.create_defect(make_draft("ISS-3"))
        assert reused.key == ref.key and reused.id != ref.id
        server.advance_time(timedelta(minutes=1))
        server.act_transition(reused.key, "Resolve Issue", resolution="Fixed")
        assert tracker.search_updated_since(since, [], [ref.id]) == []
        with pytest.raises(TrackerPermanentError, match="not a Jira issue id"):
            tracker.search_updated_since(since, [], ["10001) OR id in (1"])
        tracker.close()


def test_cloud_deployment_is_detected_and_uses_search_jql() -> None:
    with Server(ServerSpec(deployment_type="Cloud")) as server:
        tracker = JiraTracker(make_config(server))
        draft = make_draft()
        ref = tracker.create_defect(draft)
        assert tracker.create_defect(draft).key == ref.key
        assert tracker.search_updated_since(T0, [ref.key])[0].key == ref.key
        assert server.requests_to("GET", "/search/jql")
        assert not server.requests_to("GET", "/rest/api/2/search")
        tracker.close()

        wrongly_server = JiraTracker(make_config(server, deployment="server"))
        with pytest.raises(TrackerPermanentError) as info:
            wrongly_server.find_defect(draft.dedupe_key)
        assert info.value.status_code == 410
        wrongly_server.close()


# --- error mapping ----------------------------------------------------------------------


def test_server_error_is_transient(server: Server, tracker: JiraTracker) -> None:
    key = tracker.create_defect(make_draft()).key
    server.faults.fail_next(1, status=500, path=f"/issue/{key}$")

    with pytest.raises(TrackerTransientError) as info:
        tracker.get_defect(key)
    assert info.value.status_code == 500
    assert tracker.get_defect(key).key == key


def test_timeout_is_transient(server: Server) -> None:
    tracker = JiraTracker(make_config(server, timeout_seconds=0.2))
    key = tracker.create_defect(make_draft()).key
    server.faults.timeout_next(1, delay=0.5, path=f"/issue/{key}$")

    with pytest.raises(TrackerTransientError, match="timed out"):
        tracker.get_defect(key)
    tracker.close()


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_is_transient_with_retry_after_and_not_retried_by_the_library(
    server: Server, tracker: JiraTracker, status: int
) -> None:
    key = tracker.create_defect(make_draft()).key
    if status == 429:
        server.faults.rate_limit_next(1, retry_after=7, path=f"/issue/{key}$")
    else:
        server.faults.fail_next(1, status=503, path=f"/issue/{key}$")

    with pytest.raises(TrackerTransientError) as info:
        tracker.get_defect(key)

    assert info.value.status_code == status
    assert info.value.retry_after == (7.0 if status == 429 else None)
    assert len(server.requests_to("GET", f"/issue/{key}")) == 1, "max_retries=0 must hold"


def test_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_bad_credentials_are_permanent(server: Server) -> None:
    wrong = BasicAuth(email=INTEGRATION_USER.email, api_token=SecretStr("nope"))
    tracker = JiraTracker(make_config(server, auth=wrong))
    with pytest.raises(TrackerPermanentError) as info:
        tracker.create_defect(make_draft())
    assert info.value.status_code == 401
    assert server.issues() == []


def test_unknown_project_is_permanent(server: Server) -> None:
    routes = {"router": ProductRoute(project_key="NOPE")}
    tracker = JiraTracker(make_config(server, products=routes))
    with pytest.raises(TrackerPermanentError) as info:
        tracker.create_defect(make_draft())
    assert info.value.status_code == 400 and "project" in str(info.value)
    with pytest.raises(TrackerPermanentError, match="no Jira project"):
        tracker.create_defect(make_draft(product="toaster"))


def test_unknown_transition_is_permanent(server: Server) -> None:
    tracker = JiraTracker(
        make_config(server, transitions=TransitionNames(close=("Nuke it",), resolve=()))
    )
    key = tracker.create_defect(make_draft()).key
    with pytest.raises(TrackerPermanentError, match="Nuke it"):
        tracker.transition(key, DefectMeaning.WONT_FIX)


def test_unknown_key_is_permanent(tracker: JiraTracker) -> None:
    with pytest.raises(DefectNotFoundError):
        tracker.get_defect("RND-404")
    with pytest.raises(TrackerPermanentError):
        tracker.get_defect("not a key")


def test_connection_refused_is_transient(server: Server) -> None:
    url = server.url
    server.stop()
    tracker = JiraTracker(make_config(server, url=url, deployment="server"))
    with pytest.raises(TrackerTransientError, match="connection failed"):
        tracker.get_defect("RND-1")


# --- webhooks ---------------------------------------------------------------------------


def test_webhook_signature_checks() -> None:
    body = b'{"webhookEvent":"jira:issue_updated"}'
    good = sign_body(body, SECRET)
    assert good.startswith("sha256=") and verify_signature(body, good, SecretStr(SECRET))
    assert verify_signature(body, good.upper().replace("SHA256", "sha256"), SECRET)
    assert not verify_signature(body + b" ", good, SECRET)
    assert not verify_signature(body, sign_body(body, "other"), SECRET)
    assert not verify_signature(body, None, SECRET)
    assert not verify_signature(body, good.replace("sha256=", "sha1="), SECRET)


class _Capture(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers.items())))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_signed_webhook_over_http_is_verified_and_parsed(
    server: Server, tracker: JiraTracker
) -> None:
    key = tracker.create_defect(make_draft()).key
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        event = server.act_transition(key, "Resolve Issue", resolution="Fixed")
        url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/jira"
        assert server.send_webhook(url, SECRET, event).status_code == 204
    finally:
        receiver.shutdown()
        receiver.server_close()
    body, headers = _Capture.received.pop()

    parsed = read_webhook(body, headers, tracker.config)

    assert parsed is not None
    assert parsed.kind is TrackerEventKind.DEFECT_UPDATED and parsed.defect_key == key
    assert parsed.status == "Resolved" and parsed.meaning is DefectMeaning.FIXED
    assert parsed.status_changed and not parsed.own_echo
    changelog_id, stamp = event.body["changelog"]["id"], event.body["timestamp"]
    assert parsed.dedupe_key == (
        f"jira:issue_updated:issue:{event.body['issue']['id']}:changelog:{changelog_id}:at:{stamp}"
    )
    tampered = body.replace(b"Resolved", b"Reopened")
    with pytest.raises(WebhookRejectedError) as info:
        read_webhook(tampered, headers, tracker.config)
    assert info.value.status_code == 401


def test_webhook_dedupe_keys_and_echoes(server: Server, tracker: JiraTracker) -> None:
    config = tracker.config
    key = tracker.create_defect(make_draft()).key
    tracker.add_comment(key, "Our update", "evt-9")
    own = server.webhook_events[-1]
    theirs = server.act_comment(key, "R&D reply")
    change = server.act_transition(key, "Start Progress")

    first = read_webhook(*webhook_request(own, SECRET), config)
    redelivered = read_webhook(*webhook_request(own, SECRET, retry=1), config)
    assert first is not None and redelivered is not None
    assert first.dedupe_key == redelivered.dedupe_key
    assert first.kind is TrackerEventKind.COMMENT_CREATED and first.own_echo
    assert first.comment is not None and first.comment.body == "Our update"

    body, headers = webhook_request(theirs, SECRET)
    del headers["X-Atlassian-Webhook-Identifier"]
    reply = parse_webhook(body, headers, config)
    assert reply is not None and not reply.own_echo
    comment_id = theirs.body["comment"]["id"]
    assert reply.dedupe_key.startswith(f"jira:comment_created:issue:{reply.defect_id}:comment:")
    assert f":comment:{comment_id}:" in reply.dedupe_key

    body, headers = webhook_request(change, SECRET)
    del headers["X-Atlassian-Webhook-Identifier"]
    moved = parse_webhook(body, headers, config)
    assert moved is not None
    assert f":changelog:{change.body['changelog']['id']}:" in moved.dedupe_key
    assert moved.meaning is DefectMeaning.IN_PROGRESS
    assert len({first.dedupe_key, reply.dedupe_key, moved.dedupe_key}) == 3

    ours = server.act_transition(key, "Stop Progress", user=INTEGRATION_USER)
    echo = parse_webhook(*webhook_request(ours, SECRET), config, {INTEGRATION_USER.account_id})
    assert echo is not None and echo.own_echo


def test_a_captured_body_resent_under_a_new_identifier_keeps_its_dedupe_key(
    server: Server, tracker: JiraTracker
) -> None:
    key = tracker.create_defect(make_draft()).key
    fixed = server.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(fixed, SECRET)
    original = read_webhook(body, headers, tracker.config)

    replay_headers = {**headers, "X-Atlassian-Webhook-Identifier": "forged-new-identifier"}
    replayed = read_webhook(body, replay_headers, tracker.config)

    assert original is not None and replayed is not None
    assert replayed.dedupe_key == original.dedupe_key
    assert "forged" not in replayed.dedupe_key and fixed.identifier not in replayed.dedupe_key
    again = server.act_transition(key, "Reopen Issue")
    later = read_webhook(*webhook_request(again, SECRET), tracker.config)
    assert later is not None and later.dedupe_key != original.dedupe_key


def test_a_body_naming_no_change_dedupes_by_the_hash_of_the_exact_signed_body(
    server: Server,
) -> None:
    config = make_config(server)
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    issue = {"id": "10001", "key": "RND-1", "fields": {}}
    created = {"timestamp": stamp, "webhookEvent": "jira:issue_created", "issue": issue}
    body = json.dumps(created).encode()
    headers = {"X-Hub-Signature": sign_body(body, SECRET)}

    event = read_webhook(body, headers, config)

    assert event is not None
    assert event.dedupe_key == "jira:body:" + hashlib.sha256(body).hexdigest()
    other = json.dumps({**created, "timestamp": stamp + 1}).encode()
    reread = read_webhook(other, {"X-Hub-Signature": sign_body(other, SECRET)}, config)
    assert reread is not None and reread.dedupe_key != event.dedupe_key


def test_a_signed_body_outside_the_time_window_is_refused_with_the_reason(
    server: Server, tracker: JiraTracker
) -> None:
    key = tracker.create_defect(make_draft()).key
    server.freeze_time(T0)
    fixed = server.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(fixed, SECRET)
    config = make_config(server, webhook_max_age="PT10M", webhook_max_ahead="PT1M")

    fresh = read_webhook(body, headers, config, now=T0 + timedelta(minutes=9, seconds=59))
    assert fresh is not None and fresh.meaning is DefectMeaning.FIXED
    assert read_webhook(body, headers, config, now=T0 - timedelta(seconds=59)) is not None

    with pytest.raises(WebhookRejectedError) as stale:
        read_webhook(body, headers, config, now=T0 + timedelta(minutes=10, seconds=1))
    assert stale.value.status_code == 401
    assert "stale delivery" in str(stale.value) and "601 s ago" in str(stale.value)
    with pytest.raises(WebhookRejectedError) as ahead:
        read_webhook(body, headers, config, now=T0 - timedelta(minutes=2))
    assert ahead.value.status_code == 401 and "120 s ahead" in str(ahead.value)

    undated = json.dumps({k: v for k, v in fixed.body.items() if k != "timestamp"}).encode()
    with pytest.raises(WebhookRejectedError) as missing:
        read_webhook(undated, {"X-Hub-Signature": sign_body(undated, SECRET)}, config, now=T0)
    assert missing.value.status_code == 400 and "no timestamp" in str(missing.value)


def test_the_time_window_is_configured_and_refuses_nonsense() -> None:
    config = parse_jira_config(
        {
            "url": "https://jira.example",
            "auth": {"kind": "bearer", "token": "t"},
            "webhook_max_age": "PT30M",
            "webhook_max_ahead": "PT0S",
        }
    )
    assert config.webhook_max_age == timedelta(minutes=30)
    assert config.webhook_max_ahead == timedelta(0)
    with pytest.raises(ValidationError, match="webhook_max_age"):
        parse_jira_config(
            {
                "url": "https://j.example",
                "auth": {"kind": "bearer", "token": "t"},
                "webhook_max_age": "PT0S",
            }
        )


def test_webhook_without_secret_or_issue(server: Server) -> None:
    config = make_config(server, webhook_secret=None)
    with pytest.raises(WebhookRejectedError) as info:
        read_webhook(b"{}", {"X-Hub-Signature": sign_body(b"{}", SECRET)}, config)
    assert info.value.status_code == 503
    assert parse_webhook(b'{"webhookEvent":"user_created"}', {}, config) is None
    with pytest.raises(WebhookRejectedError):
        parse_webhook(b"not json", {}, config)


# --- configuration check ----------------------------------------------------------------


def test_check_config_reports_problems_with_paths(server: Server) -> None:
    config = make_config(
        server,
        products={
            "router": ProductRoute(project_key="RND", issue_type="Epic", components=("Radio",)),
            "switch": ProductRoute(project_key="NOPE"),
        },
        fields={"affected_customers": "Customer Count", "product_version": "customfield_99999"},
        priorities={1: "Blocker", 2: "High"},
        status_meanings={"Waiting for QA": "in_progress"},
    )

    problems = {p.path: p for p in check_config(config, build_client(config))}

    assert set(problems) == {
        "products.router.issue_type",
        "products.router.components[0]",
        "products.switch.project_key",
        "fields.affected_customers",
        "fields.product_version",
        "priorities.1",
        "status_meanings.Waiting for QA",
    }
    assert "NOPE" in problems["products.switch.project_key"].message
    assert "Customer Count" in problems["fields.affected_customers"].message


def test_check_config_passes_for_a_matching_config() -> None:
    with Server(CUSTOM_SPEC) as server:
        assert check_config(custom_config(server)) == []


def test_check_config_reports_auth_and_reachability(server: Server) -> None:
    wrong = make_config(server, auth=BearerAuth(token=SecretStr("bad")), deployment="server")
    assert [p.path for p in check_config(wrong)] == ["auth"]
    url = server.url
    server.stop()
    problems = check_config(make_config(server, url=url, timeout_seconds=1))
    assert [p.path for p in problems] == ["url"]
