"""A fault run you can repeat: N issue lifecycles while the worker, Temporal and Jira fail.

Run on demand (never in the test suite's default selection):

    .venv/bin/python -m bench.fault_run --issues 100

One run starts, in a temporary directory removed afterwards (`--keep` keeps it, with
every process's log):

- a real `temporal server start-dev` with its SQLite file in that directory;
- the read model: a migrated SQLite file with the demo data, or a fresh database created
  on the PostgreSQL server of `--database-url` (dropped afterwards);
- `jira_test_server` as R&D's tracker (in this process, on a free port), which the worker
  and the API reach through `ITR_TRACKER_CONFIG`;
- the API as `itr api` and the worker as `itr worker`, each its own process, so the
  worker can be killed outright (SIGKILL) and started again.

The demo SLA policy of the demo customer's issues (premium, severity 2) is replaced,
through the admin API, by one with targets of seconds (24x7), so warnings and breaches
come due while the run goes on. N lifecycles are then driven through the API by a
client that retries a command with the same Idempotency-Key on 503, 202 or a timeout, as the
API asks: open, acknowledge (early or late), comment, sometimes ask the customer and get
an answer, sometimes escalate to R&D (a defect is created in Jira; R&D fixes it, and its
webhook is delivered or lost, to be found by the scheduled poll), sometimes reject the
first resolution; every lifecycle ends closed by the customer.

Meanwhile, at seeded random moments: the worker is SIGKILLed several times and started
again after a short pause, the Temporal dev server is restarted once on the same
database file, and Jira answers 503 to everything for a while (its first defect creations
are applied and their answers lost).

At the end the run reads the read model, Temporal and Jira and prints one counter a line
(`lost_issues 0`, ...), then a verdict; it exits 0 only when every counter is 0. What
each counter counts is said in `COUNTERS` and bench/README.md.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from api.services.issues import issue_id_for
from bench.lifecycle import (
    CUSTOMER,
    NEW_ISSUE,
    BenchError,
    BenchStopped,
    api_environment,
    bench_settings,
    percentile,
    run_benchmark,
    tail,
)
from bench.timer_canary import (
    LATE_AFTER,
    TICK,
    CanaryTimer,
    canary_timers,
    late_spans,
    running_canary,
)
from config.settings import Settings
from db.migrate import upgrade_to_head
from db.models import CommentRow, EventRow, IssueRow
from db.session import Database
from devstack.demo import seed_database
from devstack.temporal import DevServer
from domain.enums import EventKind
from domain.ids import workflow_id_for
from integrations.jira import load_jira_config
from integrations.tracker.markers import find_marker
from integrations.tracker.port import dedupe_key_for
from itr_cli.logs import exit_hard
from jira_test_server import JiraTestServer, webhook_request
from temporal_client import connect_temporal

ADMIN = {"Authorization": "Bearer demo-admin"}
MANAGER = {"Authorization": "Bearer demo-manager-nina"}
CUSTOMER_TOKEN_ID = (
    "tok-demo-customer-acme"  # the token row behind CUSTOMER: issue ids derive from it
)
POLICY_PATH = "/sla/policies/premium/2"  # the demo customer's contract level, NEW_ISSUE's severity
WEBHOOK = "/tracker/jira/webhook"
WEBHOOK_SECRET = "fault-run-webhook-secret"
LOST_CREATES = 2  # defect creations Jira applies without answering, after its outage
JIRA_PROJECT = "RND"

HTTP_TIMEOUT = 45.0  # above the API's own 30 s wait for an update, so the API answers first
POLL_EVERY = 1.5  # seconds between reads while a client waits for a state (a UI refreshing)
RETRYABLE = frozenset({502, 503, 504})
WORKER_READY_TIMEOUT = 60.0
WORKER_STARTED = "worker started"  # worker.run_worker logs it just before polling

# Runs the command given after it, after asking Linux to SIGTERM it when we die (even by
# SIGKILL). A shim rather than preexec_fn: we start processes while threads run (the Jira
# test server, the Temporal client), where forking to run Python code is unsafe.
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)

COUNTERS = {
    "lost_issues": "issues created through the API with no row, a workflow missing, failed, "
    "terminated or timed out, or a row not closed at the end",
    "orphan_workflows": "issue workflows in Temporal with no row in the read model",
    "duplicate_timeline_rows": "the same (issue_id, seq) (that is, the same event_id) twice, or "
    "a command's timeline entry more often than the client sent such commands (distinct "
    "Idempotency-Keys), or closed/defect_linked/defect_fixed twice",
    "duplicate_comments": "the same comment (issue, author, body) twice in the read model, or "
    "the same ITR marker twice among a defect's Jira comments",
    "duplicate_defects": "more than one Jira issue carrying one customer issue's label",
    "missing_defects": "issues escalated to R&D (on their timeline) with no defect in Jira",
    "sla_events_twice": "sla_warning/sla_breached recorded more than once for one issue, "
    "clock, cycle and threshold",
    "sla_events_late": "sla_warning/sla_breached recorded more than the tolerance after the "
    "deadline in its data, not counting the planned worker and Temporal outages (for a "
    "killed worker: until the issue's next task left the dead worker's sticky queue, a task "
    "it had started timed out, or an activity attempt lost with it was retried; for Temporal: "
    "its restart, and any span where the timer canary saw it fire timers late)",
    "workflow_task_errors": "workflow tasks failed for non-determinism or an unhandled error in "
    "the workflow code (a replay after a kill that does not match is a defect)",
    "lifecycles_failed": "lifecycles the client could not drive to closure (the reason is shown)",
}


# --- processes ----------------------------------------------------------------------------


def spawn(
    command: Sequence[str], env: dict[str, str], cwd: Path, log: Path
) -> "subprocess.Popen[bytes]":
    """A child in its own session, tied to our lifetime, its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", DIE_WITH_PARENT, *command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class WorkerProcess:
    """`itr worker` as a child process that can be SIGKILLed and started again."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.killed: set[int] = set()  # pids: the workers' identities are "<pid>@<host>"

    def _started_lines(self) -> int:
        try:
            return self.log.read_text(errors="replace").count(WORKER_STARTED)
        except OSError:
            return 0

    async def start(self) -> None:
        """Start it and wait until it logs that it is about to poll."""
        before = self._started_lines()
        self.process = spawn([sys.executable, "-m", "cli", "worker"], self.env, self.cwd, self.log)
        self.starts += 1
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while self._started_lines() <= before:
            if self.process.poll() is not None:
                raise BenchError(
                    f"the worker exited with {self.process.returncode}:\n{tail(self.log)}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"the worker did not start within {WORKER_READY_TIMEOUT:.0f}s")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no draining, in-flight activities and workflow tasks are simply lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            self.killed.add(self.process.pid)

    def stop(self) -> None:
        """SIGTERM (the worker drains), then SIGKILL if it hangs."""
        stop_child(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def stop_child(process: "subprocess.Popen[bytes] | None") -> None:
    """SIGTERM, then SIGKILL after 15 s; nothing if it is not running."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@asynccontextmanager
