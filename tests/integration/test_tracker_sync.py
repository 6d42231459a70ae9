"""Tracker sync end to end: dev server, worker, API, and the Jira test server over HTTP."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleHandle

from db.models import TrackerDefectLinkRow
from db.session import Database
from domain.enums import Severity
from domain.ids import workflow_id_for
from domain.models import TrackerPollRequest, TrackerPollResult
from integrations.jira import JiraTracker, load_jira_config
from integrations.tracker import DefectDraft
from jira_test_server import JiraTestServer, webhook_request
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    MANAGER,
    Stack,
    open_issue,
    running_stack,
)
from worker import ScheduleChange, ensure_poll_schedule, poll_schedule_id
from workflows.tracker_poll import TrackerPollWorkflow

SECRET = "jira-webhook-secret"
WEBHOOK = "/tracker/jira/webhook"


@pytest.fixture
def jira() -> Iterator[JiraTestServer]:
    with JiraTestServer() as server:
        yield server


@pytest.fixture
async def tracked_stack(
    database: Database, temporal_client: Client, jira: JiraTestServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The usual stack, with ITR_TRACKER_CONFIG pointing at the Jira test server."""
    config = jira.write_itr_config(tmp_path / "jira.yaml", webhook_secret=SECRET)
    async with running_stack(
        database,
        temporal_client,
        public_base_url="https://itr.example",
        tracker_config=config,
    ) as running:
        settings = running.settings
        assert await ensure_poll_schedule(temporal_client, settings) == ScheduleChange.CREATED
        again = await ensure_poll_schedule(temporal_client, settings)
        assert again == ScheduleChange.UNCHANGED, "idempotent"
        try:
            yield running
        finally:
            await temporal_client.get_schedule_handle(poll_schedule_id(settings)).delete()


