"""How the read model's requests scale with the number of issues: list, filtered list,
paging, text search, the at-risk filter and `/sla/at-risk`, and the detail, at 1k, 10k and
100k issues, on SQLite and PostgreSQL.

The rows are generated in bulk (not through workflows), as a desk accumulates them: one
issue every ten minutes going back from now, the newest 400 still open at every size (the
backlog stays steady while the history grows; a fifth of them at risk, their deadlines spread
over the next two days), the rest closed. Titles and
descriptions draw on a small vocabulary, so common words match thousands of issues at 100k,
while one rare word matches the same three issues at every size. Each request goes through
the same service the API route calls. The goal is a flat read model: each request's p99 at
the largest size within 1.5x of its p99 at the smallest.

    .venv/bin/python -m bench.read_model [--sizes 1000,10000,100000] [--repeat 200]
        [--no-postgres]
"""

import argparse
import asyncio
import gc
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from api.auth import Principal
from api.services import issues as issue_service
from api.services import sla as sla_service
from bench.stats import timed
from db.migrate import upgrade_to_head
from db.models import IssueRow
from db.repositories import issue_search
from db.session import Database
from domain.enums import IssueState, Role

NOW = datetime.now(UTC).replace(microsecond=0)
STEP = timedelta(minutes=10)
ORGANISATIONS = tuple(f"org-{n:02d}" for n in range(20))
PRODUCTS = ("edge-router", "storage-array", "cloud-console")
ENGINEERS = tuple(f"eng-{n:02d}" for n in range(30))
OPEN = (IssueState.ASSIGNED, IssueState.IN_PROGRESS, IssueState.WAITING_CUSTOMER)
WORDS = (  # noqa: SIM905 - a sentence of words reads better than thirty quoted strings
    "router link packet loss firmware upgrade tunnel latency disk array controller "
    "volume snapshot console login certificate timeout backup restore cluster node "
    "interface power supply fan alarm license port vlan route dns dhcp"
).split()
RARE = "zeppelin"
OPEN_BACKLOG = 400
"""Open issues at every size: the backlog stays steady while the history grows."""
STAFF = Principal(
    token_id="bench", role=Role.ADMIN, name="bench", organisation_id=None, engineer_id=None
)
CUSTOMER = Principal(
    token_id="bench-customer",
    role=Role.CUSTOMER,
    name="bench customer",
    organisation_id=ORGANISATIONS[3],
    engineer_id=None,
)
POSTGRES_SERVER = os.environ.get(
    "ITR_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)


def issue_id(n: int) -> str:
    return f"ITR-B{n:07d}"


def _words(n: int, count: int, salt: int) -> str:
    return " ".join(WORDS[(n * (7 + salt) + i * (13 + salt)) % len(WORDS)] for i in range(count))


def rows(count: int) -> list[dict[str, Any]]:
    """`count` issues, the newest (n = 0) created just now, one every STEP before it."""
    result = []
    open_count = min(count, OPEN_BACKLOG)
    for n in range(count):
        created = NOW - STEP * (n + 1)
        is_open = n < open_count
        at_risk = is_open and n % 5 == 0
        title = f"{_words(n, 4, 0)} {RARE if n in (7, 8, 9) else ''}".strip()
        deadline = NOW + timedelta(minutes=20 + (n * 37) % 2880) if is_open else None
        ola = NOW + timedelta(minutes=5 + (n * 53) % 2880) if is_open and n % 2 else None
        result.append(
            {
                "id": issue_id(n),
                "workflow_id": f"issue-{issue_id(n)}",
                "organisation_id": ORGANISATIONS[n % len(ORGANISATIONS)],
                "product_id": PRODUCTS[n % len(PRODUCTS)],
                "title": title,
                "description": f"After the {_words(n, 12, 3)} the customer saw {_words(n, 8, 5)}.",
                "category": "incident",
                "severity": 1 + n % 4,
                "service_mode": "remote",
                "channel": "portal",
                "reporter_kind": "customer",
                "reporter_id": "bench",
                "reporter_name": "bench",
                "state": OPEN[n % len(OPEN)] if is_open else IssueState.CLOSED,
                "tier": 1 + n % 3,
                "owner_id": ENGINEERS[n % len(ENGINEERS)],
                "owner_name": ENGINEERS[n % len(ENGINEERS)],
                "waiting_for": "",
                "created_at": created,
                "updated_at": created + timedelta(hours=1 + n % 30),
                "closed_at": None if is_open else created + timedelta(hours=2 + n % 40),
                "next_deadline": deadline,
                "ola_next_deadline": ola,
                "soonest_deadline": min((d for d in (deadline, ola) if d), default=None),
                "sla_at_risk": at_risk,
                "breached": not is_open and n % 11 == 0,
            }
        )
    return result


async def load(database: Database, count: int) -> None:
    """Replace every issue row with `count` generated ones, indexed as the projection does."""
    generated = rows(count)
    async with database.transaction() as session:
        await session.execute(sa.delete(IssueRow))
        await issue_search.forget_issue_texts(session)
        for start in range(0, count, 2000):
            batch = generated[start : start + 2000]
            await session.execute(sa.insert(IssueRow), batch)
            await issue_search.index_issue_texts(
                session, [(r["id"], r["title"], r["description"]) for r in batch]
            )
    # Settle the load before measuring: planner statistics, and on PostgreSQL the visibility
    # map and hint bits (the first reads of fresh rows would write them); SQLite's WAL folded
    # back into the file.
    async with database.engine.connect() as connection:
        if database.dialect_name == "postgresql":
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("VACUUM ANALYZE issues"))
        else:
            await connection.execute(sa.text("ANALYZE"))
            await connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            await connection.commit()