async def read_model(url: str | None, directory: Path, keep: bool) -> AsyncIterator[str]:
    """The read model's URL: a SQLite file in `directory`, or a database created for the run
    on the PostgreSQL server of `url` (dropped afterwards unless kept)."""
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite+aiosqlite:///{directory / 'itr.db'}"
        return
    server = make_url(url)
    name = f"itr_fault_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(sa.text(statement))
        finally:
            await engine.dispose()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept PostgreSQL database {name}", file=sys.stderr)
        else:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- faults -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """Something down on purpose, from `start` to `end` (epoch seconds)."""

    what: str  # worker, temporal, tracker
    start: float
    end: float


@dataclass(frozen=True)
class PlannedFault:
    at: float  # seconds after the first issue is opened
    kind: str  # worker_kill, temporal_restart, tracker_outage
    pause: float = 0.0  # seconds the worker stays dead, or Jira down


def plan_faults(
    rng: random.Random, length: float, kills: int, tracker_outage: float
) -> list[PlannedFault]:
    """Seeded moments over the run's expected `length` seconds, sorted."""
    faults = [
        PlannedFault(rng.uniform(0.1, 0.85) * length, "worker_kill", rng.uniform(1.0, 5.0))
        for _ in range(kills)
    ]
    faults.append(PlannedFault(rng.uniform(0.35, 0.65) * length, "temporal_restart"))
    if tracker_outage > 0:
        down = rng.uniform(0.15, 0.5) * length
        faults.append(PlannedFault(down, "tracker_outage", tracker_outage))
    return sorted(faults, key=lambda f: f.at)


def overlap(start: float, end: float, outages: Sequence[Outage]) -> float:
    """Seconds of [start, end] covered by the outages (merged, so none counts twice)."""
    spans = sorted((max(o.start, start), min(o.end, end)) for o in outages)
    covered, reach = 0.0, start
    for low, high in spans:
        low = max(low, reach)
        if high > low:
            covered += high - low
            reach = high
    return covered


# --- the client ---------------------------------------------------------------------------


@dataclass
class IssuePlan:
    """What one lifecycle does, drawn from the seeded generator before the run."""

    index: int
    key: str
    opens_at: float
    ack_after: float
    ask_customer: bool
    reply_after: float
    to_rnd: bool
    webhook_lost: bool
    fix_after: float
    resolve_after: float
    reject_first: bool


@dataclass
class Lifecycle:
    """What the client did and saw for one issue."""

    plan: IssuePlan
    issue_id: str = ""
    accepted: Counter[str] = field(default_factory=Counter)  # commands answered 2xx, by kind
    sent: Counter[str] = field(default_factory=Counter)  # Idempotency-Keys sent, by kind
    comments: list[str] = field(default_factory=list)  # bodies the client sent
    defect_key: str | None = None
    closed: bool = False
    error: str | None = None


@dataclass
class ClientStats:
    retries: Counter[str] = field(default_factory=Counter)  # by cause
    answers: Counter[str] = field(default_factory=Counter)  # retried non-503 outcomes
    replayed_409: int = 0  # a retry answered 409 while the command had been applied


def _route(path: str) -> str:
    """/issues/ITR-X/acknowledge -> /issues/{id}/acknowledge, to count answers per route."""
    parts = path.split("/")
    return "/".join("{id}" if part.startswith("ITR-") else part for part in parts)