async def issue(api: httpx.AsyncClient, issue_id: object) -> dict[str, Any]:
    response = await api.get(f"/issues/{issue_id}", headers=MANAGER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(
    api: httpx.AsyncClient, issue_id: object, key: str, value: object
) -> dict[str, Any]:
    """Poll the issue until `key` equals `value` (or is set at all, when value is None)."""
    for _ in range(200):
        body = await issue(api, issue_id)
        if body[key] == value if value is not None else body[key] is not None:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{issue_id}: {key} never became {value!r}; last {body[key]!r}")


async def test_two_issues_share_one_defect_and_its_fix_asks_both_customers_to_confirm(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    first = await open_issue(api, key=f"tracker-a-{uuid.uuid4()}")
    second = await open_issue(api, key=f"tracker-b-{uuid.uuid4()}")

    escalated = await api.post(
        f"/issues/{first['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    linked = await until(api, first["id"], "defect_key", None)
    key = linked["defect_key"]
    assert [i.key for i in jira.issues()] == [key]
    defect = jira.issue(key)
    assert "4.2.1" in (defect.description or "")
    assert f"https://itr.example/issues/{first['id']}" in (defect.description or "")
    assert "Jane" not in (defect.description or "") + defect.summary

    shared = await api.post(
        f"/issues/{second['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Same defect",
            "summary": "Checked the logs and rebooted.",
            "defect_key": key,
        },
        headers=ENGINEER,
    )
    assert shared.status_code == 200, shared.text
    assert shared.json()["issue"]["defect_key"] == key
    assert {link.object["url"] for link in jira.issue(key).links} >= {
        f"https://itr.example/issues/{second['id']}"
    }
    relinked = await api.post(
        f"/issues/{second['id']}/defect", json={"defect_key": key}, headers=ENGINEER
    )
    assert relinked.status_code == 409, relinked.text

    jira.act_update(key, {"fixVersions": [{"name": "4.3.0"}]})
    event = jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(event, SECRET)

    forged = await api.post(WEBHOOK, content=body, headers={**headers, "X-Hub-Signature": "x"})
    assert forged.status_code == 401

    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    assert delivered.json()["outcome"] == "signalled"
    assert sorted(delivered.json()["issue_ids"]) == sorted([first["id"], second["id"]])
    for issue_id in (first["id"], second["id"]):
        done = await until(api, issue_id, "state", "awaiting_confirmation")
        assert done["tier"] == 1
        assert "4.3.0" in done["resolution_summary"]
        customer_view = (await api.get(f"/issues/{issue_id}", headers=CUSTOMER)).json()
        assert customer_view["state"] == "awaiting_confirmation"

    before = [await issue(api, i) for i in (first["id"], second["id"])]
    replayed = await api.post(
        WEBHOOK, content=body, headers={**headers, "X-Atlassian-Webhook-Retry": "1"}
    )
    assert replayed.status_code == 202
    assert replayed.json()["outcome"] == "duplicate"
    after = [await issue(api, i) for i in (first["id"], second["id"])]
    assert [b["timeline"] for b in before] == [a["timeline"] for a in after]
    assert len(jira.issues()) == 1
    kinds = [e["kind"] for e in after[0]["timeline"]]
    assert kinds.count("defect_linked") == 1 and kinds.count("defect_fixed") == 1


async def test_webhook_is_404_without_a_tracker(stack: Stack) -> None:
    api = stack.api()
    response = await api.post(WEBHOOK, content=b"{}", headers={"X-Hub-Signature": "sha256=00"})
    assert response.status_code == 404


async def test_a_lost_webhook_is_caught_by_the_scheduled_poll_and_our_own_echo_does_not_loop(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    settings = tracked_stack.settings
    created, key = await escalated_to_rnd(api, "poll")

    # Our own change (a comment carrying our marker) updates the defect: no signal comes of it.
    assert settings.tracker_config is not None
    ours = JiraTracker(load_jira_config(settings.tracker_config))
    ours.add_comment(key, "Customer confirmed the workaround", f"comment:{uuid.uuid4().hex}")
    ours.close()
    before = await issue(api, created["id"])
    echo: TrackerPollResult = await tracked_stack.client.execute_workflow(
        TrackerPollWorkflow.run,
        TrackerPollRequest(),
        id=f"poll-echo-{uuid.uuid4().hex}",
        task_queue=settings.temporal_task_queue,
    )
    assert echo.defects_updated == 1 and echo.signalled == ()
    assert (await issue(api, created["id"]))["timeline"] == before["timeline"]

    # R&D fixes the defect; the webhook is lost (never delivered): the schedule's poll finds it.
    jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    schedule = tracked_stack.client.get_schedule_handle(poll_schedule_id(settings))
    await schedule.trigger()
    done = await until(api, created["id"], "state", "awaiting_confirmation")
    kinds = [e["kind"] for e in done["timeline"]]
    assert kinds.count("defect_fixed") == 1
    assert "defect_update_ignored" not in kinds

    # The next tick starts where the last successful one stopped, and repeats nothing.
    first = await scheduled_result(tracked_stack.client, schedule, 1)
    assert first.signalled == (created["id"],)
    await schedule.trigger()
    second = await scheduled_result(tracked_stack.client, schedule, 2)
    assert second.since == first.watermark and second.signalled == ()
    assert (await issue(api, created["id"]))["timeline"] == done["timeline"]


async def scheduled_result(
    client: Client, schedule: ScheduleHandle, runs: int
) -> TrackerPollResult:
    """The result of the schedule's runs-th poll, once it finished."""
    for _ in range(100):
        actions = (await schedule.describe()).info.recent_actions
        if len(actions) >= runs:
            action = actions[runs - 1].action
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            handle = client.get_workflow_handle_for(
                TrackerPollWorkflow.run,
                action.workflow_id,
                run_id=action.first_execution_run_id,
            )
            return await handle.result()
        await asyncio.sleep(0.1)
    raise AssertionError(f"the schedule never ran {runs} times")


async def poll_since(stack: Stack, since: datetime) -> TrackerPollResult:
    """One run of the scheduled poll, looking back to `since` (as the schedule's first run)."""
    result: TrackerPollResult = await stack.client.execute_workflow(
        TrackerPollWorkflow.run,
        TrackerPollRequest(initial_lookback=datetime.now(UTC) - since),
        id=f"poll-{uuid.uuid4().hex}",
        task_queue=stack.settings.temporal_task_queue,
    )
    return result


async def escalated_to_rnd(api: httpx.AsyncClient, prefix: str) -> tuple[dict[str, Any], str]:
    """An issue the customer opened and an engineer escalated to R&D, and its defect's key."""
    created = await open_issue(api, key=f"{prefix}-{uuid.uuid4()}")
    escalated = await api.post(
        f"/issues/{created['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    key: str = (await until(api, created["id"], "defect_key", None))["defect_key"]
    return created, key


async def until_at_rest(stack: Stack, issue_id: object) -> None:
    """Until the issue's workflow has no workflow task or activity pending (only timers and
    messages to wait for): whatever it was going to post to the tracker has been posted."""
    handle = stack.client.get_workflow_handle(workflow_id_for(str(issue_id)))
    for _ in range(200):
        described = (await handle.describe()).raw_description
        if not described.pending_activities and not described.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{issue_id}: the workflow never came to rest")


async def until_comments(jira: JiraTestServer, key: str, count: int) -> list[str]:
    for _ in range(200):
        bodies = [c.body for c in jira.issue(key).comments]
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.1)
    raise AssertionError(f"{key} has {len(bodies)} comments, expected {count}")


async def test_public_comments_and_the_closure_are_mirrored_once_and_internal_ones_never(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    created, key = await escalated_to_rnd(api, "mirror")

    internal = await api.post(
        f"/issues/{created['id']}/comments",
        json={"body": "Internal: customer is on a legacy contract", "visibility": "internal"},
        headers=ENGINEER,
    )
    assert internal.status_code == 200, internal.text
    # The first post is applied by Jira but its response is lost: the activity retries.
    # Comments go to the defect's immutable id (its key may later name another defect).
    defect_id = jira.issue(key).id
    jira.faults.accept_then_drop_next(1, method="POST", path=f"/issue/{defect_id}/comment$")
    public = await api.post(
        f"/issues/{created['id']}/comments",
        json={"body": "It also happens with two tunnels"},
        headers=CUSTOMER,
    )
    assert public.status_code == 200, public.text
    await until_comments(jira, key, 1)
    await until_at_rest(tracked_stack, created["id"])  # a (wrong) second post would be in
    bodies = [c.body for c in jira.issue(key).comments]
    assert len(bodies) == 1, bodies
    assert jira.faults.pending() == 0, "the first post's response was dropped"
    assert len(jira.requests_to("GET", f"/issue/{defect_id}/comment")) >= 2, "the retry looked"
    assert "It also happens with two tunnels" in bodies[0]
    assert bodies[0].startswith("Customer on https://itr.example/issues/")
    assert "Jane" not in bodies[0] and "legacy contract" not in bodies[0]

    event = jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(event, SECRET)
    assert (await api.post(WEBHOOK, content=body, headers=headers)).status_code == 202
    await until(api, created["id"], "state", "awaiting_confirmation")
    confirmed = await api.post(
        f"/issues/{created['id']}/confirmation", json={"accept": True}, headers=CUSTOMER
    )
    assert confirmed.status_code == 200, confirmed.text
    bodies = await until_comments(jira, key, 2)
    assert len(bodies) == 2 and "closed (outcome: accepted)" in bodies[-1], bodies
    assert not any("legacy contract" in b for b in bodies)


async def test_a_permanent_tracker_error_is_listed_and_retrying_after_the_fix_creates_one_defect(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    config = tracked_stack.settings.tracker_config
    assert config is not None
    good = config.read_text()
    config.write_text(good.replace("project_key: RND", "project_key: NOPE"))
    await tracked_stack.stop_worker()
    await tracked_stack.start_worker()
    api = tracked_stack.api()
    created = await open_issue(api, key=f"retry-{uuid.uuid4()}")
    escalated = await api.post(
        f"/issues/{created['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    failed = await until(api, created["id"], "tracker_sync_error", None)
    assert failed["defect_key"] is None and jira.issues() == []
    customer_view = (await api.get(f"/issues/{created['id']}", headers=CUSTOMER)).json()
    assert customer_view["tracker_sync_error"] is None  # raw tracker errors are staff-only
    assert customer_view["tracker_last_error"] is None

    listed = await api.get("/tracker/sync-errors", headers=MANAGER)
    assert listed.status_code == 200, listed.text
    assert [(e["issue_id"], e["tracker_sync_error"]) for e in listed.json()] == [
        (created["id"], failed["tracker_sync_error"])
    ]
    assert (await api.get("/tracker/sync-errors", headers=ENGINEER)).status_code == 403
    forbidden = await api.post(f"/issues/{created['id']}/tracker-retry", headers=ENGINEER)
    assert forbidden.status_code == 403

    # The admin fixes the configuration and restarts the worker, then retries.
    config.write_text(good)
    await tracked_stack.stop_worker()
    await tracked_stack.start_worker()
    retried = await api.post(f"/issues/{created['id']}/tracker-retry", headers=ADMIN)
    assert retried.status_code == 200, retried.text
    assert retried.json()["issue"]["tracker_sync_error"] is None
    linked = await until(api, created["id"], "defect_key", None)
    assert [i.key for i in jira.issues()] == [linked["defect_key"]]
    again = await api.post(f"/issues/{created['id']}/tracker-retry", headers=ADMIN)
    assert again.status_code == 409, again.text
    assert (await api.get("/tracker/sync-errors", headers=MANAGER)).json() == []
    kinds = [e["kind"] for e in linked["timeline"]]
    assert kinds.count("tracker_sync_failed") == 1 and kinds.count("tracker_sync_retried") == 1


async def test_a_jira_outage_shows_tracker_sync_pending_with_the_last_error_then_one_defect(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    jira.faults.fail_next(2, status=503, method="POST", path=r"/rest/api/\d+/issue/?$")
    api = tracked_stack.api()
    created = await open_issue(api, key=f"outage-{uuid.uuid4()}")
    escalated = await api.post(
        f"/issues/{created['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text

    retrying = await until(api, created["id"], "tracker_last_error", None)
    assert retrying["tracker_sync_pending"] is True
    assert "503" in retrying["tracker_last_error"]
    assert retrying["defect_key"] is None and retrying["tracker_sync_error"] is None

    linked = await until(api, created["id"], "defect_key", None)
    synced = await until(api, created["id"], "tracker_sync_pending", False)
    assert synced["tracker_last_error"] is None and synced["tracker_sync_error"] is None
    assert synced["tracker_attempts"] == 3
    assert [i.key for i in jira.issues()] == [linked["defect_key"]]


async def test_linking_a_second_issue_tells_rnd_once_that_another_customer_is_affected(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    first = await open_issue(api, key=f"impact-a-{uuid.uuid4()}")
    second = await open_issue(api, key=f"impact-b-{uuid.uuid4()}")
    escalated = await api.post(
        f"/issues/{first['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Firmware defect",
            "summary": "Checked the logs and rebooted.",
        },
        headers=ENGINEER,
    )
    assert escalated.status_code == 200, escalated.text
    key = (await until(api, first["id"], "defect_key", None))["defect_key"]
    assert jira.issue(key).comments == [], "creating the defect is not an impact update"

    shared = await api.post(
        f"/issues/{second['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Same defect",
            "summary": "Checked the logs and rebooted.",
            "defect_key": key,
        },
        headers=ENGINEER,
    )
    assert shared.status_code == 200, shared.text
    bodies = await until_comments(jira, key, 1)
    assert "Another customer is affected (2 linked issues), severity" in bodies[0]
    assert f"https://itr.example/issues/{second['id']}" in bodies[0]
    assert "Jane" not in bodies[0]
    for issue_id in (first["id"], second["id"]):
        await until_at_rest(tracked_stack, issue_id)
    assert len(jira.issue(key).comments) == 1


async def test_rnd_comments_flow_back_as_internal_comments_and_our_own_echo_is_ignored(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    created, key = await escalated_to_rnd(api, "rnd-comment")

    event = jira.act_comment(key, "Root cause: the QoS scheduler drops late packets.")
    body, headers = webhook_request(event, SECRET)
    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    assert delivered.json()["outcome"] == "signalled"
    for _ in range(100):
        staff = await issue(api, created["id"])
        if any("QoS scheduler" in c["body"] for c in staff["comments"]):
            break
        await asyncio.sleep(0.1)
    rnd = [c for c in staff["comments"] if "QoS scheduler" in c["body"]]
    assert len(rnd) == 1 and rnd[0]["visibility"] == "internal"
    assert [e["kind"] for e in staff["timeline"]].count("defect_commented") == 1
    customer = (await api.get(f"/issues/{created['id']}", headers=CUSTOMER)).json()
    assert not any("QoS scheduler" in c["body"] for c in customer["comments"])
    again = await api.post(WEBHOOK, content=body, headers=headers)
    assert again.json()["outcome"] == "duplicate"

    # Our own public comment is mirrored to Jira; its echo must not come back as R&D's.
    public = await api.post(
        f"/issues/{created['id']}/comments", json={"body": "Happens hourly"}, headers=CUSTOMER
    )
    assert public.status_code == 200, public.text
    await until_comments(jira, key, 2)
    echo = next(e for e in reversed(jira.webhook_events) if e.name == "comment_created")
    body, headers = webhook_request(echo, SECRET)
    echoed = await api.post(WEBHOOK, content=body, headers=headers)
    assert echoed.json()["outcome"] == "ignored"
    final = await issue(api, created["id"])
    assert [e["kind"] for e in final["timeline"]].count("defect_commented") == 1


async def test_a_lost_comment_webhook_is_caught_by_the_poll_and_forwarded_once(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    created, key = await escalated_to_rnd(api, "poll-comment")
    since = datetime.now(UTC) - timedelta(minutes=5)

    event = jira.act_comment(key, "Workaround: disable QoS profile gold.")  # webhook lost

    first = await poll_since(tracked_stack, since)
    assert first.comments_forwarded == 1
    for _ in range(100):
        staff = await issue(api, created["id"])
        if any("QoS profile gold" in c["body"] for c in staff["comments"]):
            break
        await asyncio.sleep(0.1)
    assert [c["visibility"] for c in staff["comments"] if "gold" in c["body"]] == ["internal"]

    body, headers = webhook_request(event, SECRET)  # the webhook arrives late after all
    late = await api.post(WEBHOOK, content=body, headers=headers)
    assert late.json()["outcome"] == "duplicate"
    assert (await poll_since(tracked_stack, since)).comments_forwarded == 0
    final = await issue(api, created["id"])
    assert [e["kind"] for e in final["timeline"]].count("defect_commented") == 1


async def test_a_changed_poll_interval_reaches_the_schedule_at_the_next_worker_start(
    tracked_stack: Stack, temporal_client: Client
) -> None:
    settings = tracked_stack.settings
    assert settings.tracker_config is not None
    config = yaml.safe_load(settings.tracker_config.read_text())
    config["jira"]["poll_interval"] = "PT2M"
    settings.tracker_config.write_text(yaml.safe_dump(config))
    assert await ensure_poll_schedule(temporal_client, settings) == ScheduleChange.UPDATED
    handle = temporal_client.get_schedule_handle(poll_schedule_id(settings))
    described = (await handle.describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(minutes=2)]
    assert described.action.workflow == "TrackerPollWorkflow"  # type: ignore[attr-defined]
    assert await ensure_poll_schedule(temporal_client, settings) == ScheduleChange.UNCHANGED


# --- webhook replay and defect identity ----------------------------------------------------


async def timeline_kinds(api: httpx.AsyncClient, issue_id: object) -> list[str]:
    return [e["kind"] for e in (await issue(api, issue_id))["timeline"]]


async def test_a_replayed_signed_body_is_a_duplicate_under_any_identifier_and_a_stale_one_refused(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    created, key = await escalated_to_rnd(api, "replay")
    fixed = jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(fixed, SECRET)
    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202 and delivered.json()["outcome"] == "signalled"
    done = await until(api, created["id"], "state", "awaiting_confirmation")

    # An attacker captured the signed body and re-sends it as a new delivery.
    forged = {**headers, "X-Atlassian-Webhook-Identifier": str(uuid.uuid4())}
    replayed = await api.post(WEBHOOK, content=body, headers=forged)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["outcome"] == "duplicate"
    await asyncio.sleep(1)  # time for a (wrongly) signalled workflow to record something
    after = await issue(api, created["id"])
    assert after["timeline"] == done["timeline"]
    assert "defect_update_ignored" not in [e["kind"] for e in after["timeline"]]

    # A body Jira signed 20 minutes ago is refused, whatever its identifier; a fresh one is read.
    jira.freeze_time(datetime.now(UTC) - timedelta(minutes=20))
    old = jira.act_comment(key, "Old news: the QoS scheduler again.")
    jira.unfreeze_time()
    body, headers = webhook_request(old, SECRET)
    refused = await api.post(WEBHOOK, content=body, headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "stale delivery" in refused.json()["detail"]
    fresh = jira.act_comment(key, "Fresh news: fixed in 4.3.0.")
    body, headers = webhook_request(fresh, SECRET)
    accepted = await api.post(WEBHOOK, content=body, headers=headers)
    assert accepted.status_code == 202 and accepted.json()["outcome"] == "signalled"
    for _ in range(100):
        staff = await issue(api, created["id"])
        if any("Fresh news" in c["body"] for c in staff["comments"]):
            break
        await asyncio.sleep(0.1)
    bodies = [c["body"] for c in staff["comments"]]
    assert any("Fresh news" in b for b in bodies) and not any("Old news" in b for b in bodies)


async def test_a_moved_defects_webhook_still_reaches_every_linked_issue(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    first, key = await escalated_to_rnd(api, "moved-a")
    moved = jira.move_issue(key, "OPS")  # RND-n becomes OPS-1, same id
    new_key = moved.body["issue"]["key"]
    assert new_key.startswith("OPS-") and moved.body["issue"]["id"] == str(jira.issue(new_key).id)
    body, headers = webhook_request(moved, SECRET)
    noise = await api.post(WEBHOOK, content=body, headers=headers)
    assert noise.json()["outcome"] == "ignored", "a move is no status change"

    # Another customer's issue is linked under the new key: R&D hears of both issues.
    second = await open_issue(api, key=f"moved-b-{uuid.uuid4()}")
    shared = await api.post(
        f"/issues/{second['id']}/escalate",
        json={
            "to_tier": 3,
            "reason": "Same defect",
            "summary": "Checked the logs and rebooted.",
            "defect_key": new_key,
        },
        headers=ENGINEER,
    )
    assert shared.status_code == 200, shared.text
    assert shared.json()["issue"]["defect_key"] == new_key
    bodies = await until_comments(jira, new_key, 1)
    assert "Another customer is affected (2 linked issues)" in bodies[0]

    fixed = jira.act_transition(new_key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(fixed, SECRET)
    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    assert delivered.json()["outcome"] == "signalled"
    assert sorted(delivered.json()["issue_ids"]) == sorted([first["id"], second["id"]])
    for issue_id, linked_as in ((first["id"], key), (second["id"], new_key)):
        done = await until(api, issue_id, "state", "awaiting_confirmation")
        assert done["tier"] == 1 and done["defect_key"] == linked_as
        assert (await timeline_kinds(api, issue_id)).count("defect_fixed") == 1


async def test_a_reused_key_reaches_no_issue_but_a_link_without_a_recorded_id_goes_by_key(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    created, key = await escalated_to_rnd(api, "reused")
    legacy, legacy_key = await escalated_to_rnd(api, "legacy")
    async with tracked_stack.db.transaction() as session:  # as if linked before ids were kept
        await session.execute(
            sa.delete(TrackerDefectLinkRow).where(TrackerDefectLinkRow.issue_id == legacy["id"])
        )
    old_id = str(jira.issue(key).id)

    jira.rebuild()  # R&D's Jira is rebuilt: its first defect gets the key again, a new id
    settings = tracked_stack.settings
    assert settings.tracker_config is not None
    rebuilt = JiraTracker(load_jira_config(settings.tracker_config))
    drafts = [
        DefectDraft(
            issue_id=f"other-{n}",
            dedupe_key=f"other-{n}",
            issue_url="https://elsewhere.example/1",
            product="edge-router",
            title=f"Unrelated defect {n}",
            severity=Severity.LOW,
        )
        for n in (1, 2)
    ]
    reused, reused_legacy = (rebuilt.create_defect(d) for d in drafts)
    rebuilt.close()
    assert (reused.key, reused_legacy.key) == (key, legacy_key) and reused.id != old_id

    fixed = jira.act_transition(key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(fixed, SECRET)
    delivered = await api.post(WEBHOOK, content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    result = delivered.json()
    assert result["outcome"] == "unlinked" and result["issue_ids"] == []
    assert "another defect id" in result["detail"] and key in result["detail"]
    again = await api.post(WEBHOOK, content=body, headers=headers)
    assert again.json()["outcome"] == "duplicate"

    # The link recorded without an id can only go by the key (the behaviour before ids).
    legacy_fixed = jira.act_transition(legacy_key, "Resolve Issue", resolution="Fixed")
    body, headers = webhook_request(legacy_fixed, SECRET)
    fallback = await api.post(WEBHOOK, content=body, headers=headers)
    assert fallback.json()["outcome"] == "signalled"
    assert fallback.json()["issue_ids"] == [legacy["id"]]
    await until(api, legacy["id"], "state", "awaiting_confirmation")
    untouched = await issue(api, created["id"])
    assert untouched["state"] == "escalated" and untouched["tier"] == 3
    assert "defect_fixed" not in [e["kind"] for e in untouched["timeline"]]

    # The customer's public comment is mirrored to the defect by its id, which is gone: it
    # never lands on the unrelated defect that now carries the key.
    public = await api.post(
        f"/issues/{created['id']}/comments", json={"body": "Still dropping"}, headers=CUSTOMER
    )
    assert public.status_code == 200, public.text
    for _ in range(200):
        if jira.requests_to("GET", f"/issue/{old_id}/comment"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the mirror never looked for the defect by its id")
    assert jira.issue(key).comments == []
    assert not jira.requests_to("POST", f"/issue/{key}/comment")


async def test_the_poll_follows_a_moved_defect_by_its_id_and_ignores_a_reused_key(
    tracked_stack: Stack, jira: JiraTestServer
) -> None:
    api = tracked_stack.api()
    settings = tracked_stack.settings
    since = datetime.now(UTC) - timedelta(minutes=5)
    moving, key = await escalated_to_rnd(api, "poll-moved")
    staying, other_key = await escalated_to_rnd(api, "poll-reused")

    moved = jira.move_issue(key, "OPS")  # webhooks lost from here on
    jira.act_transition(moved.body["issue"]["key"], "Resolve Issue", resolution="Fixed")
    first = await poll_since(tracked_stack, since)
    assert first.signalled == (moving["id"],)
    await until(api, moving["id"], "state", "awaiting_confirmation")

    jira.rebuild()
    assert settings.tracker_config is not None
    rebuilt = JiraTracker(load_jira_config(settings.tracker_config))
    for n in (1, 2):
        rebuilt.create_defect(
            DefectDraft(
                issue_id=f"other-{n}",
                dedupe_key=f"other-{n}",
                issue_url="https://elsewhere.example/1",
                product="edge-router",
                title=f"Unrelated defect {n}",
                severity=Severity.LOW,
            )
        )
    rebuilt.close()
    jira.act_transition(other_key, "Resolve Issue", resolution="Fixed")  # the key, reused
    second = await poll_since(tracked_stack, since)
    assert second.signalled == () and second.defects_updated == 0
    await asyncio.sleep(1)
    untouched = await issue(api, staying["id"])
    assert untouched["state"] == "escalated" and untouched["tier"] == 3
    assert "defect_fixed" not in [e["kind"] for e in untouched["timeline"]]
