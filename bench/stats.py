"""How the statistics scale with history: the summary and one breakdown at 1k, 10k and 100k
closed issues, on SQLite and PostgreSQL.

The facts rows (and the issue rows they belong to) are generated in bulk, not through
workflows: a steady 20 closed issues a day going back from a fixed instant, so 1k issues
cover 50 days and 100k nearly 14 years. Each measurement asks for the last four weeks, what
a dashboard shows: a fixed period over a growing history. The goal is that the period's
cost follows its own volume, not the history's (summary at 100k within 1.5x of 1k).

    .venv/bin/python -m bench.stats [--sizes 1000,10000,100000] [--repeat 30] [--no-postgres]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth import Principal
from api.services import stats as stats_service
from api.stats_schemas import StatsDimension
from db.migrate import upgrade_to_head
from db.models import IssueFactsRow, IssueRow
from db.repositories import stats as stats_repo
from db.repositories.stats import StatsFilters
from db.session import Database
from domain.enums import Role
from domain.stats import Period

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PER_DAY = 20
WINDOW = Period(start=NOW - timedelta(days=28), end=NOW)
PRODUCTS = ("edge-router", "storage-array", "cloud-console")
ORGANISATIONS = ("acme", "globex", "initech")
ENGINEERS = ("alice", "bob", "carol", "dave", "erin")
ADMIN = Principal(
    token_id="bench", role=Role.ADMIN, name="bench", organisation_id=None, engineer_id=None
)
POSTGRES_SERVER = os.environ.get(
    "ITR_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)


def rows(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` closed issues, PER_DAY a day back from NOW, with varied durations and outcomes."""
    issues, facts = [], []
    step = timedelta(days=1) / PER_DAY
    for n in range(count):
        created = NOW - step * (n + 1)
        response = 600 + (n * 37) % 7200
        resolution = 3600 + (n * 997) % 250_000
        closed = created + timedelta(seconds=resolution + 3600)
        issue_id = f"B-{n:07d}"
        product, organisation = PRODUCTS[n % 3], ORGANISATIONS[(n // 3) % 3]
        issues.append(
            {
                "id": issue_id,
                "workflow_id": f"issue-{issue_id}",
                "organisation_id": organisation,
                "product_id": product,
                "title": "bench",
                "description": "",
                "category": "incident",
                "severity": 1 + n % 4,
                "service_mode": "remote",
                "channel": "portal",
                "reporter_kind": "customer",
                "reporter_id": "bench",
                "reporter_name": "bench",
                "state": "closed",
                "tier": 1,
                "waiting_for": "nothing",
                "created_at": created,
                "updated_at": closed,
            }
        )
        facts.append(
            {
                "issue_id": issue_id,
                "organisation_id": organisation,
                "product_id": product,
                "category": "incident",
                "severity": 1 + n % 4,
                "channel": "portal",
                "contract_level": "premium",
                "team_id": None,
                "engineer_id": ENGINEERS[n % 5],
                "first_owner_id": ENGINEERS[n % 5],
                "tier": 1,
                "state": "closed",
                "calendar": "24x7",
                "created_at": created,
                "first_response_at": created + timedelta(seconds=response),
                "resolved_at": created + timedelta(seconds=resolution),
                "closed_at": closed,
                "cancelled_at": None,
                "ended_at": closed,
                "response_wall": response,
                "response_business": response,
                "resolution_wall": resolution,
                "resolution_business": resolution,
                "first_response_sla": "met" if n % 10 else "breached",
                "resolution_sla": "met" if n % 7 else "breached",
                "ola_tier_1": "met",
                "ola_tier_2": None,
                "ola_tier_3": None,
                "time_tier_1": resolution,
                "time_tier_2": 0,
                "time_tier_3": 0,
                "waiting_customer": 0,
                "waiting_rnd": 0,
                "escalations": 0,
                "reassignments": n % 3 == 0,
                "handoffs": n % 3 == 0,
                "first_contact_resolution": n % 3 != 0,
                "reopen_count": int(n % 20 == 0),
                "satisfaction": 1 + n % 5 if n % 2 else None,
                "defect_key": None,
                "defect_created": False,
                "defect_linked_at": None,
                "rnd_escalated_at": None,
                "defect_fixed_at": None,
                "escalation_to_fix": None,
                "last_seq": 10,
            }
        )
    return issues, facts


async def load(database: Database, count: int) -> None:
    issues, facts = rows(count)
    async with database.transaction() as session:
        await session.execute(sa.delete(IssueFactsRow))
        await session.execute(sa.delete(IssueRow))
        for start in range(0, count, 2000):
            await session.execute(sa.insert(IssueRow), issues[start : start + 2000])
            await session.execute(sa.insert(IssueFactsRow), facts[start : start + 2000])
    # Settle the load before measuring: planner statistics, and on PostgreSQL the visibility
    # map and hint bits (the first reads of fresh rows would write them); SQLite's WAL folded
    # back into the file.
    async with database.engine.connect() as connection:
        if database.dialect_name == "postgresql":
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("issues", "issue_facts"):
                await connection.execute(sa.text(f"VACUUM ANALYZE {table}"))
        else:
            await connection.execute(sa.text("ANALYZE"))
            await connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            await connection.commit()


async def timed(
    repeat: int, calls: dict[str, Callable[[], Awaitable[object]]]
) -> dict[str, tuple[float, float]]:
    """p50 and p99 of `repeat` rounds of each call, in milliseconds, the calls interleaved so
    a burst of load on the machine hits them alike (after five unmeasured rounds)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(repeat + 5):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            if round_ >= 5:
                samples[name].append((time.perf_counter() - started) * 1000)
    result = {}
    for name, values in samples.items():
        values.sort()
        p99 = values[min(len(values) - 1, round(0.99 * len(values)))]
        result[name] = (statistics.median(values), p99)
    return result


async def measure(database: Database, sizes: list[int], repeat: int, name: str) -> dict[int, float]:
    medians: dict[int, float] = {}
    query = stats_service.StatsQuery(start=WINDOW.start, end=WINDOW.end)
    for size in sizes:
        await load(database, size)

        async def summary() -> object:
            async with database.session() as session:
                figures = await stats_repo.figures_of(session, StatsFilters(), WINDOW)
                assert figures.closed > 0
                return figures

        async def breakdown() -> object:
            async with database.session() as session:
                return await stats_service.breakdown(
                    session, ADMIN, query, StatsDimension.PRODUCT, NOW
                )

        label = f"{size // 1000}k_{name}"
        results = await timed(repeat, {"summary": summary, "breakdown_product": breakdown})
        medians[size] = results["summary"][0]
        for what, (p50, p99) in results.items():
            print(f"stats_{what}_{label} p50={p50:.1f}ms p99={p99:.1f}ms", flush=True)
    return medians


def ratio_line(medians: dict[int, float], name: str) -> str:
    small, large = min(medians), max(medians)
    value = medians[large] / medians[small]
    verdict = "met" if value <= 1.5 else "missed"
    return (
        f"ratio stats_summary_{large // 1000}k_vs_{small // 1000}k_{name} {value:.2f} "
        f"goal <=1.5 {verdict}"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = []
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade_to_head(url)
        database = Database(url)
        try:
            lines.append(
                ratio_line(await measure(database, sizes, args.repeat, "sqlite"), "sqlite")
            )
        finally:
            await database.dispose()
    if not args.no_postgres:
        admin = create_async_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        name = f"itr_bench_stats_{os.getpid()}"
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = f"{POSTGRES_SERVER}/{name}"
        try:
            await upgrade_to_head(url)
            database = Database(url)
            try:
                medians = await measure(database, sizes, args.repeat, "postgresql")
                lines.append(ratio_line(medians, "postgresql"))
            finally:
                await database.dispose()
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            await admin.dispose()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
