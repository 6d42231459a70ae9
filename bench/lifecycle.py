"""What does ITR cost on top of bare Temporal? Full issue lifecycles against a bare baseline.

Run on demand (never in the test suite):

    .venv/bin/python -m bench.lifecycle --issues 50 --concurrency 10

One run starts everything on this machine, in a temporary directory removed afterwards:
a real `temporal server start-dev`, a migrated and seeded SQLite read model, the worker
(`worker.build_worker`, plus a second worker for the baseline) in this process, and the
API as `itr api` (uvicorn) in its own process, reached over real HTTP on a free port,
as a client and a production deployment would reach it.

It then measures, with the same concurrency and on the same machine state:

- bare: `BareLifecycleWorkflow` (bench/bare.py) started and driven through as many
  updates as an issue, scheduling the same activities, all no-ops, straight through the
  Temporal client;
- full: issues opened and driven through acknowledge, resolution and confirmation via
  the API, exactly as tests/integration/test_issue_api.py does.

The activity plan the bare workflow follows is read from the history of a real issue
run first, so the baseline stays faithful when the lifecycle changes. Absolute numbers
depend on the machine and its neighbours; the full/bare ratios are the figures to compare.
"""

import argparse
import asyncio
import contextlib
import ctypes
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.bare import BareLifecycleWorkflow, BarePlan, PlannedActivity, noop
from config.settings import Settings
from db.migrate import upgrade_to_head
from db.session import Database
from devstack.demo import seed_database
from devstack.temporal import DevServer
from domain.ids import workflow_id_for
from itr_cli.logs import configure_logging, exit_hard
from temporal_client import connect_temporal
from worker import build_worker

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ISSUE_QUEUE = "bench-issues"
BARE_QUEUE = "bench-bare"
API_READY_TIMEOUT = 30.0
API_STOP_TIMEOUT = 10.0
QUIET_TIMEOUT = 10.0

# Activities IssueWorkflow starts as background tasks (not awaited before moving on).
BACKGROUND_ACTIVITIES = frozenset({"itr.notify"})

CUSTOMER = {"Authorization": "Bearer demo-customer-acme"}
ENGINEER = {"Authorization": "Bearer demo-engineer-alice"}
NEW_ISSUE = {
    "title": "Edge router drops packets after upgrade",
    "description": "Since firmware 5.2 the router drops about 3% of packets under load.",
    "product_id": "edge-router",
    "severity": 2,
    "category": "incident",
}
FULL_STEPS = ("POST /issues", "acknowledge", "resolution", "confirmation")

Lifecycle = Callable[[str], Awaitable[list[float]]]
"""Runs one lifecycle under a unique key; returns the duration of each step in seconds."""


class BenchError(RuntimeError):
    """The stack did not start or a lifecycle went wrong: the figures would mean nothing."""


# --- the stack ----------------------------------------------------------------------------


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the OS picks it; a race is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_settings(directory: Path) -> Settings:
    """Settings for every part of the stack, all state inside `directory`.

    Neither a .env file nor ITR_* variables apply (main() drops those): a developer's
    webhook or tuning would otherwise reach one process and not the other.
    """
    api_port = free_port()
    return Settings(
        _env_file=None,
        environment="test",
        data_dir=directory,
        database_url=f"sqlite+aiosqlite:///{directory / 'itr.db'}",
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_task_queue=ISSUE_QUEUE,
        api_host="127.0.0.1",
        api_port=api_port,
        public_base_url=f"http://127.0.0.1:{api_port}",
        seed_demo_data=False,
        log_level="WARNING",  # no per-request or per-notification log lines in the figures
    )


def api_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives `itr api` the same settings as this process."""
    values = {
        "ITR_ENVIRONMENT": settings.environment,
        "ITR_DATA_DIR": str(settings.data_dir),
        "ITR_DATABASE_URL": settings.database_url,
        "ITR_TEMPORAL_ADDRESS": settings.temporal_address,
        "ITR_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "ITR_API_HOST": settings.api_host,
        "ITR_API_PORT": str(settings.api_port),
        "ITR_PUBLIC_BASE_URL": settings.public_base_url,
        "ITR_SEED_DEMO_DATA": "false",
        "ITR_LOG_LEVEL": settings.log_level,
    }
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **values, "PYTHONPATH": path}


def die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: have the kernel SIGTERM the child if the benchmark is killed outright."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_api(settings: Settings, log_file: Path) -> "subprocess.Popen[bytes]":
    """`itr api` as a child process, output to `log_file`.

    Started before any Temporal client exists, so no Rust runtime threads are around and
    the server can be tied to our lifetime with PR_SET_PDEATHSIG like the dev server.
    """
    with log_file.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "api"],
            cwd=settings.data_dir,  # no .env there, and the project comes from PYTHONPATH
            env=api_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )


def stop_process(process: "subprocess.Popen[bytes] | None") -> None:
    """SIGTERM (uvicorn drains), then SIGKILL if it hangs; only the process we started."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(API_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


