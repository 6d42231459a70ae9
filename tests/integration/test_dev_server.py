"""Against the real Temporal dev server, in real time: what `itr dev` promises.

A pending SLA timer survives a dev-server restart (its SQLite file) and fires once, not
early; the search-attribute registration paths work; `itr dev` itself starts, answers
/readyz and stops cleanly on Ctrl-C without leaving the dev server behind.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from devstack.temporal import DevServer, ensure_search_attributes, port_in_use
from domain.enums import ActorKind, Category, EventKind, IssueState, Severity, SlaClockKind
from domain.models import (
    Actor,
    IssueIntake,
    IssueStatus,
    IssueWorkflowInput,
    LifecycleConfig,
    SlaTargets,
    TimelineEvent,
)
from tests.support.devserver import dev_server, free_port
from tests.support.temporal import binary
from tests.workflows.fakes import FakeIssueActivities
from workflows.issue import IssueWorkflow
from workflows.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok-acme", name="Ann Customer")
# Long enough that the timer is still pending when the first server stops, even on a
# loaded CI machine (8 s was not: start, intake and the stop took longer), short enough
# for a quick test: the restart takes a few seconds.
FIRST_RESPONSE = timedelta(seconds=20)

pytestmark = pytest.mark.timeout(120)


def lifecycle() -> LifecycleConfig:
    return LifecycleConfig(
        sla_targets={
            s: SlaTargets(first_response=FIRST_RESPONSE, resolution=timedelta(hours=1))
            for s in Severity
        }
    )


@asynccontextmanager
async def worker(
    client: Client, task_queue: str, fakes: FakeIssueActivities
) -> AsyncIterator[None]:
    async with Worker(
        client, task_queue=task_queue, workflows=[IssueWorkflow], activities=fakes.all()
    ):
        yield


async def eventually(
    probe: Callable[[], object], what: str, within: float = 15.0, every: float = 0.1
) -> None:
    """Poll `probe` (sync or async) until truthy, failing with `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(every)


async def at_rest(handle: WorkflowHandle[Any, Any]) -> bool:
    """No workflow task or activity pending: the workflow waits on timers and messages only."""
    described = (await handle.describe()).raw_description
    return not described.pending_activities and not described.HasField("pending_workflow_task")


def breaches(fakes: FakeIssueActivities, issue_id: str) -> list[TimelineEvent]:
    return [
        e
        for e in fakes.events.values()
        if e.issue_id == issue_id and e.kind == EventKind.SLA_BREACHED
    ]


async def test_a_pending_sla_timer_survives_a_server_restart_and_fires_once_not_early(
    tmp_path: Path,
) -> None:
    port = free_port()
    db_file = tmp_path / "t.db"
    fakes = FakeIssueActivities()  # the "read model": outlives both server runs
    task_queue = f"tq-{uuid.uuid4()}"
    issue_id = f"T-{uuid.uuid4().hex[:10]}"
    created_at = datetime.now(UTC)
    due_at = created_at + FIRST_RESPONSE

    async with (
        dev_server(db_file, port, tmp_path / "run1.log") as client,
        worker(client, task_queue, fakes),
    ):
        handle: WorkflowHandle[IssueWorkflow, object] = await client.start_workflow(
            IssueWorkflow.run,
            IssueWorkflowInput(
                intake=IssueIntake(
                    issue_id=issue_id,
                    organisation_id="acme",
                    product_id="edge-router",
                    title="Router drops packets",
                    description="Since the upgrade the router drops 3% of packets.",
                    category=Category.INCIDENT,
                    severity=Severity.CRITICAL,
                    reporter=CUSTOMER,
                    created_at=created_at,
                ),
                config=lifecycle(),
            ),
            id=f"issue-{issue_id}",
            task_queue=task_queue,
        )

        async def assigned() -> bool:
            status = await handle.query(IssueWorkflow.status)
            return status.state == IssueState.ASSIGNED

        await eventually(assigned, "the issue to be assigned")
    assert datetime.now(UTC) < due_at, "too slow: the SLA timer fired before the restart"
    assert breaches(fakes, issue_id) == []

    async with (
        dev_server(db_file, port, tmp_path / "run2.log") as client,
        worker(client, task_queue, fakes),
    ):
        await eventually(lambda: breaches(fakes, issue_id), "the breach to be recorded", within=40)
        resumed = client.get_workflow_handle_for(IssueWorkflow.run, f"issue-{issue_id}")
        # At rest (nothing scheduled but timers), a duplicate would have been recorded by now.
        await eventually(lambda: at_rest(resumed), "the issue to come to rest")
        status: IssueStatus = await resumed.query(IssueWorkflow.status)

    recorded = breaches(fakes, issue_id)
    assert [e.data["clock"] for e in recorded] == [SlaClockKind.FIRST_RESPONSE.value]
    assert recorded[0].at >= due_at
    assert datetime.fromisoformat(str(recorded[0].data["due_at"])) == due_at
    assert status.sla is not None and status.sla.fallback  # no policy: the configured targets
    clock = status.sla.clock(SlaClockKind.FIRST_RESPONSE)
    assert clock is not None and clock.breached
    assert clock.deadline(status.sla.calendar) == due_at
    assert fakes.notification_kinds(issue_id).count("sla_breached") == 1


def compose_search_attributes() -> str:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    value = compose["services"]["temporal-search-attributes"]["environment"]
    return str(value["ITR_SEARCH_ATTRIBUTES"])


async def test_search_attributes_missing_from_an_existing_server_get_registered(
    tmp_path: Path,
) -> None:
    """`--search-attribute` is ignored for an existing db file: the other two paths are not."""
    port = free_port()
    log_file = tmp_path / "raw.log"
    with log_file.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *(binary("temporal"), "server", "start-dev", "--headless"),
            *("--db-filename", str(tmp_path / "t.db"), "--ip", "127.0.0.1"),
            *("--port", str(port), "--namespace", "other"),
            *("--search-attribute", "ItrState=Keyword"),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        await serving(f"127.0.0.1:{port}", "default")

        # docker-compose.yml's admin-tools job, with the same `temporal` CLI.
        script = ROOT / "deploy" / "temporal" / "create-search-attributes.sh"
        env = {
            **os.environ,
            "PATH": f"{Path(binary('temporal')).parent}{os.pathsep}{os.environ['PATH']}",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "NAMESPACE": "default",
            "ITR_SEARCH_ATTRIBUTES": compose_search_attributes(),
            "ATTEMPTS": "5",
        }
        for run in range(2):
            job = await asyncio.to_thread(
                subprocess.run,
                ["sh", str(script)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert job.returncode == 0, job.stderr
            created = job.stdout.count(" created")
            assert created == (len(ALL_KEYS) - 1 if run == 0 else 0), job.stdout

        # What `itr dev` does after every start, here in a namespace that has none of them.
        client = await serving(f"127.0.0.1:{port}", "other")
        added = await ensure_search_attributes(client, "other", "t.db")
        assert set(added) >= {k.name for k in ALL_KEYS} - {"ItrState"}
        assert await ensure_search_attributes(client, "other", "t.db") == []
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def serving(address: str, namespace: str) -> Client:
    """A client once the server at `address` answers for `namespace`."""
    last: Exception | None = None
    for _ in range(100):
        try:
            client = await Client.connect(address, namespace=namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return client
        except Exception as error:
            last = error
            await asyncio.sleep(0.2)
    raise AssertionError(f"{address} never served {namespace}: {last}")


async def test_the_dev_server_builder_keeps_its_file_serves_the_ui_and_stops_for_good(
    tmp_path: Path,
) -> None:
    """What `itr dev` relies on: the UI on its port, our search attributes, a persistent
    SQLite file, a log of its own, and after stop() no process and free ports."""
    port, ui_port = free_port(), free_port()
    server = DevServer(
        db_file=tmp_path / "temporal.db",
        port=port,
        ui_port=ui_port,
        log_file=tmp_path / "temporal.log",
        binary=Path(binary("temporal")),
    )
    client = await server.start()
    try:
        assert port_in_use("127.0.0.1", ui_port), "the Web UI is not listening"
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert {k.name for k in ALL_KEYS} <= set(listed.custom_attributes)
        assert server.added_search_attributes == []  # the flags registered them at creation
        assert os.getsid(server.pid or 0) == server.pid, "not in a session of its own"
    finally:
        await server.stop()
    assert server.pid is not None
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(server.pid, 0)
    assert (tmp_path / "temporal.db").stat().st_size > 0
    assert (tmp_path / "temporal.log").exists()
    assert not port_in_use("127.0.0.1", port) and not port_in_use("127.0.0.1", ui_port)


def dev_server_pids(db_file: Path) -> list[int]:
    """Processes whose command line names `db_file` (Linux /proc; empty elsewhere)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(db_file).encode() in argv:
            pids.append(int(entry.name))
    return pids


def itr_dev_command() -> list[str]:
    script = Path(sys.executable).parent / "itr"
    return [str(script), "dev"] if script.exists() else [sys.executable, "-m", "cli", "dev"]


@pytest.mark.skipif(not (ROOT / "api" / "main.py").exists(), reason="api/main.py not written yet")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inspects /proc")
def test_itr_dev_serves_until_ctrl_c_then_exits_0_and_stops_the_dev_server(
    tmp_path: Path,
) -> None:
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    data_dir = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ITR_")},
        "ITR_ENVIRONMENT": "development",
        "ITR_DATA_DIR": str(data_dir),
        "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'itr.db'}",
        "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ITR_TEMPORAL_UI_PORT": str(ui_port),
        "ITR_API_PORT": str(api_port),
    }
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        # cwd: a directory without a developer's .env
        process = subprocess.Popen(
            itr_dev_command(),
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )

    def output() -> str:
        return f"stdout:\n{stdout.read_text()}\nstderr:\n{stderr.read_text()[-4000:]}"

    try:
        deadline = time.monotonic() + 60
        ready = False
        while not ready:
            assert process.poll() is None, f"itr dev exited with {process.returncode}\n{output()}"
            assert time.monotonic() < deadline, f"/readyz never answered 200\n{output()}"
            try:
                response = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=2)
                ready = response.status_code == 200
            except httpx.HTTPError:
                pass
            if not ready:
                time.sleep(0.25)
        assert dev_server_pids(data_dir / "temporal.db"), "no dev server child found"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=45) == 0, output()
        assert dev_server_pids(data_dir / "temporal.db") == [], "the dev server outlived itr dev"
        text = stdout.read_text()
        assert f"http://127.0.0.1:{api_port}/docs" in text
        assert f"http://127.0.0.1:{ui_port}" in text
        assert "TOKEN" in text  # the demo tokens, printed on the first start
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in dev_server_pids(data_dir / "temporal.db"):
            os.kill(pid, signal.SIGKILL)
