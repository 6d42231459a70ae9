"""The issue projection: idempotent recording, forward-only updates, filters and paging."""

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from db.models import CommentRow, EventRow, IssueRow
from db.repositories import issues as issue_repo
from db.repositories.issues import InvalidCursor, IssueFilters, IssueSort, SlaFilter
from db.session import Database
from domain.enums import (
    ActorKind,
    ContractLevel,
    EventKind,
    IssueState,
    Severity,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.lifecycle import IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CommentCommand,
    CommentRecord,
    Entitlement,
    IssueStatus,
    OwnerChoice,
    RecordBatch,
)
from domain.sla import TierBudget
from domain.sla_tracking import IssueSla, fallback_policy
from tests.db.builders import CUSTOMER, T0, add_issue, batch_of, intake, opened

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")
E1 = OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE)
E2 = OwnerChoice(engineer_id="e2", engineer_name="Name e2", tier=Tier.FRONTLINE)
PREMIUM = Entitlement(
    contract_id="ctr", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)


def _lifecycle(issue_id: str = "ITR-1") -> tuple[IssueCase, list[RecordBatch]]:
    """Register, accept, assign, acknowledge with a message, then an internal comment."""
    issue = intake(issue_id)
    case = opened(issue)
    minute = timedelta(minutes=1)
    batches = [batch_of(case, case.register(T0, CUSTOMER), issue)]
    batches.append(batch_of(case, case.accept(PREMIUM, T0 + minute)))
    batches.append(batch_of(case, case.assign_initial(E1, T0 + 2 * minute)))
    acknowledge = AcknowledgeCommand(actor=ENGINEER, message="Looking at it now")
    batches.append(batch_of(case, case.acknowledge(acknowledge, T0 + 10 * minute)))
    note = CommentCommand(actor=ENGINEER, body="check the firmware", visibility=Visibility.INTERNAL)
    batches.append(batch_of(case, case.comment(note, T0 + 20 * minute)))
    return case, batches


async def _apply(database: Database, batch: RecordBatch) -> None:
    async with database.transaction() as session:
        await issue_repo.apply_record_batch(session, batch, f"issue-{batch.status.issue_id}")


async def _count(database: Database, model: type[object]) -> int:
    async with database.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# --- recording ---------------------------------------------------------------------------------


async def test_insert_issue_if_absent_inserts_once(database: Database) -> None:
    issue = intake("ITR-1")
    status = opened(issue).status
    async with database.transaction() as session:
        assert await issue_repo.insert_issue_if_absent(session, issue, status, "issue-ITR-1")
        assert not await issue_repo.insert_issue_if_absent(session, issue, status, "issue-ITR-1")
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-1")
    assert row is not None
    assert (row.state, row.description, row.reporter_id) == (
        IssueState.NEW,
        issue.description,
        "tok-acme",
    )
    assert row.created_at == T0 and row.created_at.tzinfo is not None


async def test_every_batch_applied_twice_writes_each_record_once(database: Database) -> None:
    case, batches = _lifecycle()
    for batch in batches:
        await _apply(database, batch)
        await _apply(database, batch)  # a retried activity
    assert await _count(database, IssueRow) == 1
    assert await _count(database, EventRow) == sum(len(b.events) for b in batches)
    assert await _count(database, CommentRow) == 2
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-1")
        events = await issue_repo.timeline(session, "ITR-1", include_internal=True)
    assert row is not None
    assert row.state == IssueState.IN_PROGRESS == case.status.state
    assert row.revision == case.status.revision
    assert (row.owner_id, row.owner_name, row.tier1_owner_id) == ("e1", "Name e1", "e1")
    assert (row.contract_level, row.warranty_status) == (
        ContractLevel.PREMIUM,
        WarrantyStatus.IN_WARRANTY,
    )
    assert row.first_response_at == T0 + timedelta(minutes=10)
    assert row.updated_at == T0 + timedelta(minutes=20)
    assert row.waiting_for == case.status.waiting_for
    assert [e.seq for e in events] == sorted({e.seq for b in batches for e in b.events})
    assert events[0].kind == EventKind.CREATED and events[0].actor_id == "tok-acme"