async def wait_api_ready(
    http: httpx.AsyncClient, process: "subprocess.Popen[bytes]", log_file: Path
) -> None:
    """Poll /readyz (database and Temporal both answer); fail fast if the API exits."""
    deadline = time.monotonic() + API_READY_TIMEOUT
    last = "no attempt yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the API exited with {process.returncode}:\n{tail(log_file)}")
        try:
            response = await http.get("/readyz")
            if response.status_code == 200:
                return
            last = response.text
        except httpx.TransportError as error:
            last = repr(error)
        await asyncio.sleep(0.1)
    raise BenchError(f"the API was not ready within {API_READY_TIMEOUT:.0f}s ({last})")


@dataclass
class Stack:
    """What the measurements drive: Temporal directly (baseline) and the API (full)."""

    client: Client
    http: httpx.AsyncClient
    children: dict[str, int]  # our child processes by role, for CPU accounting

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the dev server, the API and this process."""
        used = {name: process_cpu(pid) for name, pid in self.children.items()}
        mine = os.times()
        used["worker+load"] = mine.user + mine.system
        return used


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; 0 elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # fields 3.. of proc_pid_stat(5)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def running_stack(directory: Path) -> AsyncIterator[Stack]:
    """Dev server, read model, API process and workers; everything stopped on the way out."""
    settings = bench_settings(directory)
    configure_logging(settings)
    server = DevServer(
        db_file=directory / "temporal.db",
        port=int(settings.temporal_address.rpartition(":")[2]),
        log_file=directory / "temporal.log",
        ui_port=None,
    )
    api_log = directory / "api.log"
    api: subprocess.Popen[bytes] | None = None
    db: Database | None = None
    try:
        api = start_api(settings, api_log)  # before the SDK's threads exist (preexec_fn)
        await server.start()
        await upgrade_to_head(settings.database_url)
        await seed_database(settings.database_url)
        client = await connect_temporal(settings)
        db = Database(settings.database_url)
        workers = settings.worker_max_concurrent_activities
        with ThreadPoolExecutor(max_workers=workers) as executor:
            issue_worker = build_worker(client, settings, db, executor)
            bare_worker = Worker(
                client,
                task_queue=BARE_QUEUE,
                workflows=[BareLifecycleWorkflow],
                activities=[noop],
                max_concurrent_activities=workers,
            )
            async with (
                issue_worker,
                bare_worker,
                httpx.AsyncClient(
                    base_url=f"http://{settings.api_host}:{settings.api_port}",
                    timeout=httpx.Timeout(60.0),
                ) as http,
            ):
                await wait_api_ready(http, api, api_log)
                children = {"temporal": server.pid or 0, "API": api.pid}
                yield Stack(client=client, http=http, children=children)
    finally:
        stop_process(api)
        if db is not None:
            await db.dispose()
        await server.stop()


# --- one lifecycle of each kind -----------------------------------------------------------


def expect(response: httpx.Response, status: int, state: str) -> dict[str, Any]:
    """The response body, after checking the step did what the lifecycle needs."""
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    body: dict[str, Any] = response.json()
    issue: dict[str, Any] = body.get("issue", body)
    if issue["state"] != state:
        raise BenchError(f"{response.request.url.path}: state {issue['state']}, expected {state}")
    return issue


async def full_lifecycle(
    http: httpx.AsyncClient,
    key: str,
    between_steps: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[str, list[float]]:
    """Create → acknowledge → resolution → confirmation through the API; (issue id, times)."""
    steps: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
        ("/issues", NEW_ISSUE, {**CUSTOMER, "Idempotency-Key": key}, 201, "assigned"),
        ("/acknowledge", {"message": "Looking into it."}, ENGINEER, 200, "in_progress"),
        (
            "/resolution",
            {"summary": "Upgrade to firmware 5.2.1."},
            ENGINEER,
            200,
            "awaiting_confirmation",
        ),
        ("/confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER, 200, "closed"),
    ]
    issue_id = ""
    times = []
    for path, body, headers, status, state in steps:
        url = path if not issue_id else f"/issues/{issue_id}{path}"
        started = time.perf_counter()
        response = await http.post(url, json=body, headers=headers)
        times.append(time.perf_counter() - started)
        issue_id = str(expect(response, status, state)["id"])
        if between_steps is not None:
            await between_steps(issue_id)
    return issue_id, times


async def bare_lifecycle(
    client: Client,
    plan: BarePlan,
    workflow_id: str,
    between_steps: Callable[[], Awaitable[None]] | None = None,
) -> list[float]:
    """Start, then one update per phase; times are [start, update 1, update 2, ...]."""
    started = time.perf_counter()
    handle = await client.start_workflow(
        BareLifecycleWorkflow.run, plan, id=workflow_id, task_queue=BARE_QUEUE
    )
    times = [time.perf_counter() - started]
    for index in range(plan.updates):
        if between_steps is not None:
            await between_steps()
        started = time.perf_counter()
        done = await handle.execute_update(BareLifecycleWorkflow.step, index)
        times.append(time.perf_counter() - started)
        if done != index + 1:
            raise BenchError(f"{workflow_id}: update {index} answered {done}")
    return times


# --- the plan, from a real issue ----------------------------------------------------------


async def quiet(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the workflow has nothing in flight, so each step's activities are its own.

    Activity completion and the workflow task it triggers are one server transaction, as
    are a workflow task's completion and the activities it schedules: no activity in flight
    and no workflow task pending means the history is settled.
    """
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() < deadline:
        raw = (await handle.describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.02)
    raise BenchError(f"{handle.id} did not settle within {QUIET_TIMEOUT:.0f}s")


