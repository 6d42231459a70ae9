"""Random valid lifecycles: the pure IssueCase driven through random command sequences, each
step recorded as the batch the workflow would write (for the statistics property tests)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import strategies as st

from domain.enums import ActorKind, ContractLevel, Severity, Tier, Visibility, WarrantyStatus
from domain.lifecycle import CommandRejected, Effects, IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    CancelCommand,
    ChangeSeverityCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    Entitlement,
    EscalateCommand,
    OwnerChoice,
    ProposeResolutionCommand,
    RecordBatch,
    ReopenCommand,
    RequestInfoCommand,
)
from tests.db.builders import CUSTOMER, batch_of, intake, opened

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")
TIER_1 = (
    OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE),
    OwnerChoice(engineer_id="e2", engineer_name="Name e2", tier=Tier.FRONTLINE),
)
EXPERT = OwnerChoice(engineer_id="x1", engineer_name="Name x1", tier=Tier.EXPERT)
RND = OwnerChoice(engineer_id="r1", engineer_name="Name r1", tier=Tier.RND)
PREMIUM = Entitlement(
    contract_id="ctr", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)

Step = Callable[[IssueCase, int, datetime], Effects]


def _escalate(case: IssueCase, n: int, t: datetime) -> Effects:
    if case.status.tier == Tier.RND:
        raise CommandRejected("already with R&D")
    to = Tier(int(case.status.tier) + 1)
    owner = (EXPERT if to == Tier.EXPERT else RND) if n % 3 else None
    return case.escalate(EscalateCommand(actor=ENGINEER, to_tier=to, reason="deeper"), t, owner)


def _assign(case: IssueCase, n: int, t: datetime) -> Effects:
    if case.status.tier != Tier.FRONTLINE:
        raise CommandRejected("only tier-1 reassignments in these lifecycles")
    current = case.status.owner.engineer_id if case.status.owner else None
    other = next(o for o in TIER_1 if o.engineer_id != current)
    return case.assign(AssignCommand(actor=ENGINEER, engineer=other), t)


STEPS: tuple[Step, ...] = (
    lambda c, n, t: c.acknowledge(AcknowledgeCommand(actor=ENGINEER, message="on it"), t),
    lambda c, n, t: c.comment(
        CommentCommand(
            actor=ENGINEER, body="note", visibility=Visibility(("public", "internal")[n % 2])
        ),
        t,
    ),
    lambda c, n, t: c.comment(CommentCommand(actor=CUSTOMER, body="any news?"), t),
    _assign,
    _escalate,
    lambda c, n, t: c.request_info(RequestInfoCommand(actor=ENGINEER, question="logs?"), t),
    lambda c, n, t: c.customer_reply(CustomerReplyCommand(actor=CUSTOMER, body="here"), t),
    lambda c, n, t: c.propose_resolution(
        ProposeResolutionCommand(actor=ENGINEER, summary="fix"), t
    ),
    lambda c, n, t: c.confirm_closure(
        ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=(n % 6) or None), t
    ),
    lambda c, n, t: c.confirm_closure(
        ConfirmClosureCommand(actor=CUSTOMER, accept=False, comment="still broken"), t
    ),
    lambda c, n, t: c.reopen(ReopenCommand(actor=CUSTOMER, reason="back"), t),
    lambda c, n, t: c.cancel(CancelCommand(actor=CUSTOMER, reason="gone"), t),
    lambda c, n, t: c.change_severity(
        ChangeSeverityCommand(actor=ENGINEER, severity=Severity(n % 4 + 1), reason="impact"),
        None,
        t,
    ),
    lambda c, n, t: c.on_time(t),
)


# Cancelling ends a lifecycle: drawn a quarter as often as the other steps.
_CANCEL = 11
_WEIGHTED = tuple(i for i in range(len(STEPS)) for _ in range(1 if i == _CANCEL else 4))


@st.composite
def lifecycles(draw: st.DrawFn, issue_id: str) -> list[RecordBatch]:
    """The batches of one random lifecycle, in the order the workflow recorded them.

    Every step happens a random number of minutes after the previous one, so SLA timers
    fire (each step first runs what is due, as the workflow does) and durations vary."""
    issue = intake(issue_id, severity=Severity(draw(st.integers(1, 4))))
    case = opened(issue)
    now = issue.created_at
    batches = [batch_of(case, case.register(now, CUSTOMER), issue)]
    batches.append(batch_of(case, case.accept(PREMIUM, now)))
    batches.append(batch_of(case, case.assign_initial(TIER_1[0], now)))
    for _ in range(draw(st.integers(0, 20))):
        now += timedelta(minutes=draw(st.integers(0, 600)))
        choice, n = draw(st.sampled_from(_WEIGHTED)), draw(st.integers(0, 11))
        effects = case.on_time(now)
        if effects:
            batches.append(batch_of(case, effects))
        try:
            effects = STEPS[choice](case, n, now)
        except CommandRejected:
            continue
        if effects:
            batches.append(batch_of(case, effects))
    if draw(st.booleans()):
        # Most real issues end closed: answer, propose, and have the proposal accepted.
        for finishing in (0, 7, 8):
            now += timedelta(minutes=draw(st.integers(0, 600)))
            try:
                effects = STEPS[finishing](case, draw(st.integers(0, 11)), now)
            except CommandRejected:
                continue
            batches.append(batch_of(case, effects))
    return batches
