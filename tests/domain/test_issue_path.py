"""The path an issue took, read from a timeline the real state machine wrote."""

import itertools

from domain.enums import IssueState, SlaClockKind, Tier
from domain.issue_path import issue_path, public_path
from domain.lifecycle_graph import Lane
from tests.domain.test_lifecycle import T0, reported_case
from tests.support.journeys import long_journey

S = IssueState


def test_the_path_lists_every_stage_in_order_with_repeated_visits_numbered() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    assert [(v.state, v.lane, v.visit) for v in visits] == [
        (S.NEW, Lane.TIER_1, 1),
        (S.ACCEPTED, Lane.TIER_1, 1),
        (S.ASSIGNED, Lane.TIER_1, 1),
        (S.IN_PROGRESS, Lane.TIER_1, 1),
        (S.WAITING_CUSTOMER, Lane.CUSTOMER, 1),
        (S.IN_PROGRESS, Lane.TIER_1, 2),
        (S.ESCALATED, Lane.TIER_2, 1),
        (S.WAITING_CUSTOMER, Lane.CUSTOMER, 2),
        (S.ESCALATED, Lane.TIER_2, 2),
        (S.ESCALATED, Lane.TIER_3, 1),
        (S.ESCALATED, Lane.TIER_2, 3),
    ]
    assert [v.current for v in visits] == [False] * 10 + [True]
    assert all(a.left_at == b.entered_at for a, b in itertools.pairwise(visits))


def test_each_visit_names_its_owner_and_where_it_waited() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    assert [v.owner_id for v in visits[2:7]] == ["alice"] * 4 + ["frank"]
    assert visits[9].owner_id == "rita" and visits[9].tier == Tier.RND
    assert visits[9].waiting_for == "rnd"
    assert visits[4].waiting_for == "customer" and visits[3].waiting_for is None


def test_sla_marks_land_on_the_visit_during_which_they_fired() -> None:
    visits = issue_path(long_journey(reported_case(), T0).events)
    marks = [(i, m.clock, m.breached) for i, v in enumerate(visits) for m in v.marks]
    assert marks, "the journey runs long enough for warnings"
    assert any(clock == SlaClockKind.RESOLUTION and breached for _, clock, breached in marks)
    first_response_marks = [i for i, clock, _ in marks if clock == SlaClockKind.FIRST_RESPONSE]
    assert all(i <= 3 for i in first_response_marks)  # answered in the first in-progress


def test_the_customer_path_merges_the_tiers_and_shows_no_owner_or_internal_clock() -> None:
    visits = public_path(issue_path(long_journey(reported_case(), T0).events))
    assert {v.lane for v in visits} == {Lane.SUPPORT, Lane.CUSTOMER}
    assert [v.state for v in visits][-3:] == [S.ESCALATED, S.WAITING_CUSTOMER, S.ESCALATED]
    assert all(v.owner_id is None for v in visits)
    assert all(
        m.clock in (SlaClockKind.FIRST_RESPONSE, SlaClockKind.RESOLUTION)
        for v in visits
        for m in v.marks
    )
    assert all(m.breached for v in visits for m in v.marks)
    assert visits[-1].current and visits[-1].visit == 2