@dataclass(frozen=True)
class Shape:
    """What one lifecycle leaves in its history: the baseline should look the same."""

    events: int
    workflow_tasks: int
    activities: int
    updates: int

    def __str__(self) -> str:
        return (
            f"{self.events} events, {self.workflow_tasks} workflow tasks, "
            f"{self.activities} activities, {self.updates} updates"
        )


async def history_of(handle: WorkflowHandle[Any, Any]) -> tuple[BarePlan, Shape]:
    """Activities per phase (intake, then each accepted update) and the history's shape."""
    history = await handle.fetch_history()
    phases: list[list[PlannedActivity]] = [[]]
    tasks = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            phases.append([])
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            phases[-1].append(PlannedActivity(name=name, background=name in BACKGROUND_ACTIVITIES))
    plan = BarePlan(phases=tuple(tuple(p) for p in phases))
    shape = Shape(
        events=len(history.events),
        workflow_tasks=tasks,
        activities=sum(len(p) for p in phases),
        updates=plan.updates,
    )
    return plan, shape


async def probe(stack: Stack, run: str) -> tuple[BarePlan, Shape, Shape]:
    """One real issue, one step at a time, read back as the plan; then one bare run of it."""
    issue_id, _ = await full_lifecycle(
        stack.http,
        f"{run}-probe",
        lambda issue: quiet(stack.client.get_workflow_handle(workflow_id_for(issue))),
    )
    handle = stack.client.get_workflow_handle(workflow_id_for(issue_id))
    await quiet(handle)
    plan, issue_shape = await history_of(handle)
    if plan.updates != len(FULL_STEPS) - 1:
        raise BenchError(f"expected {len(FULL_STEPS) - 1} updates in {handle.id}:\n{plan}")
    bare_id = f"{run}-bare-probe"
    bare_handle = stack.client.get_workflow_handle(bare_id)
    await bare_lifecycle(stack.client, plan, bare_id, lambda: quiet(bare_handle))
    await bare_handle.result()
    _, bare_shape = await history_of(bare_handle)
    return plan, issue_shape, bare_shape


# --- batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One timed batch: wall time and every lifecycle's step times."""

    kind: str
    wall: float
    samples: tuple[tuple[float, ...], ...]
    cpu: dict[str, float]  # CPU seconds each process spent during the batch

    @property
    def rate(self) -> float:
        return len(self.samples) / self.wall

    def step(self, index: int) -> list[float]:
        return [s[index] for s in self.samples]

    def first_response(self, *, like_for_like: bool = False) -> list[float]:
        """POST /issues for the full lifecycle; start + first update for the baseline.

        The bare first update carries intake and the acknowledge phase, which the full
        lifecycle spreads over two requests: `like_for_like` adds the acknowledge to
        POST /issues so both cover the same activities.
        """
        if self.kind == "full" and not like_for_like:
            return self.step(0)
        return [s[0] + s[1] for s in self.samples]


