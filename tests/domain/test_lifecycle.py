"""The issue state machine, pure: exact SLA instants, once-only breaches, refusals with reasons."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.enums import (
    OPEN_STATES,
    ActorKind,
    Category,
    ClosureOutcome,
    ContractLevel,
    EventKind,
    IssueState,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.lifecycle import CommandRejected, IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    CancelCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    Entitlement,
    EscalateCommand,
    IssueIntake,
    LifecycleConfig,
    OwnerChoice,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
    SlaTargets,
)
from domain.sla import ResolvedPolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENGINEER = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok", name="Ann")
ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE)
CAROL = OwnerChoice(engineer_id="carol", engineer_name="Carol", tier=Tier.FRONTLINE)
BOB = OwnerChoice(engineer_id="bob", engineer_name="Bob", tier=Tier.EXPERT)
CONFIG = LifecycleConfig(
    sla_targets={
        Severity.CRITICAL: SlaTargets(
            first_response=timedelta(hours=1), resolution=timedelta(days=1)
        ),
        Severity.MAJOR: SlaTargets(first_response=timedelta(hours=2), resolution=timedelta(days=2)),
        Severity.MINOR: SlaTargets(first_response=timedelta(hours=4), resolution=timedelta(days=3)),
        Severity.LOW: SlaTargets(first_response=timedelta(hours=8), resolution=timedelta(days=5)),
    }
)


def reported_case(
    severity: Severity = Severity.CRITICAL, *, at: datetime = T0, config: LifecycleConfig = CONFIG
) -> IssueCase:
    """An issue reported and registered `at` (state NEW)."""
    case = IssueCase.open(
        IssueIntake(
            issue_id="ITR-1",
            organisation_id="acme",
            product_id="router",
            title="Down",
            description="All down",
            category=Category.INCIDENT,
            severity=severity,
            reporter=CUSTOMER,
            created_at=at,
        ),
        config,
    )
    case.register(at, CUSTOMER)
    return case


def accepted_case(
    severity: Severity = Severity.CRITICAL,
    *,
    at: datetime = T0,
    policy: ResolvedPolicy | None = None,
    config: LifecycleConfig = CONFIG,
) -> IssueCase:
    """An issue reported `at` and accepted at that instant (promised `policy`, or the
    config's default targets)."""
    case = reported_case(severity, at=at, config=config)
    case.accept(
        Entitlement(
            contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
        ),
        at,
        policy,
    )
    return case


def assigned_case(
    severity: Severity = Severity.CRITICAL,
    *,
    at: datetime = T0,
    policy: ResolvedPolicy | None = None,
    config: LifecycleConfig = CONFIG,
) -> IssueCase:
    """An issue reported `at`, accepted (promised `policy`, or the config's default targets)
    and assigned to Alice at that same instant."""
    case = accepted_case(severity, at=at, policy=policy, config=config)
    case.assign_initial(ALICE, at)
    return case


def deadline(case: IssueCase, kind: SlaClockKind) -> datetime | None:
    sla = case.status.sla
    assert sla is not None
    clock = sla.clock(kind)
    assert clock is not None
    return clock.deadline(sla.calendar)


def test_deadlines_follow_the_severity_targets_to_the_second() -> None:
    case = assigned_case(Severity.MAJOR)
    assert deadline(case, SlaClockKind.FIRST_RESPONSE) == T0 + timedelta(hours=2)
    assert deadline(case, SlaClockKind.RESOLUTION) == T0 + timedelta(days=2)
    assert case.next_wakeup() == T0 + timedelta(hours=1)  # the first warning, at 50 %


def test_breach_fires_exactly_at_the_deadline_and_only_once() -> None:
    case = assigned_case()
    due = T0 + timedelta(hours=1)
    warnings = case.on_time(due - timedelta(microseconds=1))
    assert [e.data["percent"] for e in warnings.events] == [50, 75, 90]
    assert case.next_wakeup() == due
    effects = case.on_time(due)
    assert [e.kind for e in effects.events] == [EventKind.SLA_BREACHED]
    assert [n.kind for n in effects.notifications] == ["sla_breached"]
    assert effects.notifications[0].audience.owner_manager
    assert not case.on_time(due + timedelta(minutes=5)).events
    assert case.next_wakeup() == T0 + timedelta(hours=12)  # resolution's first warning


def test_acknowledging_meets_the_first_response_clock() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0 + timedelta(minutes=10))
    clock = case.status.clock(SlaClockKind.FIRST_RESPONSE)
    assert clock is not None and clock.stopped_at == T0 + timedelta(minutes=10)
    assert not case.on_time(T0 + timedelta(hours=2)).events


def test_a_public_engineer_comment_counts_as_first_response_but_an_internal_one_does_not() -> None:
    case = assigned_case()
    case.comment(CommentCommand(actor=ENGINEER, body="note", visibility=Visibility.INTERNAL), T0)
    assert case.status.first_response_at is None
    case.comment(CommentCommand(actor=ENGINEER, body="Looking"), T0 + timedelta(minutes=1))
    assert case.status.first_response_at == T0 + timedelta(minutes=1)


