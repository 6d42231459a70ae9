"""Restarts and real time on the dev server: nothing lost, nothing twice, histories replay.

A worker process killed with SIGKILL mid-lifecycle and replaced; an API instance replaced
by a new one that reconnects to Temporal itself; every IssueWorkflow history on the dev
server replayed with the current code; and a real SLA breach timed by the dev server.
"""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.temporal_gateway import TemporalGateway
from db.session import Database
from domain.enums import Severity
from domain.models import SlaTargets
from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    EXPERT,
    MANAGER,
    Stack,
    eventually,
    issue_detail,
    open_issue,
    running_stack,
    unique,
)
from workflows.issue import IssueWorkflow

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = [
    "created",
    "accepted",
    "assigned",
    "acknowledged",
    "resolution_proposed",
    "confirmation_requested",
    "closed",
]


# --- a worker in its own process ------------------------------------------------------------


async def pollers(client: Client, task_queue: str) -> set[str]:
    """Identities ("<pid>@<host>") of the workers recently polling the workflow task queue."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {poller.identity for poller in response.pollers}


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@asynccontextmanager
async def worker_process(stack: Stack, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python worker.py` on the stack's task queue, polling when yielded; killed after."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ITR_")},
        "ITR_DATABASE_URL": stack.settings.database_url,
        "ITR_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "ITR_TEMPORAL_TASK_QUEUE": stack.settings.temporal_task_queue,
        "ITR_ENVIRONMENT": "test",
        "ITR_SEED_DEMO_DATA": "false",
    }
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "worker.py",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:

        async def polling() -> bool | None:
            assert process.returncode is None, f"the worker exited:\n{tail(log)}"
            identities = await pollers(stack.client, stack.settings.temporal_task_queue)
            return True if any(i.startswith(f"{process.pid}@") for i in identities) else None

        await eventually(polling, "the worker process to poll its task queue", within=30)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def state_of(api: httpx.AsyncClient, issue_id: object) -> str:
    return str((await issue_detail(api, issue_id))["state"])


def assert_each_step_recorded_once(timeline: list[dict[str, Any]]) -> None:
    """Every step once, in order. Seqs are unique and increasing but not contiguous: the
    workflow numbers events, comments and notifications from one counter."""
    by_seq = sorted(timeline, key=lambda e: e["seq"])
    # SLA bookkeeping (clock transitions, the policy applied) interleaves with the steps.
    steps = [e["kind"] for e in by_seq if not e["kind"].startswith("sla_")]
    assert steps == LIFECYCLE
    assert [e["kind"] for e in by_seq].count("sla_policy_applied") == 1
    seqs = [e["seq"] for e in by_seq]
    assert seqs[0] == 1 and len(set(seqs)) == len(seqs), seqs


async def test_a_worker_killed_mid_lifecycle_is_replaced_and_the_issue_closes_with_no_duplicates(
    stack: Stack, tmp_path: Path
) -> None:
    await stack.stop_worker()
    api = stack.api()
    log = tmp_path / "worker.log"
    async with worker_process(stack, log) as first:
        issue = await open_issue(api, key=unique("kill"))
        issue_id = issue["id"]

        async def assigned() -> bool | None:
            return True if await state_of(api, issue_id) == "assigned" else None

        await eventually(assigned, "the issue to be assigned")
        ack = await api.post(f"/issues/{issue_id}/acknowledge", json={}, headers=ENGINEER)
        assert ack.status_code == 200, ack.text
        first.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(first.wait(), timeout=10) == -signal.SIGKILL

    async with worker_process(stack, log):
        proposal = await api.post(
            f"/issues/{issue_id}/resolution",
            json={"summary": "Firmware 5.2.1 fixes the QoS queue."},
            headers=ENGINEER,
        )
        assert proposal.status_code == 200, f"{proposal.text}\n{tail(log)}"
        assert proposal.json()["issue"]["state"] == "awaiting_confirmation"
        closed = await api.post(
            f"/issues/{issue_id}/confirmation",
            json={"accept": True, "satisfaction": 4},
            headers=CUSTOMER,
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["issue"]["state"] == "closed"

    detail = await issue_detail(api, issue_id)
    assert detail["state"] == "closed" and detail["satisfaction"] == 4
    assert_each_step_recorded_once(detail["timeline"])


async def test_a_restarted_api_reconnects_to_temporal_and_carries_on(stack: Stack) -> None:
    before = stack.api()
    issue = await open_issue(before, key=unique("api-restart"))
    issue_id = issue["id"]
    await before.aclose()

    # A new app with its own gateway, which connects to Temporal on first use.
    after = stack.api(gateway=TemporalGateway(stack.settings))
    assert (await after.get("/readyz")).status_code == 200
    ack = await after.post(f"/issues/{issue_id}/acknowledge", json={}, headers=ENGINEER)
    assert ack.status_code == 200, ack.text
    proposal = await after.post(
        f"/issues/{issue_id}/resolution", json={"summary": "Reboot fixed it."}, headers=ENGINEER
    )
    assert proposal.status_code == 200, proposal.text
    closed = await after.post(
        f"/issues/{issue_id}/confirmation", json={"accept": True}, headers=CUSTOMER
    )
    assert closed.status_code == 200, closed.text
    assert_each_step_recorded_once((await issue_detail(after, issue_id))["timeline"])


async def test_every_issue_workflow_history_on_the_dev_server_replays_with_the_current_code(
    stack: Stack,
) -> None:
    api = stack.api()
    issue = await open_issue(api, key=unique("replay"))
    issue_id = issue["id"]
    for path, body, headers in [
        ("acknowledge", {"message": "Looking."}, ENGINEER),
        ("comments", {"body": "Internal note", "visibility": "internal"}, ENGINEER),
        (
            "escalate",
            {
                "to_tier": 2,
                "reason": "Needs an expert",
                "summary": "Checked the logs and rebooted.",
                "engineer_id": "frank",
            },
            ENGINEER,
        ),
        ("resolution", {"summary": "Use the silver profile."}, EXPERT),
        ("confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER),
    ]:
        response = await api.post(f"/issues/{issue_id}/{path}", json=body, headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"
    ours = f"issue-{issue_id}"

    async def listed() -> bool | None:
        found = [w async for w in stack.client.list_workflows(f"WorkflowId = '{ours}'")]
        return True if found else None

    await eventually(listed, "the dev server to list the new workflow")

    replayed: list[str] = []

    async def histories() -> AsyncIterator[WorkflowHistory]:
        async for history in stack.client.list_workflows(
            "WorkflowType = 'IssueWorkflow'"
        ).map_histories():
            replayed.append(history.workflow_id)
            yield history

    replayer = Replayer(workflows=[IssueWorkflow], data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert results.replay_failures == {}, {
        run: repr(error) for run, error in results.replay_failures.items()
    }
    assert ours in replayed


def at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


FIRST_RESPONSE = timedelta(seconds=3)


@pytest.fixture
async def quick_sla_stack(database: Database, temporal_client: Client) -> AsyncIterator[Stack]:
    """A stack whose new issues must get a first response within three seconds (no SLA
    policies, so the short configured targets apply instead of the demo contracts')."""
    targets = {
        severity: SlaTargets(first_response=FIRST_RESPONSE, resolution=timedelta(hours=1))
        for severity in Severity
    }
    async with running_stack(
        database, temporal_client, sla_policies=False, sla_targets=targets
    ) as running:
        yield running


async def test_a_missed_first_response_is_recorded_once_when_the_deadline_passes(
    quick_sla_stack: Stack,
) -> None:
    api = quick_sla_stack.api()
    issue = await open_issue(api, key=unique("sla"))
    issue_id = issue["id"]
    due = at(str(issue["first_response_due"]))
    assert due - at(str(issue["created_at"])) <= FIRST_RESPONSE

    async def breach() -> dict[str, Any] | None:
        timeline = (await issue_detail(api, issue_id))["timeline"]
        return next((e for e in timeline if e["kind"] == "sla_breached"), None)

    event = await eventually(breach, "the first-response breach", within=18, every=0.25)
    assert at(event["at"]) >= due
    assert "first_response" in event["summary"]

    # Acknowledging late does not un-breach the clock or record the breach again.
    ack = await api.post(f"/issues/{issue_id}/acknowledge", json={}, headers=ENGINEER)
    assert ack.status_code == 200, ack.text
    detail = await issue_detail(api, issue_id)
    assert [e["kind"] for e in detail["timeline"]].count("sla_breached") == 1
    first_response = next(d for d in detail["deadlines"] if d["clock"] == "first_response")
    assert first_response["breached"] and first_response["met_at"]

    listed = (await api.get("/issues", headers=MANAGER)).json()["items"]
    row = next(i for i in listed if i["id"] == issue_id)
    assert row["first_response_breached"] is True and row["breached"] is True
    assert row["resolution_breached"] is False
    breached = (await api.get("/issues", params={"breached": "true"}, headers=MANAGER)).json()
    assert [i["id"] for i in breached["items"]] == [issue_id]
    on_time = (await api.get("/issues", params={"breached": "false"}, headers=MANAGER)).json()
    assert issue_id not in [i["id"] for i in on_time["items"]]