def requests(database: Database) -> dict[str, Callable[[], Awaitable[object]]]:
    """Each request as the API route calls it, asserting it found what it should."""
    filters = issue_service.IssueFilters
    sort = issue_service.IssueSort

    def listing(
        principal: Principal, what: issue_service.IssueFilters, order: Any, pages: int = 1
    ) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            cursor = None
            async with database.session() as session:
                for _ in range(pages):
                    page = await issue_service.list_issues(
                        session, principal, what, order, cursor, 25
                    )
                    assert page.items, what
                    cursor = page.next_cursor
            return page

        return call

    async def at_risk() -> object:
        async with database.session() as session:
            items = await sla_service.at_risk(
                session, STAFF, timedelta(hours=1), 100, datetime.now(UTC)
            )
        assert items
        return items

    async def customer_at_risk() -> object:
        async with database.session() as session:
            return await sla_service.at_risk(
                session, CUSTOMER, timedelta(hours=6), 100, datetime.now(UTC)
            )

    async def detail() -> object:
        async with database.session() as session:
            return await issue_service.issue_detail(session, STAFF, issue_id(123))

    rare = filters(text=RARE)
    return {
        "list": listing(STAFF, filters(), sort.CREATED_DESC),
        "list_state_sorted": listing(
            STAFF, filters(states=(IssueState.IN_PROGRESS,)), sort.UPDATED_DESC
        ),
        "list_open_by_deadline": listing(STAFF, filters(open_only=True), sort.NEXT_DEADLINE_ASC),
        "customer_list": listing(CUSTOMER, filters(), sort.CREATED_DESC),
        "customer_page_3": listing(CUSTOMER, filters(), sort.CREATED_DESC, pages=3),
        "search_rare_word": listing(STAFF, rare, sort.CREATED_DESC),
        "search_common_word": listing(STAFF, filters(text="firmware"), sort.CREATED_DESC),
        "customer_search": listing(CUSTOMER, filters(text="router"), sort.CREATED_DESC),
        "sla_at_risk_filter": listing(
            STAFF, filters(sla=issue_service.SlaFilter.AT_RISK), sort.CREATED_DESC
        ),
        "sla_at_risk_endpoint": at_risk,
        "customer_sla_at_risk": customer_at_risk,
        "detail": detail,
    }


def requests_names() -> list[str]:
    """The measured requests, in the order they are printed."""
    return list(requests(Database("sqlite+aiosqlite://")))


async def measure(
    database: Database, sizes: list[int], repeat: int, name: str
) -> dict[str, dict[int, float]]:
    """p99 per request per size, printed with the p50 as it goes."""
    p99s: dict[str, dict[int, float]] = {}
    for size in sizes:
        await load(database, size)
        gc.collect()  # the generated rows' garbage, not the requests', would land in a sample
        results = await timed(repeat, requests(database))
        for what, (p50, p99) in results.items():
            p99s.setdefault(what, {})[size] = p99
            print(
                f"read_model_{what}_{size // 1000}k_{name} p50={p50:.2f}ms p99={p99:.2f}ms",
                flush=True,
            )
    return p99s


def ratio_lines(p99s: dict[str, dict[int, float]], name: str) -> list[str]:
    lines = []
    for what, by_size in p99s.items():
        small, large = min(by_size), max(by_size)
        value = by_size[large] / by_size[small]
        verdict = "met" if value <= 1.5 else "missed"
        lines.append(
            f"ratio read_model_{what}_p99_{large // 1000}k_vs_{small // 1000}k_{name} "
            f"{value:.2f} goal <=1.5 {verdict}"
        )
    return lines


async def run(url: str, sizes: list[int], repeat: int, name: str) -> list[str]:
    await upgrade_to_head(url)
    database = Database(url)
    try:
        return ratio_lines(await measure(database, sizes, repeat, name), name)
    finally:
        await database.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = []
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        lines += await run(url, sizes, args.repeat, "sqlite")
    if not args.no_postgres:
        admin = create_async_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        name = f"itr_bench_read_model_{os.getpid()}"
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            lines += await run(f"{POSTGRES_SERVER}/{name}", sizes, args.repeat, "postgresql")
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