def test_commands_the_state_forbids_are_refused_with_a_reason() -> None:
    case = assigned_case()
    with pytest.raises(CommandRejected, match="state 'assigned'"):
        case.check_confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True))
    with pytest.raises(CommandRejected, match="higher tier"):
        case.check_escalate(EscalateCommand(actor=ENGINEER, to_tier=Tier.FRONTLINE, reason="x"))
    with pytest.raises(CommandRejected, match="already owns"):
        case.check_assign(AssignCommand(actor=ENGINEER, engineer=ALICE))
    with pytest.raises(CommandRejected, match="tier 2"):
        case.check_assign(AssignCommand(actor=ENGINEER, engineer=BOB))
    with pytest.raises(CommandRejected, match="internal"):
        case.check_comment(CommentCommand(actor=CUSTOMER, body="x", visibility=Visibility.INTERNAL))


def test_full_path_with_rejection_keeps_the_owner_and_resumes_the_resolution_clock() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    case.assign(AssignCommand(actor=ENGINEER, engineer=CAROL), T0)
    case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), T0)
    assert case.status.clock(SlaClockKind.RESOLUTION).stopped_at == T0  # type: ignore[union-attr]
    with pytest.raises(CommandRejected, match="comment"):
        case.check_confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=False))
    case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="no"), T0)
    assert case.status.state == IssueState.IN_PROGRESS
    assert case.status.owner == CAROL
    assert case.status.clock(SlaClockKind.RESOLUTION).running  # type: ignore[union-attr]
    case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix 2"), T0)
    effects = case.confirm_closure(
        ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=5), T0
    )
    assert case.status.state == IssueState.CLOSED
    assert case.status.closure_outcome == ClosureOutcome.ACCEPTED
    assert case.status.reopen_until == T0 + CONFIG.reopen_window
    assert effects.events[-1].kind == EventKind.CLOSED


def test_silence_reminds_once_then_auto_closes_at_the_configured_instants() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), T0)
    reminder_at = T0 + CONFIG.confirmation_reminder_after
    assert case.next_wakeup() == reminder_at
    assert [e.kind for e in case.on_time(reminder_at).events] == [EventKind.CONFIRMATION_REMINDER]
    assert not case.on_time(reminder_at + timedelta(hours=1)).events
    close_at = T0 + CONFIG.auto_close_after
    assert case.next_wakeup() == close_at
    case.on_time(close_at)
    assert case.status.closure_outcome == ClosureOutcome.AUTO_CLOSED


def test_reopen_is_allowed_until_the_window_ends_and_refused_after() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), T0)
    case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), T0)
    until = T0 + CONFIG.reopen_window
    case.check_reopen(ReopenCommand(actor=CUSTOMER, reason="back"), until)
    with pytest.raises(CommandRejected, match="window ended"):
        case.check_reopen(
            ReopenCommand(actor=CUSTOMER, reason="back"), until + timedelta(seconds=1)
        )
    case.reopen(ReopenCommand(actor=CUSTOMER, reason="back"), until)
    assert case.status.state == IssueState.IN_PROGRESS
    assert deadline(case, SlaClockKind.RESOLUTION) == until + timedelta(days=1)
    assert case.status.clock(SlaClockKind.RESOLUTION).cycle == 2  # type: ignore[union-attr]


def test_archiving_after_the_reopen_window_finishes_the_case() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), T0)
    case.confirm_closure(ConfirmClosureCommand(actor=CUSTOMER, accept=True), T0)
    assert not case.finished
    case.on_time(T0 + CONFIG.reopen_window)
    assert case.finished
    assert case.next_wakeup() is None


def test_waiting_for_the_customer_returns_to_the_previous_state() -> None:
    case = assigned_case()
    case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    case.escalate(EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="hard"), T0, BOB)
    case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), T0)
    assert case.status.state == IssueState.WAITING_CUSTOMER
    assert case.status.waiting_for == "the customer's reply"
    case.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="here"), T0)
    assert case.status.state == IssueState.ESCALATED
    assert case.status.tier1_owner == ALICE and case.status.owner == BOB


def case_in(state: IssueState) -> IssueCase:
    """A case brought to `state` by the steps and commands that lead there."""
    if state == IssueState.NEW:
        return reported_case()
    if state == IssueState.ACCEPTED:
        return accepted_case()
    case = assigned_case()
    if state not in (IssueState.ASSIGNED, IssueState.ESCALATED):
        case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0)
    if state == IssueState.ESCALATED:
        case.escalate(EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="x"), T0, BOB)
    if state == IssueState.WAITING_CUSTOMER:
        case.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), T0)
    if state in (IssueState.RESOLVED, IssueState.AWAITING_CONFIRMATION):
        case.propose_resolution(ProposeResolutionCommand(actor=ENGINEER, summary="fix"), T0)
    if state == IssueState.RESOLVED:
        # RESOLVED passes within the proposal (straight on to AWAITING_CONFIRMATION); a case
        # is restored in it only from a status, as the workflow would after continue-as-new.
        case = IssueCase(case.status.model_copy(update={"state": state}), CONFIG, case.seq)
    assert case.status.state == state
    return case


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_cancel_is_allowed_from_every_open_state_and_never_after(state: IssueState) -> None:
    case = case_in(state)
    case.cancel(CancelCommand(actor=CUSTOMER, reason="gone"), T0)
    assert case.finished
    assert case.status.state == IssueState.CANCELLED
    with pytest.raises(CommandRejected):
        case.check_cancel(CancelCommand(actor=CUSTOMER, reason="again"))


def test_record_ids_are_deterministic_and_revision_tracks_the_last_one() -> None:
    a, b = assigned_case(), assigned_case()
    assert a.status == b.status
    effects = a.comment(CommentCommand(actor=CUSTOMER, body="hi"), T0)
    assert effects.comment is not None and effects.comment.comment_id.startswith("ITR-1:c")
    assert a.status.revision == a.seq
