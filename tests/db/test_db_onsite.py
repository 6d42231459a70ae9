"""Visits and part requests in the read model (SQLite and PostgreSQL): written forward only,
the field engineers as their tokens name them, and dispatchers as an audience."""

from datetime import UTC, date, datetime, timedelta

from db.repositories import onsite as onsite_repo
from db.repositories import reference
from db.seed import seed_demo_data
from db.session import Database
from domain.enums import ActorKind, Role
from domain.models import Audience
from domain.onsite import PartAction, PartRequest, Visit, VisitState

T0 = datetime(2031, 7, 15, 9, 0, tzinfo=UTC)


def scheduled() -> Visit:
    return Visit.schedule(
        visit_id="visit-ITR-1-1",
        issue_id="ITR-1",
        number=1,
        engineer_id="felix",
        engineer_name="Felix Wagner",
        window_start=T0 + timedelta(days=1),
        window_end=T0 + timedelta(days=1, hours=2),
        reminder_before=timedelta(hours=24),
        now=T0,
    )


async def test_a_visit_row_only_moves_forward_whatever_order_the_writes_arrive_in(
    database: Database,
) -> None:
    visit = scheduled()
    on_site = visit.checked_in(ActorKind.FIELD_ENGINEER, "felix", T0 + timedelta(days=1))
    done = on_site.checked_out(ActorKind.FIELD_ENGINEER, "felix", T0 + timedelta(days=1, hours=1))
    async with database.transaction() as session:
        assert await onsite_repo.record_visit(session, visit, "acme", 1, "Nina")
        assert await onsite_repo.record_visit(session, done, "acme", 3, "Nina")
        assert not await onsite_repo.record_visit(session, on_site, "acme", 2, "Nina")  # late
        assert not await onsite_repo.record_visit(session, done, "acme", 3, "Nina")  # retry
    async with database.session() as session:
        (row,) = await onsite_repo.visits_of(session, "ITR-1")
        assert row.state == VisitState.COMPLETED and row.revision == 3
        assert row.time_on_site_seconds == 3600


async def test_a_part_row_keeps_every_step_it_went_through(database: Database) -> None:
    part = PartRequest.request(
        part_id="part-ITR-1-1",
        issue_id="ITR-1",
        number=1,
        part_number="PSU-500W",
        quantity=1,
        warehouse="wh-berlin",
        actor_name="Alice",
        now=T0,
    )
    picked = part.moved(PartAction.PICK, ActorKind.WAREHOUSE, "Walter", T0 + timedelta(hours=1))
    async with database.transaction() as session:
        await onsite_repo.record_part(session, part, "acme", 1, "Alice")
        await onsite_repo.record_part(session, picked, "acme", 2, "Alice")
    async with database.session() as session:
        row = await onsite_repo.get_part(session, "part-ITR-1-1")
        assert row is not None and [s["state"] for s in row.steps] == ["requested", "picked"]


async def test_field_engineers_are_the_active_holders_of_field_engineer_tokens(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session, today=date(2031, 7, 15))
    async with database.session() as session:
        engineers = await onsite_repo.field_engineers(session)
        assert [e.engineer_id for e in engineers] == ["felix", "fiona"]
        assert await onsite_repo.field_engineer(session, "alice") is None


async def test_dispatchers_are_an_audience_of_their_own(database: Database) -> None:
    async with database.transaction() as session:
        await seed_demo_data(session, today=date(2031, 7, 15))
        await reference.create_token(
            session,
            name="Dispatch desk",
            role=Role.DISPATCHER,
            raw_token="demo-dispatcher-desk",
            contact_name="Dispatch desk",
            contact_email="dispatch@itr.example",
        )
    async with database.session() as session:
        found = await reference.resolve_recipients(session, "ITR-NONE", Audience(dispatchers=True))
        assert [(r.kind, r.name, r.email) for r in found] == [
            ("dispatcher", "Dispatch desk", "dispatch@itr.example")
        ]
