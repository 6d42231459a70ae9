"""Which issues a tracker event reaches: the defect's recorded id first, the key only for links
recorded without an id; a key that now names another defect reaches nobody."""

from db.repositories import defects
from db.session import Database
from domain.enums import IssueState, Tier
from tests.db.builders import add_issue, intake

WAITING = {"state": IssueState.ESCALATED, "tier": Tier.RND}


async def linked_world(database: Database) -> None:
    """A and D link defect 101 (D after it moved to OPS-1), B links RND-1 before ids were kept,
    C links RND-1 as another defect (999: the key was reused), E is closed."""
    async with database.transaction() as session:
        await add_issue(session, intake("A"), defect_key="RND-1", **WAITING)
        await add_issue(session, intake("B"), defect_key="RND-1", **WAITING)
        await add_issue(session, intake("C"), defect_key="RND-1", **WAITING)
        await add_issue(session, intake("D"), defect_key="OPS-1", **WAITING)
        await add_issue(session, intake("E"), defect_key="RND-1", state=IssueState.CLOSED)
        await add_issue(session, intake("F"), state=IssueState.IN_PROGRESS)
        await defects.record_defect_link(session, "A", "RND-1", "101")
        await defects.record_defect_link(session, "C", "RND-1", "998")
        await defects.record_defect_link(session, "C", "RND-1", "999")  # a retry rewrites
        await defects.record_defect_link(session, "D", "OPS-1", "101")
        await defects.record_defect_link(session, "E", "RND-1", "101")


async def test_an_event_reaches_the_issues_linked_to_its_id_whatever_key_they_hold(
    database: Database,
) -> None:
    await linked_world(database)
    async with database.session() as session:
        moved = await defects.match_defect(session, "101", "OPS-1")
        at_old_key = await defects.match_defect(session, "101", "RND-1")

    assert [(i.issue_id, i.defect_key, i.matched_by) for i in moved.issues] == [
        ("A", "RND-1", "id"),
        ("D", "OPS-1", "id"),
    ]
    assert moved.other_defect == []
    assert [(i.issue_id, i.matched_by) for i in at_old_key.issues] == [
        ("A", "id"),
        ("B", "key"),
        ("D", "id"),
    ]
    assert at_old_key.other_defect == ["C"]


async def test_a_reused_key_reaches_only_links_recorded_without_an_id(database: Database) -> None:
    await linked_world(database)
    async with database.session() as session:
        reused = await defects.match_defect(session, "5000", "RND-1")
        without_id = await defects.match_defect(session, None, "RND-1")
        nobody = await defects.match_defect(session, "5001", "RND-9")

    assert reused.issue_ids == ["B"] and reused.other_defect == ["A", "C"]
    assert without_id.issue_ids == ["B"] and without_id.other_defect == ["A", "C"]
    assert nobody.issue_ids == [] and nobody.other_defect == []


async def test_the_poll_sees_each_waiting_issue_with_its_recorded_defect_id(
    database: Database,
) -> None:
    await linked_world(database)
    async with database.session() as session:
        waiting = await defects.open_linked_issues(session)
        recorded = await defects.defect_id_of(session, "C")
        unrecorded = await defects.defect_id_of(session, "B")
        impact = await defects.count_linked_issues(session, "101", "RND-1")

    assert [(w.issue_id, w.defect_key, w.defect_id) for w in waiting] == [
        ("A", "RND-1", "101"),
        ("B", "RND-1", None),
        ("C", "RND-1", "999"),
        ("D", "OPS-1", "101"),
    ]
    assert (recorded, unrecorded) == ("999", None)
    assert impact == 4, "A, D and closed E by id, B by its key"


def test_a_comment_delivery_is_keyed_by_the_defect_id_when_known() -> None:
    assert defects.comment_delivery_key("101", "OPS-1", "7") == "comment:id:101:7"
    assert defects.comment_delivery_key("101", "RND-1", "7") == "comment:id:101:7"
    assert defects.comment_delivery_key(None, "RND-1", "7") == "comment:RND-1:7"