async def run_batch(
    stack: Stack, kind: str, count: int, concurrency: int, lifecycle: Lifecycle, prefix: str
) -> Batch:
    """`count` lifecycles, at most `concurrency` at a time, timed from first start to last end."""
    samples: list[tuple[float, ...]] = []
    pending = iter(range(count))

    async def lane() -> None:
        for index in pending:
            samples.append(tuple(await lifecycle(f"{prefix}-{index}")))

    cpu_before = stack.cpu()
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, count)):
                group.create_task(lane())
    except ExceptionGroup as failed:  # the first failure says enough; the others are stopped
        raise failed.exceptions[0] from None
    wall = time.perf_counter() - started
    cpu = {name: used - cpu_before[name] for name, used in stack.cpu().items()}
    return Batch(kind=kind, wall=wall, samples=tuple(samples), cpu=cpu)


# --- the report ---------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (with 50 samples p99 is almost the max)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def latency_line(label: str, values: Sequence[float]) -> str:
    return (
        f"  {label:<30} p50 {ms(percentile(values, 0.5))}   p99 {ms(percentile(values, 0.99))}"
        f"   mean {ms(statistics.fmean(values))}"
    )


def cpu_per_lifecycle(batches: Sequence[Batch]) -> dict[str, float]:
    """CPU seconds per lifecycle, by process."""
    count = sum(len(b.samples) for b in batches)
    return {name: sum(b.cpu[name] for b in batches) / count for name in batches[0].cpu}


def batch_line(batch: Batch, cpus: int) -> str:
    busy = sum(batch.cpu.values()) / (batch.wall * cpus)
    per = cpu_per_lifecycle([batch])
    split = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in per.items())
    return (
        f"  {batch.kind:<5} {len(batch.samples)} in {batch.wall:6.2f} s = {batch.rate:6.2f}/s"
        f"   CPU {sum(per.values()) * 1000:4.0f} ms/lifecycle ({split})"
        f"   using {busy:4.0%} of the CPUs"
    )


def summary(full: Sequence[Batch], bare: Sequence[Batch]) -> list[str]:
    """Throughput, first-response latency and CPU of full against bare, with their ratios."""
    full_rate = sum(len(b.samples) for b in full) / sum(b.wall for b in full)
    bare_rate = sum(len(b.samples) for b in bare) / sum(b.wall for b in bare)
    full_first = [v for b in full for v in b.first_response()]
    full_alike = [v for b in full for v in b.first_response(like_for_like=True)]
    bare_first = [v for b in bare for v in b.first_response()]
    full_cpu = sum(cpu_per_lifecycle(full).values())
    bare_cpu = sum(cpu_per_lifecycle(bare).values())
    lines = [
        f"  throughput        full {full_rate:6.2f} issues/s   bare {bare_rate:6.2f} workflows/s"
        f"   full/bare {full_rate / bare_rate:.2f}",
    ]
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        f, b = percentile(full_first, fraction), percentile(bare_first, fraction)
        lines.append(
            f"  latency {name}       POST /issues {ms(f)}   bare start+first update {ms(b)}"
            f"   full/bare {f / b:.2f}"
        )
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        f, b = percentile(full_alike, fraction), percentile(bare_first, fraction)
        lines.append(
            f"  like-for-like {name} POST /issues + acknowledge {ms(f)}   full/bare {f / b:.2f}"
        )
    lines.append(
        f"  CPU per lifecycle full {full_cpu * 1000:.0f} ms   bare {bare_cpu * 1000:.0f} ms"
        f"   full/bare {full_cpu / bare_cpu:.2f}"
    )
    return lines


