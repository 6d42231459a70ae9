"""The statistics projection: maintained with every recorded batch (retries and late batches
included) it equals a full recomputation from the events; the period queries count what the
pure figures count."""

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.repositories import issues as issue_repo
from db.repositories import stats as stats_repo
from db.repositories.stats import StatsFilters
from db.session import Database
from domain.enums import Severity
from domain.models import (
    AcknowledgeCommand,
    ConfirmClosureCommand,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    RecordBatch,
)
from domain.sla_tracking import fallback_policy
from domain.stats import (
    Compliance,
    DrillMetric,
    IssueFacts,
    IssueHeader,
    Period,
    figures,
    issue_facts,
    open_at,
)
from tests.conftest import empty_all_tables
from tests.db.builders import CUSTOMER, T0, batch_of, intake, opened
from tests.db.lifecycles import ENGINEER, PREMIUM, TIER_1, lifecycles

_numbers = itertools.count(1)


def _expected(batches: list[RecordBatch]) -> IssueFacts:
    """Facts computed in memory from every event and the newest status (no database)."""
    intake = batches[0].intake
    assert intake is not None
    newest = max(batches, key=lambda b: b.status.revision).status
    header = IssueHeader(
        issue_id=intake.issue_id,
        organisation_id=intake.organisation_id,
        product_id=intake.product_id,
        category=intake.category,
        severity=newest.severity,
        channel=intake.channel,
        contract_level=PREMIUM.level,
        created_at=intake.created_at,
    )
    events = [event for batch in batches for event in batch.events]
    return issue_facts(header, events, newest.sla)


@st.composite
def deliveries(draw: st.DrawFn) -> list[tuple[list[RecordBatch], list[RecordBatch]]]:
    """A few issues' lifecycles; each issue's batches in order, some of them delivered again
    later (an activity retried after the workflow went on)."""
    runs = []
    for _ in range(draw(st.integers(1, 3))):
        batches = draw(lifecycles(f"P-{next(_numbers)}"))
        plan = list(batches)
        for _ in range(draw(st.integers(0, 3))):
            again = draw(st.sampled_from(batches))
            plan.insert(draw(st.integers(plan.index(again) + 1, len(plan))), again)
        runs.append((batches, plan))
    return runs


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=deliveries())
async def test_facts_maintained_batch_by_batch_equal_a_full_recomputation(
    database: Database, runs: list[tuple[list[RecordBatch], list[RecordBatch]]]
) -> None:
    await empty_all_tables(database)  # the fixture empties once per test, not per example
    for _, plan in runs:
        for batch in plan:
            async with database.transaction() as session:
                await issue_repo.apply_record_batch(
                    session, batch, f"issue-{batch.status.issue_id}"
                )
    ids = sorted(batches[0].status.issue_id for batches, _ in runs)
    expected = sorted((_expected(batches) for batches, _ in runs), key=lambda f: f.issue_id)
    async with database.transaction() as session:
        incremental = await stats_repo.stored_facts(session, ids)
        await stats_repo.recompute_all(session)
        recomputed = await stats_repo.stored_facts(session, ids)
    assert incremental == expected
    assert recomputed == expected
    start = min(f.created_at for f in expected)
    period = Period(start=start, end=start + timedelta(days=30))
    async with database.session() as session:
        stored = await stats_repo.facts_in(
            session, StatsFilters(organisation_ids=("acme",)), period
        )
        backlog = [
            f.created_at for f in await stats_repo.backlog_at(session, StatsFilters(), period.end)
        ]
    open_then = [f.created_at for f in expected if open_at(f, period.end)]
    assert sorted(backlog) == sorted(open_then)
    assert figures(stored, period, backlog) == figures(expected, period, open_then)


async def test_a_drill_down_lists_exactly_the_issues_its_figure_counts(
    database: Database,
) -> None:
    issue = intake("D-1")
    case = opened(issue)
    hour = timedelta(hours=1)
    batches = [batch_of(case, case.register(T0, CUSTOMER), issue)]
    batches.append(batch_of(case, case.accept(PREMIUM, T0)))
    batches.append(batch_of(case, case.assign_initial(TIER_1[0], T0)))
    batches.append(batch_of(case, case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0 + hour)))
    proposal = ProposeResolutionCommand(actor=ENGINEER, summary="fix")
    batches.append(batch_of(case, case.propose_resolution(proposal, T0 + 2 * hour)))
    confirmation = ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=5)
    batches.append(batch_of(case, case.confirm_closure(confirmation, T0 + 3 * hour)))
    async with database.transaction() as session:
        for batch in batches:
            await issue_repo.apply_record_batch(session, batch, "issue-D-1")
    period = Period(start=T0, end=T0 + timedelta(days=60))
    async with database.session() as session:
        result = figures(await stats_repo.facts_in(session, StatsFilters(), period), period)
        assert result.closed == 1 and result.first_contact_resolution == 100.0
        expected = {
            DrillMetric.CLOSED: 1,
            DrillMetric.CREATED: 1,
            DrillMetric.FIRST_CONTACT_RESOLUTION: 1,
            DrillMetric.RATED: 1,
            DrillMetric.REOPENED: 0,
            DrillMetric.BACKLOG: 0,
        }
        for metric, count in expected.items():
            condition = stats_repo.drill_down_condition(metric, period)
            rows, _ = await issue_repo.list_issues(
                session,
                issue_repo.IssueFilters(),
                where=stats_repo.issue_ids_where(StatsFilters(), condition),
            )
            assert len(rows) == count


async def test_a_policy_reapplied_with_a_shorter_target_turns_the_issue_breached(
    database: Database,
) -> None:
    issue = intake("A-1")  # severity 2: resolution within two days (24x7 default)
    case = opened(issue)
    hour = timedelta(hours=1)
    batches = [batch_of(case, case.register(T0, CUSTOMER), issue)]
    batches.append(batch_of(case, case.accept(PREMIUM, T0)))
    batches.append(batch_of(case, case.assign_initial(TIER_1[0], T0)))
    batches.append(batch_of(case, case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)))
    strict = fallback_policy(Severity.MAJOR, timedelta(hours=1), 2 * hour)
    reapply = ReapplySlaCommand(actor=ENGINEER, reason="stricter contract")
    batches.append(batch_of(case, case.reapply_sla(reapply, strict, T0 + 3 * hour)))
    async with database.transaction() as session:
        for batch in batches:
            await issue_repo.apply_record_batch(session, batch, "issue-A-1")
        (before,) = await stats_repo.stored_facts(session, ["A-1"])
    assert before.resolution_sla == Compliance.OPEN  # re-applied, the breach not yet fired
    due = case.on_time(T0 + 3 * hour)  # the workflow's next check fires it
    async with database.transaction() as session:
        await issue_repo.apply_record_batch(session, batch_of(case, due), "issue-A-1")
        (after,) = await stats_repo.stored_facts(session, ["A-1"])
    assert after.resolution_sla == Compliance.BREACHED
    assert after.first_response_sla == Compliance.MET
