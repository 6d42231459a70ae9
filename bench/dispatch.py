"""How much does choosing an owner cost as the organisation grows? Run on demand:

    .venv/bin/python -m bench.dispatch [--choices 200] [--postgres URL]

One run, one database (a migrated SQLite file in a temporary directory; with --postgres,
also a fresh database on that server), two organisations measured one after the other:

- small: 10 engineers in one tier-1 team, 5 routing rules;
- large: 1,000 engineers in that team, 500 routing rules;

both with 10,000 open issues owned by the team's engineers (spread evenly), an
organisation with a contract, and the matching rule placed last (every rule is tried). Each
choice is the whole activity path: `ReadModelActivities.choose_owner` under an
`ActivityEnvironment` with its own activity id (so it stores its choice: the retry lookup,
the rules, the team's candidates and their load, the strategy, the insert, the commit).
Printed: p50/p99 per organisation and strategy (least loaded, round robin with its cursor),
then `ratio dispatch_1000_vs_10 <worst p50 large / p50 small> goal <=2 <met|missed>` (the
worst over strategies and databases).

What keeps the large organisation cheap: the database ranks the team's engineers in the
strategy's order with their counted load (a correlated count answered by the
`ix_issues_owner_id_state` index: owner, state, paused), so the strategy weighs a slice of
32 instead of a thousand; the parsed rules are cached until a rule changes.
"""

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.testing import ActivityEnvironment

from activities.read_model import ReadModelActivities
from db.migrate import upgrade_to_head
from db.models import (
    EngineerRow,
    IssueRow,
    OwnerChoiceRow,
    RoundRobinCursorRow,
    RoutingRuleRow,
    TeamMemberRow,
    TeamRow,
)
from db.repositories import reference
from db.session import Database
from domain.enums import (
    ActorKind,
    AssignmentStrategy,
    Category,
    Channel,
    ContractLevel,
    IssueState,
    ServiceMode,
    Severity,
    Tier,
)
from domain.models import OwnerQuery

OPEN_ISSUES = 10_000
QUERY = OwnerQuery(
    issue_id="BENCH",
    product_id="edge-router",
    tier=Tier.FRONTLINE,
    organisation_id="acme",
    category=Category.INCIDENT,
    severity=Severity.MAJOR,
    service_mode=ServiceMode.REMOTE,
    channel=Channel.PORTAL,
)
GOAL = 2.0


async def base_world(db: Database) -> None:
    """Organisation, contract, product and the one team every choice routes to."""
    async with db.transaction() as session:
        await reference.create_organisation(session, "acme", "Acme")
        await reference.create_contract(
            session, "ctr", "acme", ContractLevel.PREMIUM, date(2020, 1, 1), date(2099, 1, 1)
        )
        await reference.create_product(session, "edge-router", "Edge Router")
        await reference.create_product(session, "other", "Other")
        await reference.create_team(session, "t1", "Frontline", Tier.FRONTLINE, ["edge-router"])


async def populate(db: Database, engineers: int, rules: int) -> None:
    """Replace engineers, rules and issues: `engineers` in team t1, `rules` rules of which
    only the last matches, 10,000 open issues spread over the engineers."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        for model in (OwnerChoiceRow, RoundRobinCursorRow, IssueRow, RoutingRuleRow):
            await session.execute(sa.delete(model))
        await session.execute(sa.delete(TeamMemberRow))
        await session.execute(sa.delete(EngineerRow))
        ids = [f"e{i:05d}" for i in range(engineers)]
        await session.execute(
            sa.insert(EngineerRow),
            [
                {
                    "id": engineer_id,
                    "name": engineer_id,
                    "email": f"{engineer_id}@bench.example",
                    "tier": Tier.FRONTLINE,
                    "team_id": "t1",
                    "capacity": 100_000,
                    "skills": {"edge-router": 1 + i % 5},
                    "languages": ["en"],
                }
                for i, engineer_id in enumerate(ids)
            ],
        )
        await session.execute(
            sa.insert(TeamMemberRow), [{"team_id": "t1", "engineer_id": e} for e in ids]
        )
        await session.execute(
            sa.insert(RoutingRuleRow),
            [
                {
                    "id": f"r{i:04d}",
                    "name": f"rule {i}",
                    "position": i,
                    "criteria": (
                        {"products": ["edge-router"]}
                        if i == rules - 1
                        else {"products": ["edge-router"], "organisations": [f"org-{i}"]}
                    ),
                    "teams": {"1": "t1"},
                    "updated_at": now,
                }
                for i in range(rules)
            ],
        )
        await session.execute(
            sa.insert(IssueRow),
            [
                {
                    "id": f"I{i:06d}",
                    "workflow_id": f"issue-I{i:06d}",
                    "organisation_id": "acme",
                    "product_id": "edge-router",
                    "title": "Bench issue",
                    "description": "",
                    "category": Category.INCIDENT,
                    "severity": Severity.MAJOR,
                    "service_mode": ServiceMode.REMOTE,
                    "channel": Channel.PORTAL,
                    "reporter_kind": ActorKind.CUSTOMER,
                    "reporter_id": "bench",
                    "reporter_name": "bench",
                    "state": IssueState.IN_PROGRESS,
                    "tier": Tier.FRONTLINE,
                    "owner_id": ids[i % engineers],
                    "team_id": "t1",
                    "created_at": now - timedelta(minutes=i),
                    "updated_at": now,
                }
                for i in range(OPEN_ISSUES)
            ],
        )


async def analyze(db: Database) -> None:
    """Fresh planner statistics after the bulk load, as a live database has them
    (PostgreSQL's autovacuum would get there on its own, later)."""
    if db.dialect_name == "postgresql":
        async with db.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("ANALYZE"))
    else:
        async with db.transaction() as session:
            await session.execute(sa.text("ANALYZE"))