class Driver:
    """Drives lifecycles through the API as a well-behaved client would."""

    def __init__(self, http: httpx.AsyncClient, jira: JiraTestServer, args: argparse.Namespace):
        self.http = http
        self.jira = jira
        self.args = args
        self.stats = ClientStats()
        # Each engineer's token: a command is sent as the issue's owner, as the ownership
        # rules require (only the owner, the team's manager or a dispatcher may act).
        self.engineers: dict[str, dict[str, str]] = {}

    async def issue_engineer_tokens(self) -> None:
        """One API token per engineer of the demo organisation, issued by the admin."""
        listed = await self.http.get("/engineers", headers=ADMIN)
        if listed.status_code != 200:
            raise BenchError(f"GET /engineers: {listed.status_code} {listed.text[:300]}")
        for engineer in listed.json():
            created = await self.http.post(
                "/tokens",
                json={
                    "name": f"fault run {engineer['id']}",
                    "role": "manager" if engineer["is_manager"] else "engineer",
                    "engineer_id": engineer["id"],
                },
                headers=ADMIN,
            )
            if created.status_code != 201:
                raise BenchError(f"POST /tokens: {created.status_code} {created.text[:300]}")
            token = created.json()["token"]
            self.engineers[engineer["id"]] = {"Authorization": f"Bearer {token}"}

    def owner(self, issue: dict[str, Any]) -> dict[str, str]:
        """The headers of the issue's owner."""
        owner_id = issue.get("owner_id")
        if owner_id not in self.engineers:
            raise BenchError(f"{issue.get('id')}: owner {owner_id!r} has no token")
        return self.engineers[owner_id]

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        content: bytes | None = None,
        *,
        pending: frozenset[int] = frozenset(),
    ) -> tuple[httpx.Response, int]:
        """Send until the answer is not a 5xx/timeout (nor one of `pending`: a command's 202,
        "accepted, still applying"); returns it and the number of attempts.

        The same headers (so the same Idempotency-Key) go with every attempt: a retry joins
        the first attempt and answers its result.
        """
        deadline = time.monotonic() + self.args.give_up
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await self.http.request(
                    method, path, json=body, content=content, headers=headers
                )
            except httpx.TransportError as error:
                cause = type(error).__name__
                wait = 1.0
                self.stats.answers[f"{method} {_route(path)} {cause} (no answer)"] += 1
            else:
                if response.status_code not in RETRYABLE | pending:
                    return response, attempts
                cause = f"HTTP {response.status_code}"
                # 503 and a command's 202 are the API's documented "retry with the same key"
                if response.status_code not in {503, *pending}:
                    detail = response.text[:160]
                    with contextlib.suppress(ValueError, AttributeError):
                        detail = str(response.json().get("detail", detail))[:160]
                    self.stats.answers[f"{method} {_route(path)} {cause}: {detail}"] += 1
                wait = min(float(response.headers.get("Retry-After", "1") or 1), 5.0)
            self.stats.retries[cause] += 1
            if time.monotonic() > deadline:
                raise BenchError(f"{method} {path}: still {cause} after {self.args.give_up:.0f}s")
            await asyncio.sleep(wait)

    async def issue(self, issue_id: str) -> dict[str, Any]:
        response, _ = await self.request("GET", f"/issues/{issue_id}", MANAGER)
        if response.status_code != 200:
            raise BenchError(f"GET /issues/{issue_id}: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    async def until(
        self, issue_id: str, wanted: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.args.give_up
        while True:
            body = await self.issue(issue_id)
            if wanted(body):
                return body
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{issue_id} never reached {what} (state {body['state']}, "
                    f"defect {body.get('defect_key')})"
                )
            await asyncio.sleep(POLL_EVERY)

    async def command(
        self,
        life: Lifecycle,
        kind: str,
        headers: dict[str, str],
        body: dict[str, Any],
        then: str | None,
    ) -> dict[str, Any]:
        """POST /issues/{id}/{kind} with an Idempotency-Key; `then` is the state it leads to.

        A retry answered 409 may be a command applied by an earlier attempt whose answer was
        lost: if the issue is in `then`, it counts as applied (and is counted apart).
        """
        key = f"{life.plan.key}-{kind}-{life.accepted[kind]}"
        life.sent[kind] += 1  # applied at most once, even if every answer is lost
        response, attempts = await self.request(
            "POST",
            f"/issues/{life.issue_id}/{kind}",
            {**headers, "Idempotency-Key": key},
            body,
            pending=frozenset({202}),
        )
        if response.status_code == 409 and attempts > 1 and then is not None:
            current = await self.issue(life.issue_id)
            if current["state"] == then:
                self.stats.replayed_409 += 1
                life.accepted[kind] += 1
                return current
        if response.status_code != 200:
            raise BenchError(f"{kind}: {response.status_code} {response.text[:300]}")
        life.accepted[kind] += 1
        issue: dict[str, Any] = response.json().get("issue", response.json())
        if then is not None and issue["state"] != then:
            raise BenchError(f"{kind}: state {issue['state']}, expected {then}")
        return issue

    async def open(self, life: Lifecycle) -> None:
        body = {**NEW_ISSUE, "title": f"Fault run {life.plan.key}"}
        life.sent["create"] += 1
        response, _ = await self.request(
            "POST", "/issues", {**CUSTOMER, "Idempotency-Key": life.plan.key}, body
        )
        if response.status_code not in (200, 201):
            raise BenchError(f"POST /issues: {response.status_code} {response.text[:300]}")
        life.issue_id = str(response.json()["id"])
        life.accepted["create"] += 1

    async def comment(self, life: Lifecycle, headers: dict[str, str], text: str) -> None:
        body = f"{text} ({life.plan.key} #{len(life.comments)})"
        life.comments.append(body)
        await self.command(life, "comments", headers, {"body": body, "visibility": "public"}, None)

    async def rnd_fixes(self, life: Lifecycle) -> None:
        """R&D resolves the defect in Jira; its webhook arrives, or is lost (the poll finds it)."""
        assert life.defect_key is not None
        event = await asyncio.to_thread(
            self.jira.act_transition, life.defect_key, "Resolve Issue", "Fixed"
        )
        if life.plan.webhook_lost:
            return
        content, headers = webhook_request(event, WEBHOOK_SECRET)
        response, _ = await self.request("POST", WEBHOOK, headers, content=content)
        if response.status_code != 202:
            raise BenchError(f"webhook: {response.status_code} {response.text[:300]}")

    async def lifecycle(self, life: Lifecycle, started: float) -> None:
        plan = life.plan
        await asyncio.sleep(max(0.0, started + plan.opens_at - time.monotonic()))
        try:
            await self.open(life)
            assigned = await self.until(
                life.issue_id, lambda i: i["state"] == "assigned", "assigned"
            )
            engineer = self.owner(assigned)  # tier 1: works the issue, unless R&D fixes it
            await asyncio.sleep(plan.ack_after)
            await self.command(life, "acknowledge", engineer, {"message": "On it."}, "in_progress")
            await self.comment(life, engineer, "Collecting the router's logs")
            if plan.ask_customer:
                await self.command(
                    life,
                    "request-info",
                    engineer,
                    {"question": "Which firmware build exactly?"},
                    "waiting_customer",
                )
                await asyncio.sleep(plan.reply_after)
                await self.command(
                    life, "reply", CUSTOMER, {"body": "5.2.0 build 1187."}, "in_progress"
                )
            if plan.to_rnd:
                await self.command(
                    life,
                    "escalate",
                    engineer,
                    {
                        "to_tier": 3,
                        "reason": "Firmware defect",
                        "summary": "Checked the logs and rebooted.",
                    },
                    None,
                )
                linked = await self.until(
                    life.issue_id, lambda i: i.get("defect_key") is not None, "a defect"
                )
                life.defect_key = str(linked["defect_key"])
                await self.comment(life, self.owner(linked), "R&D is reproducing it")
                await asyncio.sleep(plan.fix_after)
                await self.rnd_fixes(life)
                await self.until(
                    life.issue_id,
                    lambda i: i["state"] == "awaiting_confirmation",
                    "awaiting_confirmation after the fix",
                )
            else:
                await asyncio.sleep(plan.resolve_after)
                await self.command(
                    life,
                    "resolution",
                    engineer,
                    {"summary": "Upgrade to firmware 5.2.1."},
                    "awaiting_confirmation",
                )
            if plan.reject_first:
                await self.command(
                    life,
                    "confirmation",
                    CUSTOMER,
                    {"accept": False, "comment": "Still dropping packets."},
                    "in_progress",
                )
                await asyncio.sleep(1.0)
                await self.command(
                    life,
                    "resolution",
                    self.owner(await self.issue(life.issue_id)),  # after R&D: who has it now
                    {"summary": "Also reset the QoS queues."},
                    "awaiting_confirmation",
                )
            await self.command(
                life, "confirmation", CUSTOMER, {"accept": True, "satisfaction": 5}, "closed"
            )
            life.closed = True
        except BenchError as error:
            life.error = str(error)


def plan_issues(args: argparse.Namespace, rng: random.Random, run: str) -> list[IssuePlan]:
    fr = args.first_response
    return [
        IssuePlan(
            index=index,
            key=f"{run}-{index}",
            opens_at=index * args.spread / args.issues,
            ack_after=rng.uniform(0.0, 1.6 * fr),  # about 40 % miss the first response
            ask_customer=rng.random() < 0.2,
            reply_after=rng.uniform(2.0, 10.0),
            to_rnd=rng.random() < args.rnd_share,
            webhook_lost=rng.random() < 0.5,
            fix_after=rng.uniform(2.0, 10.0),
            resolve_after=rng.uniform(0.0, 0.8 * args.resolution),
            reject_first=rng.random() < 0.15,
        )
        for index in range(args.issues)
    ]


# --- the stack and the run ----------------------------------------------------------------


@dataclass
class Stack:
    settings: Settings
    directory: Path
    env: dict[str, str]
    server: DevServer
    worker: WorkerProcess
    api: "subprocess.Popen[bytes]"
    jira: JiraTestServer
    http: httpx.AsyncClient
    outages: list[Outage] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # what the chaos did, for the report
    # The timer canary's timers (bench.timer_canary): when the server itself fired late.
    canary: list[CanaryTimer] = field(default_factory=list)


def jira_config(jira: JiraTestServer, poll: float, path: Path) -> Path:
    return jira.write_itr_config(
        path,
        webhook_secret=WEBHOOK_SECRET,
        products={str(NEW_ISSUE["product_id"]): JIRA_PROJECT},
        poll_interval=poll,
    )


async def wait_ready(http: httpx.AsyncClient, api: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise BenchError(f"the API exited with {api.returncode}:\n{tail(log)}")
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise BenchError(f"the API was not ready within 60s:\n{tail(log)}")


@asynccontextmanager
async def running_stack(args: argparse.Namespace, directory: Path) -> AsyncIterator[Stack]:
    """Dev server, read model, Jira, API and worker processes; all stopped on the way out."""
    async with read_model(args.database_url, directory, args.keep) as database_url:
        settings = bench_settings(directory).model_copy(
            update={"database_url": database_url, "log_level": "INFO"}
        )
        jira = JiraTestServer().start()
        config = jira_config(jira, args.poll, directory / "jira.yaml")
        env = {
            **api_environment(settings),
            "ITR_DATABASE_URL": database_url,
            "ITR_TRACKER_CONFIG": str(config),
            "ITR_REOPEN_WINDOW": f"PT{args.reopen_window:g}S",
            "ITR_LOG_LEVEL": "INFO",
        }
        # The dev server goes down with this process (devstack's launcher), like `itr dev`'s.
        server = DevServer(
            db_file=directory / "temporal.db",
            port=int(settings.temporal_address.rpartition(":")[2]),
            log_file=directory / "temporal.log",
            ui_port=None,
        )
        api: subprocess.Popen[bytes] | None = None
        worker = WorkerProcess(env, directory, directory / "worker.log")
        try:
            await server.start()
            await upgrade_to_head(database_url)
            await seed_database(database_url)
            api = spawn([sys.executable, "-m", "cli", "api"], env, directory, directory / "api.log")
            await worker.start()
            async with httpx.AsyncClient(
                base_url=settings.public_base_url, timeout=httpx.Timeout(HTTP_TIMEOUT)
            ) as http:
                await wait_ready(http, api, directory / "api.log")
                yield Stack(settings, directory, env, server, worker, api, jira, http)
        finally:
            worker.stop()
            stop_child(api)
            await server.stop()
            jira.stop()


async def short_policy(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    """The demo customer's policy for NEW_ISSUE, with targets of seconds, around the clock."""
    policy = {
        "first_response": f"PT{args.first_response:g}S",
        "resolution": f"PT{args.resolution:g}S",
        "calendar": "24x7",
        "tier_budgets": {"1": {"share": 0.4}, "2": {"share": 0.3}, "3": {"share": 0.3}},
        "warnings": [75],
        "breach_actions": ["notify_manager", "notify_owner"],
    }
    response = await stack.http.put(POLICY_PATH, json=policy, headers=ADMIN)
    if response.status_code != 200:
        raise BenchError(f"PUT {POLICY_PATH}: {response.status_code} {response.text}")
    return policy


async def chaos(stack: Stack, faults: Sequence[PlannedFault], started: float) -> None:
    """Carry out the planned faults, recording when each outage really began and ended.

    The worker kills and the Temporal restart happen one after another, each at its moment
    or as soon as the one before has finished; Jira's outage runs beside them.
    """

    def moment() -> str:
        return f"+{time.monotonic() - started:.0f}s"

    async def at(fault: PlannedFault) -> None:
        await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))

    async def processes() -> None:
        for fault in faults:
            if fault.kind == "tracker_outage":
                continue
            await at(fault)
            when, began = moment(), time.time()
            if fault.kind == "worker_kill":
                stack.worker.kill()
                await asyncio.sleep(fault.pause)
                await stack.worker.start()
                stack.outages.append(Outage("worker", began, time.time()))
                stack.log.append(
                    f"{when} worker SIGKILLed, started again after {fault.pause:.1f}s, "
                    f"polling {time.time() - began:.1f}s after the kill"
                )
            else:
                await stack.server.stop()
                await stack.server.start()
                stack.outages.append(Outage("temporal", began, time.time()))
                stack.log.append(
                    f"{when} Temporal dev server restarted (same database file), "
                    f"answering again {time.time() - began:.1f}s later"
                )

    async def tracker() -> None:
        for fault in faults:
            if fault.kind != "tracker_outage":
                continue
            await at(fault)
            when, began = moment(), time.time()
            stack.jira.faults.fail_next(10**9, 503)
            await asyncio.sleep(fault.pause)
            stack.jira.faults.clear()
            # Coming back, Jira applies the next defect creations but their answers are lost:
            # the retry must find each defect by its label instead of creating another.
            stack.jira.faults.accept_then_drop_next(
                LOST_CREATES, method="POST", path=r"/rest/api/2/issue$"
            )
            stack.outages.append(Outage("tracker", began, time.time()))
            refused = sum(1 for r in list(stack.jira.requests) if r.fault == "fail")
            stack.log.append(
                f"{when} Jira down for {fault.pause:.0f}s ({refused} requests answered 503), "
                f"then its next {LOST_CREATES} defect creations applied with the answer lost"
            )

    await asyncio.gather(processes(), tracker())
    stack.log.sort(key=lambda line: int(line.split("s ", 1)[0].lstrip("+")))


# --- the verification ---------------------------------------------------------------------


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    details: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def add(self, counter: str, detail: str) -> None:
        self.counts[counter] += 1
        self.details.append(f"  {counter}: {detail}")


def epoch(value: Any) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.timestamp()


# The timeline entry each client command leaves, once per command the API accepted.
COMMAND_EVENTS = {
    "create": EventKind.CREATED,
    "acknowledge": EventKind.ACKNOWLEDGED,
    "request-info": EventKind.INFO_REQUESTED,
    "reply": EventKind.CUSTOMER_REPLIED,
    "escalate": EventKind.ESCALATED,
    "comments": EventKind.COMMENTED,
}


async def settle(client: Client, issue_ids: Sequence[str], within: float) -> list[str]:
    """Wait until every workflow has completed (the reopen window is short) or `within`
    passed; returns those still running."""
    deadline = time.monotonic() + within
    running = list(issue_ids)
    while running and time.monotonic() < deadline:
        still = []
        for issue_id in running:
            try:
                described = await client.get_workflow_handle(workflow_id_for(issue_id)).describe()
            except RPCError:
                still.append(issue_id)
                continue
            if described.status == WorkflowExecutionStatus.RUNNING:
                still.append(issue_id)
        running = still
        if running:
            await asyncio.sleep(2.0)
    return running


# Workflow task failures that point at our code (replay after a kill, or a bug), not at
# the run's faults (the others are routine: an update arriving while a task completes).
CODE_FAILURES = frozenset(
    {
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
    }
)


async def workflow_tasks(
    client: Client,
    issue_ids: Sequence[str],
    killed: set[int],
    kills: Sequence[Outage],
    findings: Findings,
) -> tuple[list[float], dict[str, list[tuple[float, float]]], dict[str, list[tuple[float, float]]]]:
    """How long workflow tasks waited for the worker (seconds, scheduled to started), and
    what the histories say about failed and timed-out workflow tasks.

    Also returns, per issue, its workflow tasks (started, scheduled) and the spans its
    workflow tasks sat on a killed worker's sticky queue until they timed out (scheduled,
    timed out): the server keeps routing an issue's next task to the queue of the worker
    that ran it last, however long ago that worker died, until a 10 s timeout moves it on.
    """
    waits: list[float] = []
    sticky: dict[str, list[tuple[float, float]]] = defaultdict(list)
    tasks: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (started, scheduled)
    timeouts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for issue_id in issue_ids:
        history = await client.get_workflow_handle(workflow_id_for(issue_id)).fetch_history()
        scheduled: dict[int, float] = {}
        queues: dict[int, str] = {}  # the task queue each workflow task was scheduled on
        started_by: dict[int, str] = {}  # the worker that started each workflow task
        activities: dict[int, float] = {}  # activity scheduled event id -> scheduled at
        for event in history.events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled[event.event_id] = event.event_time.ToDatetime(UTC).timestamp()
                attributes_queue = event.workflow_task_scheduled_event_attributes.task_queue
                queues[event.event_id] = attributes_queue.name
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                attributes = event.workflow_task_started_event_attributes
                began = scheduled.get(attributes.scheduled_event_id)
                started_by[attributes.scheduled_event_id] = attributes.identity
                if began is not None:
                    started = event.event_time.ToDatetime(UTC).timestamp()
                    waits.append(started - began)
                    tasks[issue_id].append((started, began))
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                activities[event.event_id] = event.event_time.ToDatetime(UTC).timestamp()
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                # An attempt lost with a killed worker is only retried once its start-to-close
                # timeout expires; the issue waits on it (intake or a command holds it).
                attempt = event.activity_task_started_event_attributes
                last = attempt.last_failure
                if attempt.attempt > 1 and last.HasField("timeout_failure_info"):
                    began = activities.get(attempt.scheduled_event_id)
                    ended = event.event_time.ToDatetime(UTC).timestamp()
                    if began is not None and any(began <= kill.start <= ended for kill in kills):
                        sticky[issue_id].append((began, ended))
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timed_out = event.workflow_task_timed_out_event_attributes
                timeout = timed_out.timeout_type
                began = scheduled.get(timed_out.scheduled_event_id)
                owner = queues.get(timed_out.scheduled_event_id, "").partition("@")[0]
                if timeout == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE:
                    # Started by a worker that was then killed: Temporal learns of it only
                    # when the task's timeout expires.
                    owner = started_by.get(timed_out.scheduled_event_id, "").partition("@")[0]
                if (
                    timeout
                    in (
                        TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
                        TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
                    )
                    and began is not None
                    and owner.isdigit()
                    and int(owner) in killed
                ):
                    ended = event.event_time.ToDatetime(UTC).timestamp()
                    sticky[issue_id].append((began, ended))
                timeouts[TimeoutType.Name(timeout).removeprefix("TIMEOUT_TYPE_").lower()] += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failed = event.workflow_task_failed_event_attributes
                cause = WorkflowTaskFailedCause.Name(failed.cause)
                failures[cause.removeprefix("WORKFLOW_TASK_FAILED_CAUSE_").lower()] += 1
                if failed.cause in CODE_FAILURES:
                    findings.add(
                        "workflow_task_errors",
                        f"{issue_id} event {event.event_id}: {cause}: "
                        f"{failed.failure.message[:300]}",
                    )
    findings.info.append(
        "workflow tasks timed out: "
        + (", ".join(f"{k} {n}" for k, n in sorted(timeouts.items())) or "none")
        + "; failed: "
        + (", ".join(f"{k} {n}" for k, n in sorted(failures.items())) or "none")
    )
    return waits, sticky, tasks


async def verify(
    stack: Stack, lives: Sequence[Lifecycle], args: argparse.Namespace
) -> tuple[Findings, dict[str, list[float]]]:
    findings = Findings()
    expected = {issue_id_for(CUSTOMER_TOKEN_ID, life.plan.key): life for life in lives}
    for issue_id, life in expected.items():
        if life.issue_id and life.issue_id != issue_id:
            raise BenchError(f"{life.plan.key} created {life.issue_id}, expected {issue_id}")
    client = await connect_temporal(stack.settings)
    still_running = await settle(client, list(expected), args.settle)
    findings.info.append(
        f"workflows still running after {args.settle:.0f}s of settling: {len(still_running)}"
    )
    killed = stack.worker.killed
    kills = [o for o in stack.outages if o.what == "worker"]
    waits, sticky, tasks = await workflow_tasks(client, list(expected), killed, kills, findings)

    db = Database(stack.settings.database_url)
    try:
        async with db.session() as session:
            rows = {r.id: r for r in (await session.execute(sa.select(IssueRow))).scalars()}
            events = (await session.execute(sa.select(EventRow))).scalars().all()
            comments = (await session.execute(sa.select(CommentRow))).scalars().all()
            # Detached from the session below: read every attribute needed now.
            row_view = {i: (r.state.value, r.defect_key) for i, r in rows.items()}
            event_view = [
                (e.issue_id, e.seq, EventKind(e.kind), e.at, dict(e.data or {})) for e in events
            ]
            comment_view = [(c.issue_id, c.author_id, c.body) for c in comments]
    finally:
        await db.dispose()

    # Lost issues: created (or attempted) through the API, but no row, a broken workflow,
    # or not closed.
    for issue_id, life in expected.items():
        if life.error is not None:
            findings.add("lifecycles_failed", f"{issue_id} ({life.plan.key}): {life.error}")
        if issue_id not in row_view:
            findings.add("lost_issues", f"{issue_id} ({life.plan.key}): no row in the read model")
            continue
        try:
            described = await client.get_workflow_handle(workflow_id_for(issue_id)).describe()
            status = described.status
        except RPCError as error:
            findings.add("lost_issues", f"{issue_id}: workflow not found ({error.message})")
            continue
        if status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
            name = status.name if status is not None else "unknown"
            findings.add("lost_issues", f"{issue_id}: workflow {name}")
        elif row_view[issue_id][0] != "closed":
            findings.add("lost_issues", f"{issue_id}: row state {row_view[issue_id][0]}")
    workflows = [w.id async for w in client.list_workflows("WorkflowType = 'IssueWorkflow'")]
    for workflow_id in sorted(set(workflows)):
        issue_id = workflow_id.removeprefix("issue-")
        if issue_id not in row_view:
            findings.add("orphan_workflows", f"{workflow_id} has no row")

    # Duplicate timeline rows.
    seqs = Counter((issue_id, seq) for issue_id, seq, *_ in event_view)
    for (issue_id, seq), count in seqs.items():
        if count > 1:
            findings.add("duplicate_timeline_rows", f"{issue_id} seq {seq} x{count}")
    kinds: dict[str, Counter[EventKind]] = defaultdict(Counter)
    for issue_id, _, kind, _, _ in event_view:
        kinds[issue_id][kind] += 1
    for issue_id, life in expected.items():
        for command, kind in COMMAND_EVENTS.items():
            if kinds[issue_id][kind] > life.sent[command]:
                findings.add(
                    "duplicate_timeline_rows",
                    f"{issue_id}: {kinds[issue_id][kind]} {kind.value} entries for "
                    f"{life.sent[command]} {command} commands sent",
                )
        proposed = life.sent["resolution"] + int(life.plan.to_rnd)  # a fix proposes one
        if kinds[issue_id][EventKind.RESOLUTION_PROPOSED] > proposed:
            findings.add(
                "duplicate_timeline_rows",
                f"{issue_id}: {kinds[issue_id][EventKind.RESOLUTION_PROPOSED]} "
                f"resolution_proposed entries for {proposed} proposals",
            )
        if kinds[issue_id][EventKind.RESOLUTION_REJECTED] > int(life.plan.reject_first):
            findings.add(
                "duplicate_timeline_rows",
                f"{issue_id}: {kinds[issue_id][EventKind.RESOLUTION_REJECTED]} "
                "resolution_rejected entries",
            )
        for kind in (EventKind.CLOSED, EventKind.DEFECT_LINKED, EventKind.DEFECT_FIXED):
            if kinds[issue_id][kind] > 1:
                findings.add(
                    "duplicate_timeline_rows",
                    f"{issue_id}: {kinds[issue_id][kind]} {kind.value} entries",
                )

    # Duplicate comments, in the read model and mirrored on the defects.
    for (issue_id, author, body), count in Counter(comment_view).items():
        if count > 1:
            findings.add("duplicate_comments", f"{issue_id}: {author} said {body!r} x{count}")
    jira_issues = stack.jira.issues()
    for defect in jira_issues:
        markers = Counter(m for c in defect.comments if (m := find_marker(c.body)) is not None)
        for marker, count in markers.items():
            if count > 1:
                findings.add("duplicate_comments", f"{defect.key}: marker {marker} x{count}")

    # Duplicate or missing defects.
    config = load_jira_config(stack.directory / "jira.yaml")
    by_label: Counter[str] = Counter(label for d in jira_issues for label in d.labels)
    keys = {d.key for d in jira_issues}
    for issue_id in expected:
        label = config.label_for(dedupe_key_for(issue_id))
        if by_label[label] > 1:
            found = [d.key for d in jira_issues if label in d.labels]
            findings.add("duplicate_defects", f"{issue_id}: {by_label[label]} defects {found}")
        if kinds[issue_id][EventKind.ESCALATED]:  # only ever to R&D in this run
            linked = row_view.get(issue_id, ("", None))[1]
            if by_label[label] == 0 and linked not in keys:
                findings.add("missing_defects", f"{issue_id}: no defect in Jira (row: {linked})")
    dropped = sum(1 for r in list(stack.jira.requests) if r.fault == "drop")
    findings.info.append(
        f"defects in Jira: {len(jira_issues)} for {sum(1 for x in lives if x.plan.to_rnd)} "
        f"issues escalated to R&D; {dropped} creations applied by Jira with the answer lost"
    )

    # SLA events: once per (issue, clock, cycle, threshold), on time.
    lateness: dict[str, list[float]] = {"all": [], "excluding": [], "waits": waits}
    # The server's own lateness, measured by the canary, is Temporal's outage too: an issue
    # timer cannot fire before the server fires timers again.
    server_late = [Outage("temporal_timers", t.due, t.fired) for t in late_spans(stack.canary)]
    planned = [o for o in stack.outages if o.what in ("worker", "temporal")] + server_late
    findings.info.append(canary_line(stack))

    def stranded(issue_id: str) -> list[Outage]:
        """The issue's tasks stranded on a killed worker's sticky queue, as outages."""
        return [Outage("sticky", began, ended) for began, ended in sticky.get(issue_id, [])]

    fired: Counter[tuple[str, str, object, object]] = Counter()
    causes: Counter[str] = Counter()  # of late events: where the time went
    by_kind: Counter[str] = Counter()
    for issue_id, seq, kind, at, data in event_view:
        if kind not in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
            continue
        by_kind[kind.value] += 1
        fired[(issue_id, str(data.get("clock")), data.get("cycle"), data.get("percent"))] += 1
        due_at = data.get("due_at")
        if due_at is None:
            findings.add("sla_events_late", f"{issue_id} seq {seq}: no due_at in {data}")
            continue
        recorded, due = epoch(at), epoch(due_at)
        late = recorded - due
        excluding = late - overlap(due, recorded, [*planned, *stranded(issue_id)])
        lateness["all"].append(late)
        lateness["excluding"].append(excluding)
        if excluding > args.tolerance:
            # workflow.now() is the start of the task that recorded it: when was that task
            # scheduled (by the timer, or by a command)? On time: it waited for the worker.
            task = min(tasks.get(issue_id, []), key=lambda t: abs(t[0] - recorded), default=None)
            where = "its workflow task not found"
            if task is not None and abs(task[0] - recorded) < 0.01:
                outages = [*planned, *stranded(issue_id)]
                triggered = task[1] - due - overlap(due, task[1], outages)
                cause = "waited for the worker" if triggered <= args.tolerance else "scheduled late"
                causes[cause] += 1
                where = (
                    f"its task scheduled {task[1] - due:+.1f}s after the deadline, "
                    f"started {task[0] - task[1]:.1f}s later"
                )
            else:
                causes[where] += 1
            findings.add(
                "sla_events_late",
                f"{issue_id} seq {seq} {kind.value} {data.get('clock')} {data.get('percent')} %: "
                f"due {datetime.fromtimestamp(due, UTC).time()}, recorded {late:.1f}s later "
                f"({excluding:.1f}s outside the planned outages; {where})",
            )
    for (issue_id, clock, cycle, percent), count in fired.items():
        if count > 1:
            findings.add(
                "sla_events_twice", f"{issue_id}: {clock} cycle {cycle} {percent} % x{count}"
            )
    ignored = sum(1 for *_, kind, _, _ in event_view if kind == EventKind.DEFECT_UPDATE_IGNORED)
    findings.info.append(
        f"defect updates ignored (seen again by the poll after the webhook): {ignored}"
    )
    if causes:
        findings.info.append(
            "late SLA events by where the time went (their workflow task was scheduled within "
            "the tolerance and started late, or was itself scheduled late): "
            + ", ".join(f"{cause} {n}" for cause, n in causes.most_common())
        )
    findings.info.append(
        "SLA events recorded: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items()))
    )
    return findings, lateness


def canary_line(stack: Stack) -> str:
    """What the timer canary saw of the server's punctuality over the run."""
    timers = stack.canary
    if not timers:
        return "timer canary: no timers recorded (its worker or workflow did not run)"
    late = late_spans(timers)
    covered = overlap(
        min(t.due for t in timers),
        max(t.fired for t in timers),
        [Outage("temporal_timers", t.due, t.fired) for t in late],
    )
    lateness = sorted(t.late for t in timers)
    worst = sorted(late, key=lambda t: t.late, reverse=True)[:3]
    return (
        f"timer canary (a {TICK.total_seconds():g} s timer at a time, its own worker here): "
        f"{len(timers)} timers, late p50 {percentile(lateness, 0.5):.2f} s, p99 "
        f"{percentile(lateness, 0.99):.2f} s, max {lateness[-1]:.2f} s; the server fired timers "
        f"late (> {LATE_AFTER:g} s) over {covered:.1f} s in all"
        + (
            " (worst: "
            + ", ".join(
                f"due {datetime.fromtimestamp(t.due, UTC).time()} fired {t.late:.1f}s late"
                for t in worst
            )
            + ")"
            if worst
            else ""
        )
    )


# --- the report ---------------------------------------------------------------------------


def spread_line(label: str, values: Sequence[float]) -> str:
    if not values:
        return f"  {label:<44} (none)"
    return (
        f"  {label:<44} p50 {percentile(values, 0.5):7.2f} s   p99 "
        f"{percentile(values, 0.99):7.2f} s   max {max(values):7.2f} s"
    )


def report(
    args: argparse.Namespace,
    stack: Stack,
    lives: Sequence[Lifecycle],
    stats: ClientStats,
    findings: Findings,
    lateness: dict[str, list[float]],
    wall: float,
    load: Sequence[float],
) -> tuple[str, bool]:
    database = "PostgreSQL" if not stack.settings.database_url.startswith("sqlite") else "SQLite"
    lines = [
        f"ITR fault run: {args.issues} issues, seed {args.seed}, opened over {args.spread:g} s",
        f"machine: {os.cpu_count()} CPU(s), Python {platform.python_version()}, temporalio "
        f"{version('temporalio')}, temporal server start-dev, {database} read model, "
        "jira_test_server",
        "load average (1/5/15 min) before the run: "
        + " / ".join(f"{x:.2f}" for x in load)
        + ", at its end: "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (others' work on the machine slows every process down)",
        f"SLA policy: first response {args.first_response:g} s, resolution "
        f"{args.resolution:g} s, tier budgets 40/30/30 %, warning at 75 %, 24x7",
        f"lifecycles: {sum(1 for x in lives if x.plan.to_rnd)} to R&D "
        f"({sum(1 for x in lives if x.plan.to_rnd and x.plan.webhook_lost)} webhooks lost), "
        f"{sum(1 for x in lives if x.plan.ask_customer)} asked the customer, "
        f"{sum(1 for x in lives if x.plan.reject_first)} rejected once; "
        f"{sum(1 for x in lives if x.closed)} closed by the client in {wall:.0f} s",
        "",
        "faults",
        *(f"  {line}" for line in stack.log),
        "client retries (same Idempotency-Key): "
        + (", ".join(f"{c} {n}" for c, n in sorted(stats.retries.items())) or "none")
        + f"; retries answered 409 with the command already applied: {stats.replayed_409}",
        *(f"  {n}x {answer}" for answer, n in stats.answers.most_common(12)),
        *findings.info,
        "",
        "SLA lateness (recorded at - deadline in the event)",
        spread_line("including the planned outages", lateness["all"]),
        spread_line("excluding worker and Temporal outages", lateness["excluding"]),
        "  (a killed worker's outage lasts, for each issue, until its next task left the "
        "dead worker's sticky queue, a workflow task the dead worker had started timed out, "
        "and an activity attempt lost with it was retried: Temporal learns of a dead worker "
        "by these timeouts; Temporal's own outage lasts until it fires timers on time again, "
        "as the timer canary measures)",
        f"  tolerance {args.tolerance:g} s past the deadline, outside the planned outages",
        spread_line("workflow tasks waiting for the worker", lateness["waits"]),
        "",
    ]
    for name, count in findings.counts.items():
        lines.append(f"{name} {count}")
    ok = not any(findings.counts.values())
    if findings.details:
        lines += ["", "details", *findings.details[:200]]
        if len(findings.details) > 200:
            lines.append(f"  ... {len(findings.details) - 200} more")
    lines += ["", f"verdict {'OK' if ok else 'FAILED'}"]
    return "\n".join(lines), ok


# --- main ---------------------------------------------------------------------------------


async def fault_run(args: argparse.Namespace) -> tuple[str, bool]:
    rng = random.Random(args.seed)
    run = f"fault-{args.seed}-{uuid.uuid4().hex[:6]}"
    plans = plan_issues(args, rng, run)
    length = args.spread + 1.6 * args.first_response + args.resolution
    faults = plan_faults(rng, length, args.worker_kills, args.tracker_outage)
    load = os.getloadavg()
    directory = Path(tempfile.mkdtemp(prefix="itr-fault-"))
    try:
        async with running_stack(args, directory) as stack:
            await short_policy(stack, args)
            driver = Driver(stack.http, stack.jira, args)
            await driver.issue_engineer_tokens()
            lives = [Lifecycle(plan) for plan in plans]
            began = time.monotonic()
            semaphore = asyncio.Semaphore(args.concurrency)

            async def one(life: Lifecycle) -> None:
                async with semaphore:
                    await driver.lifecycle(life, began)

            client = await connect_temporal(stack.settings)
            async with running_canary(client, f"canary-{run}") as canary:
                chaos_task = asyncio.create_task(chaos(stack, faults, began))
                await asyncio.gather(*(one(life) for life in lives))
                await chaos_task  # faults planned past the last closure still happen
            stack.canary = await canary_timers(canary)
            if not stack.worker.alive():
                raise BenchError(f"the worker died:\n{tail(stack.worker.log)}")
            wall = time.monotonic() - began
            findings, lateness = await verify(stack, lives, args)
            return report(args, stack, lives, driver.stats, findings, lateness, wall, load)
    finally:
        if args.keep:
            print(f"logs and files kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fault_run",
        description="Issue lifecycles while the worker, Temporal and Jira fail; then checks.",
    )
    parser.add_argument("--issues", type=int, default=100, help="lifecycles (100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument(
        "--spread", type=float, default=None, help="seconds over which issues open (2.4 x N)"
    )
    parser.add_argument("--concurrency", type=int, default=100, help="lifecycles in flight")
    parser.add_argument("--worker-kills", type=int, default=4, help="SIGKILLs of the worker (4)")
    parser.add_argument(
        "--tracker-outage", type=float, default=30.0, help="seconds Jira is down (30; 0: never)"
    )
    parser.add_argument("--first-response", type=float, default=20.0, help="target, s (20)")
    parser.add_argument("--resolution", type=float, default=60.0, help="target, s (60)")
    parser.add_argument("--rnd-share", type=float, default=0.3, help="share escalated to R&D")
    parser.add_argument("--poll", type=float, default=15.0, help="tracker poll interval, s")
    parser.add_argument("--reopen-window", type=float, default=20.0, help="seconds (20)")
    parser.add_argument("--tolerance", type=float, default=2.0, help="SLA lateness allowed, s")
    parser.add_argument(
        "--give-up", type=float, default=600.0, help="s a client retries a step (600)"
    )
    parser.add_argument("--settle", type=float, default=90.0, help="wait for completion, s")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to create the run's database on "
        "(postgresql+asyncpg://postgres@127.0.0.1:5432/postgres); SQLite by default",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    args = parser.parse_args(argv)
    if args.issues < 1 or args.concurrency < 1:
        parser.error("--issues and --concurrency must be at least 1")
    if args.first_response < 10:
        parser.error("--first-response must be at least 10 s (dev server timers floor at ~1 s)")
    if args.spread is None:
        args.spread = 2.4 * args.issues
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        output, ok = run_benchmark(lambda: fault_run(args))
    except BenchStopped as stopped:
        return stopped.code
    print(output)
    return 0 if ok else 1


if __name__ == "__main__":
    exit_hard(main())