def report(
    args: argparse.Namespace,
    plan: BarePlan,
    shapes: tuple[Shape, Shape],
    rounds: Sequence[tuple[Batch, Batch]],
    load_before: Sequence[float],
) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    load = " / ".join(f"{x:.2f}" for x in load_before)
    lines = [
        f"ITR lifecycle benchmark: {args.issues} lifecycles per batch, concurrency "
        f"{args.concurrency}, {len(rounds)} round(s), warm-up {args.warmup} of each",
        f"machine: {cpus} CPU(s), Python {platform.python_version()}, "
        f"temporalio {version('temporalio')}, temporal server start-dev, SQLite read model",
        f"load average before the run (1/5/15 min): {load} (others' work skews wall times)",
        "processes: temporal dev server | `itr api` (uvicorn, real HTTP) | this one "
        "(worker+load: both workers and the load generator)",
        "",
        "plan (read from a real issue's history; the bare workflow repeats it with no-ops):",
        *(f"  {line}" for line in plan.describe().splitlines()),
        f"history per lifecycle: issue {shapes[0]}",
        f"                       bare  {shapes[1]}",
    ]
    for number, (first, second) in enumerate(rounds, start=1):
        full, bare = (first, second) if first.kind == "full" else (second, first)
        lines += ["", f"round {number} ({first.kind} first)"]
        lines += [batch_line(first, cpus), batch_line(second, cpus)]
        lines += summary([full], [bare])
    fulls = [b for pair in rounds for b in pair if b.kind == "full"]
    bares = [b for pair in rounds for b in pair if b.kind == "bare"]
    lines += ["", "step latencies, all rounds"]
    for index, name in enumerate(FULL_STEPS):
        lines.append(latency_line(f"full {name}", [v for b in fulls for v in b.step(index)]))
    bare_steps = [
        "start",
        "update 1 (+ intake)",
        *(f"update {i}" for i in range(2, plan.updates + 1)),
    ]
    for index, name in enumerate(bare_steps):
        lines.append(latency_line(f"bare {name}", [v for b in bares for v in b.step(index)]))
    lines += ["", "SUMMARY, all rounds (compare the full/bare ratios, not the absolute figures)"]
    lines += summary(fulls, bares)
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace) -> str:
    """Start the stack, probe, warm up, then alternate bare and full for each round."""
    run = f"bench-{uuid.uuid4().hex[:8]}"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="itr-bench-", ignore_cleanup_errors=True) as tmp:
        async with running_stack(Path(tmp)) as stack:
            plan, issue_shape, bare_shape = await probe(stack, run)

            async def full(key: str) -> list[float]:
                return (await full_lifecycle(stack.http, key))[1]

            async def bare(key: str) -> list[float]:
                return await bare_lifecycle(stack.client, plan, key)

            kinds: dict[str, Lifecycle] = {"full": full, "bare": bare}
            for kind, lifecycle in kinds.items():
                await run_batch(
                    stack, kind, args.warmup, args.concurrency, lifecycle, f"{run}-warm-{kind}"
                )
            rounds = []
            for number in range(1, args.rounds + 1):
                order = ("bare", "full") if number % 2 else ("full", "bare")
                batches = [
                    await run_batch(
                        stack,
                        kind,
                        args.issues,
                        args.concurrency,
                        kinds[kind],
                        f"{run}-r{number}-{kind}",
                    )
                    for kind in order
                ]
                rounds.append((batches[0], batches[1]))
            return report(args, plan, (issue_shape, bare_shape), rounds, load_before)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lifecycle",
        description="Full issue lifecycles through the API against bare Temporal workflows.",
    )
    parser.add_argument("--issues", type=int, default=50, help="lifecycles per batch (50)")
    parser.add_argument("--concurrency", type=int, default=10, help="lifecycles in flight (10)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured lifecycles per kind")
    parser.add_argument("--rounds", type=int, default=2, help="bare/full rounds, order alternating")
    args = parser.parse_args(argv)
    for name in ("issues", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    return args


class BenchStopped(Exception):
    """The run ended early (a signal or a failed step); `code` is the exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


async def _cancellable(work: Callable[[], Awaitable[T]], signals: list[int]) -> T:
    """`work`, cancelled on SIGINT or SIGTERM so that every `finally` runs.

    The signal is noted in `signals` because cancellation does not always surface as
    CancelledError: the Temporal client turns a cancelled update into its own error.
    """
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    def stop(sig: int) -> None:
        signals.append(sig)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    return await work()


def run_benchmark(work: Callable[[], Awaitable[T]]) -> T:
    """Run a benchmark the way every one in bench/ runs: without the developer's ITR_*
    variables (only the benchmark's own settings reach both processes), stopped cleanly by
    a signal; a signal or a BenchError becomes BenchStopped with the exit status to use."""
    for name in [n for n in os.environ if n.startswith("ITR_")]:
        del os.environ[name]  # see bench_settings
    signals: list[int] = []
    try:
        return asyncio.run(_cancellable(work, signals))
    except (Exception, asyncio.CancelledError) as error:
        if signals:
            name = signal.Signals(signals[0]).name
            sys.stderr.write(f"benchmark stopped by {name}; its processes and files are gone\n")
            raise BenchStopped(128 + signals[0]) from None
        if isinstance(error, BenchError):
            sys.stderr.write(f"benchmark failed: {error}\n")
            raise BenchStopped(1) from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        output = run_benchmark(lambda: benchmark(args))
    except BenchStopped as stopped:
        return stopped.code
    print(output)
    return 0


if __name__ == "__main__":
    # Past the Temporal SDK's finalization abort (see itr_cli.logs.exit_hard), with our exit code.
    exit_hard(main())