async def test_an_older_batch_never_overwrites_newer_state(database: Database) -> None:
    case, batches = _lifecycle()
    for batch in batches:
        await _apply(database, batch)
    await _apply(database, batches[1])  # a late retry of "accepted"
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-1")
    assert row is not None
    assert (row.state, row.owner_id, row.revision) == (
        IssueState.IN_PROGRESS,
        "e1",
        case.status.revision,
    )


async def test_events_of_a_late_batch_are_still_recorded(database: Database) -> None:
    _, batches = _lifecycle()
    for batch in (batches[0], batches[2], batches[1]):
        await _apply(database, batch)
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-1")
        kinds = [e.kind for e in await issue_repo.timeline(session, "ITR-1")]
    assert row is not None and row.state == IssueState.ASSIGNED
    assert kinds == [EventKind.CREATED, EventKind.ACCEPTED, EventKind.ASSIGNED]


async def test_a_batch_without_intake_rebuilds_a_missing_row(database: Database) -> None:
    _, batches = _lifecycle()
    await _apply(database, batches[2])
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-1")
    assert row is not None and row.state == IssueState.ASSIGNED and row.owner_id == "e1"


async def test_breaches_and_deadlines_are_projected(database: Database) -> None:
    issue = intake("ITR-9", severity=Severity.MAJOR)
    case = opened(issue)
    batches = [batch_of(case, case.register(T0, CUSTOMER), issue)]
    batches.append(batch_of(case, case.accept(PREMIUM, T0)))
    batches.append(batch_of(case, case.assign_initial(E1, T0)))
    batches.append(batch_of(case, case.on_time(T0 + timedelta(hours=3))))
    for batch in batches:
        await _apply(database, batch)
    async with database.session() as session:
        row = await issue_repo.get_issue(session, "ITR-9")
        public = await issue_repo.timeline(session, "ITR-9")
        everything = await issue_repo.timeline(session, "ITR-9", include_internal=True)
    assert row is not None
    assert (row.first_response_breached, row.resolution_breached, row.breached) == (
        True,
        False,
        True,
    )
    assert row.first_response_due == T0 + timedelta(hours=2)
    assert row.resolution_due == row.next_deadline == T0 + timedelta(days=2)
    assert EventKind.SLA_BREACHED not in [e.kind for e in public]
    assert EventKind.SLA_BREACHED in [e.kind for e in everything]


async def test_comments_hide_internal_ones_and_sort_by_time_then_counter(
    database: Database,
) -> None:
    case, batches = _lifecycle()
    for batch in batches:
        await _apply(database, batch)
    at = T0 + timedelta(hours=1)
    for counter in (100, 99):  # the lifecycle's own comments use lower counters
        comment = CommentRecord(
            comment_id=f"ITR-1:c{counter}",
            issue_id="ITR-1",
            at=at,
            author=CUSTOMER,
            body=f"comment {counter}",
            visibility=Visibility.PUBLIC,
        )
        await _apply(database, RecordBatch(status=case.status, comment=comment))
    async with database.session() as session:
        public = await issue_repo.list_comments(session, "ITR-1")
        everything = await issue_repo.list_comments(session, "ITR-1", include_internal=True)
    assert [c.body for c in public] == ["Looking at it now", "comment 99", "comment 100"]
    assert len(everything) == 4 and everything[1].visibility == Visibility.INTERNAL


# --- listing -------------------------------------------------------------------------------------


def _sla(
    due_in_hours: int | None, breached: bool = False, severity: Severity = Severity.MAJOR
) -> IssueSla | None:
    """Clocks started an hour before T0 whose first response is due `due_in_hours` after T0
    (resolution a day later); `breached`: the first response breached at its deadline."""
    if due_in_hours is None:
        return None
    started = T0 - timedelta(hours=1)
    first_response = timedelta(hours=due_in_hours + 1)
    policy = fallback_policy(severity, first_response, first_response + timedelta(days=1))
    sla = IssueSla.begin(policy, started, fallback=True)
    if breached:
        sla, _ = sla.fire_due(T0 + timedelta(hours=due_in_hours))
    return sla


