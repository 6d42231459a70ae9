"""What does `POST /issues` cost against starting a bare workflow? Intake at concurrency 10
and 50, each beside its baseline in the same run.

    .venv/bin/python -m bench.intake [--issues 200] [--concurrency 10,50]

The stack is bench.lifecycle's (a real dev server, a seeded SQLite read model, the worker in
this process, the API as `itr api` over HTTP). For each concurrency it runs, interleaved in
rounds so a burst on the machine hits both alike:

- bare: `client.start_workflow` of `BareLifecycleWorkflow` (bench/bare.py) with an empty
  intake, straight through the Temporal client: what starting a workflow costs;
- full: `POST /issues` as a customer, each under its own Idempotency-Key, counting answers
  that name the owner (`assigned`, or `offered` / queued by dispatch rules) against those
  that came back `new` (intake did not finish within the API's wait).

It ends with `ratio intake_p50_c<n> <full p50 / bare p50> goal <=3 met|missed` per
concurrency; the goal also needs every answer dispatched.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.bare import BareLifecycleWorkflow, BarePlan, PlannedActivity
from bench.lifecycle import (
    BARE_QUEUE,
    CUSTOMER,
    NEW_ISSUE,
    BenchError,
    BenchStopped,
    Stack,
    run_benchmark,
    running_stack,
)

EMPTY_INTAKE = BarePlan(phases=((PlannedActivity(name="noop", background=False),),))
"""The bare workflow's intake: one no-op activity, no updates (it completes by itself)."""


async def bare_start(stack: Stack) -> tuple[float, bool]:
    started = time.perf_counter()
    await stack.client.start_workflow(
        BareLifecycleWorkflow.run,
        EMPTY_INTAKE,
        id=f"bench-intake-{uuid.uuid4()}",
        task_queue=BARE_QUEUE,
    )
    return time.perf_counter() - started, True


async def full_intake(stack: Stack) -> tuple[float, bool]:
    headers = {**CUSTOMER, "Idempotency-Key": f"intake-{uuid.uuid4()}"}
    started = time.perf_counter()
    response = await stack.http.post("/issues", json=NEW_ISSUE, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise BenchError(f"POST /issues: {response.status_code} {response.text}")
    return elapsed, response.json()["state"] != "new"


async def batch(
    call: Callable[[], Awaitable[tuple[float, bool]]], count: int, concurrency: int
) -> list[tuple[float, bool]]:
    """`count` calls, `concurrency` at a time."""
    results: list[tuple[float, bool]] = []
    remaining = iter(range(count))

    async def lane() -> None:
        for _ in remaining:
            results.append(await call())

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return results


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


async def benchmark(issues: int, concurrencies: list[int], rounds: int) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="itr-bench-intake-") as directory:
        async with running_stack(Path(directory)) as stack:
            await batch(lambda: full_intake(stack), 5, 5)  # warm the API, worker and caches
            await batch(lambda: bare_start(stack), 5, 5)
            for concurrency in concurrencies:
                full: list[tuple[float, bool]] = []
                bare: list[tuple[float, bool]] = []
                for _ in range(rounds):
                    per_round = max(1, issues // rounds)
                    bare += await batch(lambda: bare_start(stack), per_round, concurrency)
                    full += await batch(lambda: full_intake(stack), per_round, concurrency)
                full_p50 = p50([t for t, _ in full])
                bare_p50 = p50([t for t, _ in bare])
                dispatched = sum(1 for _, ok in full if ok)
                print(
                    f"intake_c{concurrency} full p50={full_p50:.1f}ms "
                    f"p99={sorted(t for t, _ in full)[int(0.99 * (len(full) - 1))] * 1000:.1f}ms "
                    f"bare p50={bare_p50:.1f}ms; {dispatched} of {len(full)} answers named "
                    "the owner or queue",
                    flush=True,
                )
                value = full_p50 / bare_p50
                met = value <= 3 and dispatched == len(full)
                lines.append(
                    f"ratio intake_p50_c{concurrency} {value:.2f} goal <=3 "
                    f"{'met' if met else 'missed'}"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=200, help="per concurrency and kind")
    parser.add_argument("--concurrency", default="10,50")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    try:
        lines = run_benchmark(lambda: benchmark(args.issues, concurrencies, args.rounds))
    except BenchStopped as stopped:
        return stopped.code
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