async def set_strategy(db: Database, strategy: AssignmentStrategy) -> None:
    async with db.transaction() as session:
        await session.execute(sa.update(TeamRow).values(strategy=strategy))


async def measure(db: Database, choices: int, warmup: int = 50) -> list[float]:
    """Seconds per owner choice through the activity, each with a new activity identity."""
    activities = ReadModelActivities(db)
    timings: list[float] = []
    for index in range(warmup + choices):
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            env.info,
            workflow_id="issue-BENCH",
            workflow_run_id="run",
            activity_id=f"{uuid.uuid4().hex}-{index}",
        )
        started = time.perf_counter()
        answer = await env.run(activities.choose_owner, QUERY)
        elapsed = time.perf_counter() - started
        if answer.owner is None:
            raise RuntimeError(f"no owner chosen: {answer.why}")
        if index >= warmup:
            timings.append(elapsed)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_on(url: str, label: str, choices: int) -> float:
    """Both organisations on one database; returns the worst p50 ratio large/small over the
    strategies."""
    await upgrade_to_head(url)
    db = Database(url)
    try:
        await base_world(db)
        p50: dict[tuple[str, AssignmentStrategy], float] = {}
        for name, engineers, rules in (("small", 10, 5), ("large", 1_000, 500)):
            await populate(db, engineers, rules)
            await analyze(db)
            for strategy in (AssignmentStrategy.LEAST_LOADED, AssignmentStrategy.ROUND_ROBIN):
                await set_strategy(db, strategy)
                timings = await measure(db, choices)
                ms50, ms99 = percentile(timings, 0.5) * 1e3, percentile(timings, 0.99) * 1e3
                print(
                    f"{label} {name:5} engineers={engineers:<5} rules={rules:<4} "
                    f"open_issues={OPEN_ISSUES} {strategy.value:13} "
                    f"p50 {ms50:6.2f} ms  p99 {ms99:6.2f} ms  (n={len(timings)}, "
                    f"mean {statistics.fmean(timings) * 1e3:.2f} ms)"
                )
                p50[(name, strategy)] = ms50
        return max(
            p50[("large", strategy)] / p50[("small", strategy)]
            for strategy in (AssignmentStrategy.LEAST_LOADED, AssignmentStrategy.ROUND_ROBIN)
        )
    finally:
        await db.dispose()


async def postgres_admin(admin_url: str, statement: str) -> None:
    """Run CREATE/DROP DATABASE on the server (outside a transaction, as they must be)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--choices", type=int, default=200, help="measured choices per case")
    parser.add_argument(
        "--postgres",
        default=None,
        help="also run on a fresh database of this server (postgresql+asyncpg://...)",
    )
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="itr-bench-dispatch-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'dispatch.db'}"
        results["sqlite"] = await run_on(url, "sqlite", args.choices)
    if args.postgres:
        name = f"itr_bench_{uuid.uuid4().hex[:8]}"
        pg_url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        await postgres_admin(args.postgres, f'CREATE DATABASE "{name}"')
        try:
            results["postgresql"] = await run_on(pg_url, "postgresql", args.choices)
        finally:
            await postgres_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for label, ratio in results.items():
        print(f"{label}: p50 large/small {ratio:.2f}")
    worst = max(results.values())
    verdict = "met" if worst <= GOAL else "missed"
    print(f"ratio dispatch_1000_vs_10 {worst:.2f} goal <=2 {verdict}")
    return 0 if verdict == "met" else 1


def run(argv: list[str] | None = None) -> Any:
    return asyncio.run(main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(run())