async def _ids(database: Database, filters: IssueFilters) -> set[str]:
    async with database.session() as session:
        rows, cursor = await issue_repo.list_issues(session, filters, limit=100)
        assert await issue_repo.count_issues(session, filters) == len(rows)
    assert cursor is None
    return {row.id for row in rows}


async def test_each_filter_narrows_the_list(database: Database) -> None:
    async with database.transaction() as session:
        await add_issue(session, intake("A", title="Router 100% CPU"), state=IssueState.NEW)
        await add_issue(
            session,
            intake("B", severity=Severity.CRITICAL, organisation_id="globex"),
            state=IssueState.IN_PROGRESS,
            owner=E1,
            sla=_sla(1, breached=True, severity=Severity.CRITICAL),
        )
        await add_issue(
            session,
            intake("C", product_id="storage", title="Disk failure"),
            state=IssueState.ESCALATED,
            tier=Tier.EXPERT,
            owner=E2,
        )
        await add_issue(session, intake("D", severity=Severity.LOW), state=IssueState.CLOSED)
    assert await _ids(database, IssueFilters()) == {"A", "B", "C", "D"}
    new_or_closed = IssueFilters(states=(IssueState.NEW, IssueState.CLOSED))
    assert await _ids(database, new_or_closed) == {"A", "D"}
    critical_or_low = IssueFilters(severities=(Severity.CRITICAL, Severity.LOW))
    assert await _ids(database, critical_or_low) == {"B", "D"}
    assert await _ids(database, IssueFilters(tier=Tier.EXPERT)) == {"C"}
    assert await _ids(database, IssueFilters(organisation_id="globex")) == {"B"}
    assert await _ids(database, IssueFilters(owner_id="e2")) == {"C"}
    assert await _ids(database, IssueFilters(product_id="storage")) == {"C"}
    assert await _ids(database, IssueFilters(breached=True)) == {"B"}
    assert await _ids(database, IssueFilters(breached=False)) == {"A", "C", "D"}
    assert await _ids(database, IssueFilters(text="DISK")) == {"C"}
    assert await _ids(database, IssueFilters(text="100%")) == {"A"}
    assert await _ids(database, IssueFilters(text="0%C")) == set()
    combined = IssueFilters(states=(IssueState.IN_PROGRESS,), organisation_id="acme")
    assert await _ids(database, combined) == set()


