"""The R&D tracker rules, pure: what R&D hears of an issue, who takes it after R&D decides,
and why nothing links or retries while a defect is being created."""

import pytest

from domain.enums import DefectOutcome, IssueState, Severity, Tier, Visibility
from domain.lifecycle import CommandRejected, IssueCase
from domain.models import (
    SYSTEM_ACTOR,
    Actor,
    ChangeSeverityCommand,
    CommentCommand,
    DefectChange,
    DefectLink,
    EscalateCommand,
    LinkDefectCommand,
    OwnerChoice,
    RetryTrackerSyncCommand,
)
from tests.domain.test_lifecycle import ALICE, CONFIG, CUSTOMER, ENGINEER, T0, assigned_case

TRACKED = CONFIG.model_copy(update={"tracker_enabled": True})
HEIDI = OwnerChoice(engineer_id="heidi", engineer_name="Heidi", tier=Tier.RND)
FRANK = OwnerChoice(engineer_id="frank", engineer_name="Frank", tier=Tier.EXPERT)
RND_LINK = DefectLink(key="RND-7", url="https://jira.example/browse/RND-7", defect_id="10007")


def at_rnd(*, linked: bool, actor: Actor = SYSTEM_ACTOR) -> IssueCase:
    """Assigned to Alice, escalated to tier 3 (Heidi), linked to RND-7 when `linked`."""
    case = assigned_case(config=TRACKED)
    escalate = EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="firmware bug")
    case.escalate(escalate, T0, HEIDI)
    if linked:
        case.link_defect(RND_LINK, T0, actor)
    return case


def change(outcome: DefectOutcome) -> DefectChange:
    return DefectChange(defect_key="RND-7", outcome=outcome, dedupe_key=f"d:{outcome.value}")


def test_public_comments_reach_rnd_with_customers_anonymised_internal_ones_never() -> None:
    case = at_rnd(linked=True)
    public = case.comment(CommentCommand(actor=CUSTOMER, body="Still dropping"), T0)
    internal = case.comment(
        CommentCommand(actor=ENGINEER, body="Customer is angry", visibility=Visibility.INTERNAL),
        T0,
    )
    told = case.tracker_mirrors(public)
    assert [(m.author, m.body, m.defect_key) for m in told.comments] == [
        ("Customer", "Still dropping", "RND-7")
    ]
    assert told.comments[0].marker.startswith("comment:")
    assert case.tracker_mirrors(internal).comments == ()


def test_a_severity_change_tells_rnd_the_new_impact() -> None:
    case = at_rnd(linked=True)
    raised = case.change_severity(
        ChangeSeverityCommand(actor=ENGINEER, severity=Severity.MAJOR, reason="one site"),
        None,
        T0,
    )
    (told,) = case.tracker_mirrors(raised).comments
    assert told.body == "Customer impact changed: severity 1 -> 2 (one site)."
    assert told.marker.startswith("severity:")


def test_nothing_is_told_without_a_linked_defect_or_a_tracker() -> None:
    case = at_rnd(linked=False)
    said = case.comment(CommentCommand(actor=CUSTOMER, body="Any news?"), T0)
    assert case.tracker_mirrors(said).comments == ()
    untracked = assigned_case()
    said = untracked.comment(CommentCommand(actor=CUSTOMER, body="Any news?"), T0)
    assert untracked.tracker_mirrors(said).comments == ()


def test_another_customer_is_announced_once_for_a_link_by_a_person_never_for_our_own() -> None:
    created = at_rnd(linked=False)
    own = created.link_defect(RND_LINK, T0, SYSTEM_ACTOR)
    assert created.tracker_mirrors(own).impact is None
    linked = at_rnd(linked=False)
    by_engineer = linked.link_defect(RND_LINK, T0, ENGINEER)
    impact = linked.tracker_mirrors(by_engineer).impact
    assert impact is not None
    assert (impact.marker, impact.impact_severity) == ("linked:ITR-1", Severity.CRITICAL)
    assert ENGINEER.name not in impact.body and CUSTOMER.name not in impact.body


@pytest.mark.parametrize(
    ("outcome", "tier"),
    [
        (DefectOutcome.WONT_FIX, Tier.EXPERT),
        (DefectOutcome.FIXED, None),  # back to its tier-1 owner: nobody new
    ],
)
def test_rnds_decision_names_the_tier_that_takes_the_issue(
    outcome: DefectOutcome, tier: Tier | None
) -> None:
    case = at_rnd(linked=True)
    assert case.tier_taking_over(change(outcome)) == tier


def test_a_reopened_defect_goes_back_to_rnd_and_a_stale_change_to_nobody() -> None:
    case = at_rnd(linked=True)
    case.defect_changed(change(DefectOutcome.FIXED), T0, None)
    assert case.status.tier == Tier.FRONTLINE and case.status.owner == ALICE
    assert case.tier_taking_over(change(DefectOutcome.REOPENED)) == Tier.RND
    assert case.tier_taking_over(change(DefectOutcome.WONT_FIX)) is None  # no longer waiting


def test_no_link_and_no_retry_while_a_defect_is_being_created() -> None:
    case = at_rnd(linked=False)
    assert case.needs_defect_creation()
    case.defect_creation_started()
    assert not case.needs_defect_creation()
    with pytest.raises(CommandRejected, match="a defect is being created"):
        case.check_link_defect(LinkDefectCommand(actor=ENGINEER, defect_key="RND-9"))
    with pytest.raises(CommandRejected, match="a defect is being created"):
        case.check_retry_tracker_sync(RetryTrackerSyncCommand(actor=ENGINEER))
    case.defect_creation_ended()
    case.check_link_defect(LinkDefectCommand(actor=ENGINEER, defect_key="RND-9"))
    assert case.status.state == IssueState.ESCALATED


def test_a_pending_creation_carried_into_a_continued_run_still_refuses_a_link() -> None:
    running = at_rnd(linked=False)
    carried = IssueCase(running.status, TRACKED, running.seq, defect_pending=True)
    with pytest.raises(CommandRejected, match="a defect is being created"):
        carried.check_link_defect(LinkDefectCommand(actor=ENGINEER, defect_key="RND-9"))