async def _many_issues(database: Database, count: int = 23) -> list[IssueStatus]:
    """Issues with ties on every sort key and some without any running deadline."""
    statuses: list[IssueStatus] = []
    async with database.transaction() as session:
        for n in range(count):
            issue = intake(
                f"ITR-{n:03d}",
                severity=Severity(n % 4 + 1),
                created_at=T0 + timedelta(minutes=n // 3),
            )
            due = None if n % 4 == 0 else (n * 7) % 5
            statuses.append(await add_issue(session, issue, sla=_sla(due)))
            await session.execute(
                sa.update(IssueRow)
                .where(IssueRow.id == issue.issue_id)
                .values(updated_at=T0 + timedelta(hours=(n * 5) % 4))
            )
    return statuses


async def _all_pages(
    database: Database, sort: IssueSort, filters: IssueFilters | None = None, limit: int = 4
) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    cursor: str | None = None
    async with database.session() as session:
        while True:
            rows, cursor = await issue_repo.list_issues(
                session, filters or IssueFilters(), sort, cursor, limit
            )
            pages += 1
            ids.extend(row.id for row in rows)
            if cursor is None:
                return ids, pages
            assert len(rows) == limit


def _python_sort_key(sort: IssueSort, row: IssueRow) -> tuple[Any, ...]:
    """The order each sort promises, computed independently of the database."""
    match sort:
        case IssueSort.CREATED_ASC | IssueSort.CREATED_DESC:
            return (row.created_at, row.id)
        case IssueSort.UPDATED_DESC:
            return (row.updated_at, row.id)
        case IssueSort.SEVERITY_ASC:
            return (row.severity, row.created_at, row.id)
        case IssueSort.NEXT_DEADLINE_ASC:
            never = T0 + timedelta(days=9999)
            return (row.next_deadline is None, row.next_deadline or never, row.id)


@pytest.mark.parametrize("sort", list(IssueSort))
async def test_cursor_pagination_visits_every_row_once_in_order(
    database: Database, sort: IssueSort
) -> None:
    statuses = await _many_issues(database)
    async with database.session() as session:
        rows, _ = await issue_repo.list_issues(session, IssueFilters(), sort, None, 100)
    by_id = {row.id: row for row in rows}
    expected = sorted(by_id, key=lambda issue_id: _python_sort_key(sort, by_id[issue_id]))
    if sort in (IssueSort.CREATED_DESC, IssueSort.UPDATED_DESC):
        expected.reverse()
    ids, pages = await _all_pages(database, sort)
    assert ids == expected
    assert len(ids) == len(statuses) and pages == 6
    if sort == IssueSort.NEXT_DEADLINE_ASC:
        assert by_id[ids[-1]].next_deadline is None and by_id[ids[0]].next_deadline is not None


async def test_pagination_respects_filters_and_new_rows_do_not_shift_pages(
    database: Database,
) -> None:
    await _many_issues(database)
    major = IssueFilters(severities=(Severity.MAJOR, Severity.CRITICAL))
    everything, pages = await _all_pages(database, IssueSort.CREATED_ASC, major, limit=3)
    assert pages == 4 and len(everything) == 12
    async with database.session() as session:
        first, cursor = await issue_repo.list_issues(session, major, IssueSort.CREATED_ASC, None, 3)
    async with database.transaction() as session:
        await add_issue(session, intake("ITR-000-early", severity=Severity.CRITICAL))
    async with database.session() as session:
        second, _ = await issue_repo.list_issues(session, major, IssueSort.CREATED_ASC, cursor, 3)
    assert [r.id for r in first + second] == everything[:6]


async def test_foreign_or_damaged_cursors_are_refused(database: Database) -> None:
    await _many_issues(database, count=6)
    async with database.session() as session:
        _, cursor = await issue_repo.list_issues(
            session, IssueFilters(), IssueSort.CREATED_ASC, None, 2
        )
        assert cursor is not None
        with pytest.raises(InvalidCursor):
            await issue_repo.list_issues(session, IssueFilters(), IssueSort.SEVERITY_ASC, cursor)
        for damaged in ("", "not-base64!", cursor[:-3], "e30", "W10"):
            with pytest.raises(InvalidCursor):
                await issue_repo.list_issues(
                    session, IssueFilters(), IssueSort.CREATED_ASC, damaged
                )
        with pytest.raises(ValueError, match="limit"):
            await issue_repo.list_issues(session, IssueFilters(), limit=0)


@pytest.mark.parametrize("depth", [300, 5_000])
async def test_a_deeply_nested_cursor_is_refused_as_damaged(database: Database, depth: int) -> None:
    nested = base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode().rstrip("=")
    async with database.session() as session:
        with pytest.raises(InvalidCursor):
            await issue_repo.list_issues(session, IssueFilters(), IssueSort.CREATED_ASC, nested)


async def test_count_open_by_owner(database: Database) -> None:
    async with database.transaction() as session:
        await add_issue(session, intake("A"), owner=E1, state=IssueState.IN_PROGRESS)
        await add_issue(session, intake("B"), owner=E1, state=IssueState.CANCELLED)
        await add_issue(session, intake("C"), owner=E2, state=IssueState.AWAITING_CONFIRMATION)
        await add_issue(session, intake("D"), state=IssueState.ACCEPTED)
    async with database.session() as session:
        assert await issue_repo.count_open_by_owner(session) == {"e1": 1, "e2": 1}
        assert await issue_repo.count_open_by_owner(session, ["e2", "e9"]) == {"e2": 1}


async def test_the_sla_snapshot_and_its_flags_are_projected(database: Database) -> None:
    running = _sla(10)
    assert running is not None
    warned, _ = running.fire_due(T0 + timedelta(hours=5))  # first response at 50 %
    waiting, _ = running.follow(IssueState.WAITING_CUSTOMER, Tier.FRONTLINE, True, T0)
    async with database.transaction() as session:
        await add_issue(session, intake("RISK"), state=IssueState.IN_PROGRESS, sla=warned)
        await add_issue(session, intake("LATE"), state=IssueState.IN_PROGRESS, sla=_sla(1, True))
        await add_issue(session, intake("WAIT"), state=IssueState.WAITING_CUSTOMER, sla=waiting)
        await add_issue(session, intake("CALM"), state=IssueState.IN_PROGRESS, sla=_sla(10))
        await add_issue(session, intake("NONE"), state=IssueState.NEW)
    async with database.session() as session:
        risk = await issue_repo.get_issue(session, "RISK")
        wait = await issue_repo.get_issue(session, "WAIT")
    assert risk is not None and wait is not None
    assert (risk.sla_at_risk, risk.sla_paused, risk.breached) == (True, False, False)
    assert (wait.sla_at_risk, wait.sla_paused) == (False, True)
    assert IssueSla.model_validate(risk.sla) == warned
    assert await _ids(database, IssueFilters(sla=SlaFilter.AT_RISK)) == {"RISK"}
    assert await _ids(database, IssueFilters(sla=SlaFilter.BREACHED)) == {"LATE"}
    assert await _ids(database, IssueFilters(sla=SlaFilter.PAUSED)) == {"WAIT"}


async def test_breaching_before_lists_open_issues_due_in_the_window_soonest_first(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_issue(session, intake("SOON"), state=IssueState.IN_PROGRESS, sla=_sla(1))
        overdue = intake("OVERDUE", organisation_id="globex")
        await add_issue(session, overdue, state=IssueState.IN_PROGRESS, sla=_sla(0))
        await add_issue(session, intake("LATER"), state=IssueState.IN_PROGRESS, sla=_sla(5))
        await add_issue(session, intake("CLOSED"), state=IssueState.CLOSED, sla=_sla(1))
        await add_issue(session, intake("NONE"), state=IssueState.NEW)
    before = T0 + timedelta(hours=2)
    async with database.session() as session:
        rows = await issue_repo.breaching_before(session, before)
        acme = await issue_repo.breaching_before(session, before, organisation_id="acme")
        first = await issue_repo.breaching_before(session, before, limit=1)
    assert [r.id for r in rows] == ["OVERDUE", "SOON"]
    assert [r.next_deadline for r in rows] == [T0, T0 + timedelta(hours=1)]
    assert [r.id for r in acme] == ["SOON"]
    assert [r.id for r in first] == ["OVERDUE"]


async def test_a_tier_budget_running_out_is_at_risk_for_staff_but_not_for_the_customer(
    database: Database,
) -> None:
    promise = fallback_policy(Severity.MAJOR, timedelta(hours=5), timedelta(hours=10))
    with_budgets = promise.model_copy(
        update={
            "policy": promise.policy.model_copy(
                update={"tier_budgets": {Tier.FRONTLINE: TierBudget(share=0.1)}}
            )
        }
    )
    sla, _ = IssueSla.begin(with_budgets, T0).follow(
        IssueState.IN_PROGRESS, Tier.FRONTLINE, True, T0
    )
    assert sla.next_ola_breach_at == T0 + timedelta(hours=1)
    assert sla.next_breach_at == T0 + timedelta(hours=10)
    async with database.transaction() as session:
        await add_issue(session, intake("OLA"), state=IssueState.IN_PROGRESS, sla=sla)
    before = T0 + timedelta(hours=2)
    async with database.session() as session:
        staff = await issue_repo.breaching_before(session, before, include_ola=True)
        customer = await issue_repo.breaching_before(session, before, organisation_id="acme")
    assert [r.id for r in staff] == ["OLA"]
    assert customer == []


async def test_text_search_matches_words_of_the_title_and_description_on_either_database(
    database: Database,
) -> None:
    """`q=` goes through the full-text index: stemmed English words (a trailing * makes a
    prefix), Chinese by character pairs, every word required; an issue id finds its issue;
    punctuation alone falls back to the title's substring."""
    async with database.transaction() as session:
        await add_issue(session, intake("ITR-R1", title="Routers drop packets after upgrade"))
        await add_issue(session, intake("ITR-F2", title="Firmware 5.2.1 hangs the console"))
        await add_issue(session, intake("ITR-C3", title="路由器升级后丢包"))
        await add_issue(session, intake("ITR-P4", title="Disk at 100% (array b)"))
    assert await _ids(database, IssueFilters(text="router")) == {"ITR-R1"}
    assert await _ids(database, IssueFilters(text="dropping packet")) == {"ITR-R1"}
    assert await _ids(database, IssueFilters(text="firm")) == set()  # whole words...
    assert await _ids(database, IssueFilters(text="firm*")) == {"ITR-F2"}  # ...or a prefix
    assert await _ids(database, IssueFilters(text="upgra* drop")) == {"ITR-R1"}
    assert await _ids(database, IssueFilters(text="5.2.1")) == {"ITR-F2"}
    assert await _ids(database, IssueFilters(text="router firmware")) == set()  # all words
    assert await _ids(database, IssueFilters(text="路由")) == {"ITR-C3"}
    assert await _ids(database, IssueFilters(text="丢包")) == {"ITR-C3"}
    # The description ("Description of <title>") is indexed too.
    assert await _ids(database, IssueFilters(text="description hangs")) == {"ITR-F2"}
    assert await _ids(database, IssueFilters(text="itr-c3")) == {"ITR-C3"}
    assert await _ids(database, IssueFilters(text="%")) == {"ITR-P4"}
    assert await _ids(database, IssueFilters(text="'\"*:&|!")) == set()  # no query syntax
    assert len(await _ids(database, IssueFilters(text="  "))) == 4


async def test_soonest_deadline_is_the_earlier_clock_of_an_open_issue_only(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_issue(session, intake("OPEN"), state=IssueState.IN_PROGRESS, sla=_sla(3))
        await add_issue(session, intake("SHUT"), state=IssueState.CLOSED, sla=_sla(1))
    async with database.session() as session:
        rows = {r.id: r for r in await session.scalars(sa.select(IssueRow))}
    assert rows["OPEN"].soonest_deadline == T0 + timedelta(hours=3)
    assert rows["SHUT"].soonest_deadline is None


async def test_a_common_word_is_tested_row_by_row_with_the_same_answers(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite walks the sort order and tests each row when a word is common (here: always)."""
    from db.repositories import issue_search

    monkeypatch.setattr(issue_search, "FEW_MATCHES", -1)
    async with database.transaction() as session:
        await add_issue(session, intake("ITR-R1", title="Routers drop packets after upgrade"))
        await add_issue(session, intake("ITR-C3", title="路由器升级后丢包"))
        await add_issue(session, intake("ITR-F2", title="Firmware hangs"))
    assert await _ids(database, IssueFilters(text="router packets")) == {"ITR-R1"}
    assert await _ids(database, IssueFilters(text="丢包")) == {"ITR-C3"}
    assert await _ids(database, IssueFilters(text="firmw*")) == {"ITR-F2"}
    assert await _ids(database, IssueFilters(text="ITR-F2")) == {"ITR-F2"}
    async with database.session() as session:
        assert await issue_repo.count_issues(session, IssueFilters(text="description")) == 3
